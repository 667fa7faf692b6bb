"""mamori-root-access-key: the root user must have no access key, active or not.

The forgotten-root-key incident: a root access key created years earlier leaked; there was
no MFA (and a key bypasses MFA anyway); attackers mined crypto in nine regions within days.
One live call decides (iam:GetAccountSummary, AccountAccessKeysPresent); only when root has
a key does the rule read the IAM credential report, to say when each key was created and
last used, and where. Evaluates the account (AWS::::Account, resource id = account id).
"""

from typing import Any

from rdklib import ComplianceType, ConfigRule, Evaluation, Evaluator

from mamori import config_rule
from mamori.automation import utc_now
from mamori.credential_report import CredentialReportUnavailable
from mamori.root_credentials import (
    KEY_SUMMARY_KEYS,
    RootStateUnknown,
    reported_root_keys,
    root_access_key_finding,
    root_report_row,
    root_summary,
)

RESOURCE_TYPE = "AWS::::Account"
# Within the Lambda's 180 s timeout, with room for the calls around it.
REPORT_WAIT_SECONDS = 120.0


class RootAccessKey(ConfigRule):  # type: ignore[misc]
    # The only resource is the account, evaluated again each time: nothing old to clean up.
    delete_old_evaluations_on_scheduled_notification = False

    def evaluate_parameters(self, rule_parameters: dict[str, Any]) -> dict[str, Any]:
        config_rule.check_parameter_names(rule_parameters, set())
        return {}

    def evaluate_periodic(self, event: dict[str, Any], client_factory: Any, valid_rule_parameters: dict[str, Any]) -> list[Any]:
        iam = client_factory.build_client("iam")
        summary = root_summary(iam, KEY_SUMMARY_KEYS)
        keys: tuple[Any, ...] = ()
        if summary.access_keys:
            try:
                keys = reported_root_keys(root_report_row(iam, REPORT_WAIT_SECONDS))
            except CredentialReportUnavailable as error:
                raise RootStateUnknown(str(error)) from None
        finding = root_access_key_finding(summary, keys, utc_now())
        compliance = getattr(ComplianceType, finding.compliance)
        return [Evaluation(compliance, config_rule.account_id(event), RESOURCE_TYPE, annotation=finding.annotation)]


def lambda_handler(event: Any, context: Any) -> Any:
    return config_rule.handle(Evaluator(RootAccessKey(), [RESOURCE_TYPE]), event, context)
