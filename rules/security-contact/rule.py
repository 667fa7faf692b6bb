"""mamori-security-contact: the account must have a SECURITY alternate contact (optionally: the
expected one).

In the open-proxy incident AWS Trust & Safety sent its abuse reports to the root user's email
address, because the account had no SECURITY alternate contact; nobody read them, and after
four days AWS blocked EC2 in the region. One live call decides
(account:GetAlternateContact, SECURITY, own account). Evaluates the account
(AWS::::Account, resource id = account id).
"""

from typing import Any

from rdklib import ComplianceType, ConfigRule, Evaluation, Evaluator

from mamori import config_rule
from mamori.security_contact import parse_expected_email, read_security_contact, security_contact_finding

RESOURCE_TYPE = "AWS::::Account"


class SecurityContactRule(ConfigRule):  # type: ignore[misc]
    # The only resource is the account, evaluated again each time: nothing old to clean up.
    delete_old_evaluations_on_scheduled_notification = False

    def evaluate_parameters(self, rule_parameters: dict[str, Any]) -> dict[str, Any]:
        config_rule.check_parameter_names(rule_parameters, {"ExpectedSecurityEmail"})
        return {
            "ExpectedSecurityEmail": config_rule.parse_parameter(
                rule_parameters, "ExpectedSecurityEmail", "", parse_expected_email
            )
        }

    def evaluate_periodic(self, event: dict[str, Any], client_factory: Any, valid_rule_parameters: dict[str, Any]) -> list[Any]:
        # Account Management is global: boto3 picks its one endpoint whatever the region.
        contact = read_security_contact(client_factory.build_client("account"))
        finding = security_contact_finding(contact, valid_rule_parameters["ExpectedSecurityEmail"])
        compliance = ComplianceType.COMPLIANT if finding.compliant else ComplianceType.NON_COMPLIANT
        return [Evaluation(compliance, config_rule.account_id(event), RESOURCE_TYPE, annotation=finding.annotation)]


def lambda_handler(event: Any, context: Any) -> Any:
    return config_rule.handle(Evaluator(SecurityContactRule(), [RESOURCE_TYPE]), event, context)
