"""mamori-guardduty-enabled: GuardDuty must be on in every enabled region.

The forgotten-root-key attackers mined crypto in nine regions nobody watched. GuardDuty
would have reported the mining (CryptoCurrency findings), but only where it is on, and an
unused region is exactly where it matters. So the rule asks every enabled region at once
(ec2:DescribeRegions, then per region ListDetectors and GetDetector: mamori/guardduty.py)
and evaluates the account (AWS::::Account, resource id = account id): NON_COMPLIANT when
any region it may look at has no detector or a suspended one. Regions that refuse to be
looked at (an SCP, not opted in) are named in the annotation and decide nothing; any other
failure is an error response and no evaluation.
"""

from typing import Any

from rdklib import ComplianceType, ConfigRule, Evaluation, Evaluator

from mamori import config_rule
from mamori.guardduty import guardduty_annotation, guardduty_scan
from mamori.regions import enabled_regions

RESOURCE_TYPE = "AWS::::Account"


class GuardDutyEnabled(ConfigRule):  # type: ignore[misc]
    # The only resource is the account, evaluated again each time: nothing old to clean up.
    delete_old_evaluations_on_scheduled_notification = False

    def evaluate_parameters(self, rule_parameters: dict[str, Any]) -> dict[str, Any]:
        config_rule.check_parameter_names(rule_parameters, set())
        return {}

    def evaluate_periodic(self, event: dict[str, Any], client_factory: Any, valid_rule_parameters: dict[str, Any]) -> list[Any]:
        ec2 = client_factory.build_client("ec2")
        # GuardDutyUnknown (a ValueError) becomes rdklib's error response: nothing is put.
        scan = guardduty_scan(enabled_regions(ec2), home_region=ec2.meta.region_name)
        compliant, annotation = guardduty_annotation(scan)
        compliance = ComplianceType.COMPLIANT if compliant else ComplianceType.NON_COMPLIANT
        return [Evaluation(compliance, config_rule.account_id(event), RESOURCE_TYPE, annotation=annotation)]


def lambda_handler(event: Any, context: Any) -> Any:
    return config_rule.handle(Evaluator(GuardDutyEnabled(), [RESOURCE_TYPE]), event, context)
