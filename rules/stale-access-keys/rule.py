"""mamori-stale-access-keys: an IAM user's active access keys must be in use.

The forgotten-root-key incident: a key created years earlier and long forgotten leaked and
paid for crypto mining in nine regions. A key nobody uses is all risk and no benefit; this
rule flags every active key unused for MaxUnusedDays days or more (a key never used counts
from its creation), and, when MaxKeyAgeDays is set, every key that old.

Reads the IAM credential report (generate, get) and GetAccountAuthorizationDetails for users,
one call per 1,000 users: it maps the report's ARNs to the user ids Config records and
carries each user's tags (the mamori:exempt exemption). No call per user, however many are
flagged: at most 8 IAM calls at IAM's quota of 5,000 users. The report has no key ids, so a
key is named by its slot in the report (key 1, key 2) and its creation date; the remediation
looks the keys up live, by the same decision, before it changes anything. A key deactivated
since the report was made (IAM keeps a report four hours) reads stale until the next run; its
remediation finds nothing to do.
"""

import datetime
import time
from typing import Any

from rdklib import ComplianceType, ConfigRule, Evaluation, Evaluator

from mamori import config_rule
from mamori.access_keys import (
    DEFAULT_MAX_UNUSED_DAYS,
    find_stale_keys,
    keys_from_report,
    parse_max_key_age_days,
    parse_max_unused_days,
    stale_annotation,
)
from mamori.credential_report import (
    CredentialReportUnavailable,
    CredentialRow,
    fetch_credential_report,
    parse_credential_report,
)
from mamori.iam_users import USER_RESOURCE_TYPE, list_user_details, report_users

# Leaves the Lambda (timeout 300 s) time to evaluate after a slow report.
REPORT_WAIT_SECONDS = 200.0


NO_ACTIVE_KEY = "No active access keys."


def no_active_key(row: CredentialRow, user_id: str) -> Evaluation:
    """A user with keys, none of them active (deactivated, by mamori or anyone), is COMPLIANT:
    the dashboard turns green once the stale keys are off. A user who never had a key has
    nothing that can go stale: NOT_APPLICABLE."""
    has_keys = any(key.last_rotated is not None for key in row.access_keys)
    compliance = ComplianceType.COMPLIANT if has_keys else ComplianceType.NOT_APPLICABLE
    return Evaluation(compliance, user_id, USER_RESOURCE_TYPE, NO_ACTIVE_KEY)


class StaleAccessKeys(ConfigRule):  # type: ignore[misc]
    def evaluate_parameters(self, rule_parameters: dict[str, Any]) -> dict[str, Any]:
        config_rule.check_parameter_names(rule_parameters, {"MaxUnusedDays", "MaxKeyAgeDays", config_rule.MAX_EXEMPTION_DAYS})
        return {
            "MaxUnusedDays": config_rule.parse_parameter(
                rule_parameters, "MaxUnusedDays", str(DEFAULT_MAX_UNUSED_DAYS), parse_max_unused_days
            ),
            "MaxKeyAgeDays": config_rule.parse_parameter(rule_parameters, "MaxKeyAgeDays", "", parse_max_key_age_days),
            config_rule.MAX_EXEMPTION_DAYS: config_rule.max_exemption_days(rule_parameters),
        }

    def evaluate_periodic(
        self, event: dict[str, Any], client_factory: Any, valid_rule_parameters: dict[str, Any]
    ) -> list[Evaluation]:
        iam = client_factory.build_client("iam")
        try:
            report, _ = fetch_credential_report(iam, REPORT_WAIT_SECONDS, sleep=lambda seconds: time.sleep(seconds))
        except CredentialReportUnavailable as error:
            # rdklib answers a ValueError with an error response; nothing is evaluated, the next run retries.
            raise ValueError(f"mamori-stale-access-keys evaluated nothing: {error}") from None
        now = datetime.datetime.now(datetime.UTC)
        max_unused, max_age = valid_rule_parameters["MaxUnusedDays"], valid_rule_parameters["MaxKeyAgeDays"]
        evaluations = []
        for row, user in report_users(parse_credential_report(report), list_user_details(iam)):
            if not row.active_keys:
                evaluations.append(no_active_key(row, user.user_id))
                continue
            stale = find_stale_keys(keys_from_report(row), now, max_unused, max_age)
            note = ""
            if stale:
                exempt, note = config_rule.exemption_evaluation(
                    user.tags, now.date(), valid_rule_parameters[config_rule.MAX_EXEMPTION_DAYS]
                )
                if exempt is not None:
                    evaluations.append(
                        Evaluation(ComplianceType.NOT_APPLICABLE, user.user_id, USER_RESOURCE_TYPE, exempt.annotation)
                    )
                    continue
                annotation = config_rule.with_note(stale_annotation(stale), note)
                evaluations.append(Evaluation(ComplianceType.NON_COMPLIANT, user.user_id, USER_RESOURCE_TYPE, annotation))
            else:
                evaluations.append(Evaluation(ComplianceType.COMPLIANT, user.user_id, USER_RESOURCE_TYPE, note))
        return evaluations


def lambda_handler(event: Any, context: Any) -> Any:
    return config_rule.handle(Evaluator(StaleAccessKeys(), [USER_RESOURCE_TYPE]), event, context)
