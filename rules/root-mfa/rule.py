"""mamori-root-mfa: a root user that can sign in must have MFA (optionally: hardware MFA).

The forgotten-root-key incident had no MFA on root. One live call decides
(iam:GetAccountSummary: AccountPasswordPresent, AccountAccessKeysPresent, AccountMFAEnabled;
the credential report's root row cannot say whether root has a password). Root without
password and keys (centralized root access removed them) is NOT_APPLICABLE, not a false
alarm (Prowler #5804). With RequireHardwareMfa=true the rule also lists the virtual MFA
devices assigned to root. Evaluates the account (AWS::::Account, resource id = account id).
"""

from typing import Any

from rdklib import ComplianceType, ConfigRule, Evaluation, Evaluator

from mamori import config_rule
from mamori.root_credentials import parse_require_hardware_mfa, root_mfa_finding, root_summary, root_virtual_mfa_devices

RESOURCE_TYPE = "AWS::::Account"


class RootMfa(ConfigRule):  # type: ignore[misc]
    # The only resource is the account, evaluated again each time: nothing old to clean up.
    delete_old_evaluations_on_scheduled_notification = False

    def evaluate_parameters(self, rule_parameters: dict[str, Any]) -> dict[str, Any]:
        config_rule.check_parameter_names(rule_parameters, {"RequireHardwareMfa"})
        return {
            "RequireHardwareMfa": config_rule.parse_parameter(
                rule_parameters, "RequireHardwareMfa", "false", parse_require_hardware_mfa
            )
        }

    def evaluate_periodic(self, event: dict[str, Any], client_factory: Any, valid_rule_parameters: dict[str, Any]) -> list[Any]:
        iam = client_factory.build_client("iam")
        summary = root_summary(iam)
        require_hardware = valid_rule_parameters["RequireHardwareMfa"]
        devices = root_virtual_mfa_devices(iam) if require_hardware and summary.has_credentials and summary.mfa else ()
        finding = root_mfa_finding(summary, require_hardware, devices)
        compliance = getattr(ComplianceType, finding.compliance)
        return [Evaluation(compliance, config_rule.account_id(event), RESOURCE_TYPE, annotation=finding.annotation)]


def lambda_handler(event: Any, context: Any) -> Any:
    return config_rule.handle(Evaluator(RootMfa(), [RESOURCE_TYPE]), event, context)
