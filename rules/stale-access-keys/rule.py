"""mamori-stale-access-keys: an IAM user's active access keys must be in use.

The forgotten-root-key incident: a key created years earlier and long forgotten leaked and
paid for crypto mining in nine regions. A key nobody uses is all risk and no benefit; this
rule flags every active key unused for MaxUnusedDays days or more (a key never used counts
from its creation), and, when MaxKeyAgeDays is set, every key that old.

Reads the IAM credential report (a constant number of IAM calls: generate, get, and one
ListUsers call per 1,000 users to map ARNs to the user ids Config records). The report has
no key ids and ListUsers no tags, so only for the users with a stale key it reads their
tags (the mamori:exempt exemption) and their keys (ListAccessKeys), which names the keys
and catches a key deactivated since the report was made (IAM keeps a report four hours).
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
    list_key_metadata,
    parse_max_key_age_days,
    parse_max_unused_days,
    stale_annotation,
    with_live_keys,
)
from mamori.credential_report import CredentialReportUnavailable, fetch_credential_report, parse_credential_report
from mamori.iam_users import USER_RESOURCE_TYPE, list_users, report_users, user_tags

# Leaves the Lambda (timeout 300 s) time to evaluate after a slow report.
REPORT_WAIT_SECONDS = 200.0


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
        for row, user in report_users(parse_credential_report(report), list_users(iam)):
            if not row.active_keys:
                # No active key, nothing to go stale: NOT_APPLICABLE, not a COMPLIANT that says nothing.
                evaluations.append(
                    Evaluation(ComplianceType.NOT_APPLICABLE, user.user_id, USER_RESOURCE_TYPE, "No active access keys.")
                )
                continue
            report_keys = keys_from_report(row)
            stale = find_stale_keys(report_keys, now, max_unused, max_age)
            note = ""
            if stale:
                exempt, note = config_rule.exemption_evaluation(
                    user_tags(iam, user.name), now.date(), valid_rule_parameters[config_rule.MAX_EXEMPTION_DAYS]
                )
                if exempt is not None:
                    evaluations.append(
                        Evaluation(ComplianceType.NOT_APPLICABLE, user.user_id, USER_RESOURCE_TYPE, exempt.annotation)
                    )
                    continue
                # Same decision on the keys as they are now, named by id.
                live = with_live_keys(report_keys, list_key_metadata(iam, user.name))
                stale = find_stale_keys(live, now, max_unused, max_age)
            if stale:
                annotation = config_rule.with_note(stale_annotation(stale), note)
                evaluations.append(Evaluation(ComplianceType.NON_COMPLIANT, user.user_id, USER_RESOURCE_TYPE, annotation))
            else:
                evaluations.append(Evaluation(ComplianceType.COMPLIANT, user.user_id, USER_RESOURCE_TYPE, note))
        return evaluations


def lambda_handler(event: Any, context: Any) -> Any:
    return config_rule.handle(Evaluator(StaleAccessKeys(), [USER_RESOURCE_TYPE]), event, context)
