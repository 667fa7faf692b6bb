"""mamori-iam-user-console-mfa: an IAM user with a console password must have MFA.

The forgotten-root-key incident: credentials without MFA were all an attacker needed. This
rule holds IAM users to what root is held to: a console password without an MFA device is
NON_COMPLIANT once the grace period after the user's creation is over.

Reads the IAM credential report (generate, get) and GetAccountAuthorizationDetails for users,
one call per 1,000 users: it maps the report's ARNs to the user ids Config records and
carries each user's tags (the mamori:exempt exemption) and attached policies (the pack's
deny-without-MFA policy of this region, by its exact ARN: a look-alike never counts). No call
per user, however many are flagged: at most 8 IAM calls at IAM's quota of 5,000 users.
"""

import datetime
import functools
import time
from typing import Any

import boto3
from rdklib import ComplianceType, ConfigRule, Evaluation, Evaluator

from mamori import config_rule
from mamori.compliance import NON_COMPLIANT
from mamori.console_mfa import (
    DEFAULT_GRACE_HOURS,
    console_mfa_verdict,
    deny_policy_arn,
    deny_policy_attached,
    parse_grace_hours,
)
from mamori.credential_report import CredentialReportUnavailable, fetch_credential_report, parse_credential_report
from mamori.iam_users import USER_RESOURCE_TYPE, list_user_details, report_users

# Leaves the Lambda (timeout 300 s) time to evaluate after a slow report.
REPORT_WAIT_SECONDS = 200.0


class IamUserConsoleMfa(ConfigRule):  # type: ignore[misc]
    def evaluate_parameters(self, rule_parameters: dict[str, Any]) -> dict[str, Any]:
        config_rule.check_parameter_names(rule_parameters, {"GracePeriodHours", config_rule.MAX_EXEMPTION_DAYS})
        return {
            "GracePeriodHours": config_rule.parse_parameter(
                rule_parameters, "GracePeriodHours", str(DEFAULT_GRACE_HOURS), parse_grace_hours
            ),
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
            raise ValueError(f"mamori-iam-user-console-mfa evaluated nothing: {error}") from None
        now = datetime.datetime.now(datetime.UTC)
        grace_hours = valid_rule_parameters["GracePeriodHours"]
        region = boto3.session.Session().region_name or ""  # this pack's region: its policy's name ends with it
        evaluations = []
        for row, user in report_users(parse_credential_report(report), list_user_details(iam)):
            decide = functools.partial(
                console_mfa_verdict,
                password_enabled=row.password_enabled,
                mfa_active=row.mfa_active,
                created=row.user_creation_time or user.created,
                now=now,
                grace_hours=grace_hours,
            )
            verdict = decide()
            note = ""
            if verdict.compliance == NON_COMPLIANT:
                exempt, note = config_rule.exemption_evaluation(
                    user.tags, now.date(), valid_rule_parameters[config_rule.MAX_EXEMPTION_DAYS]
                )
                if exempt is not None:
                    evaluations.append(
                        Evaluation(ComplianceType.NOT_APPLICABLE, user.user_id, USER_RESOURCE_TYPE, exempt.annotation)
                    )
                    continue
                pack_policy = deny_policy_arn(user.arn, region)
                verdict = decide(limited=deny_policy_attached(user.attached_policies, pack_policy))
            evaluations.append(
                Evaluation(verdict.compliance, user.user_id, USER_RESOURCE_TYPE, config_rule.with_note(verdict.annotation, note))
            )
        return evaluations


def lambda_handler(event: Any, context: Any) -> Any:
    return config_rule.handle(Evaluator(IamUserConsoleMfa(), [USER_RESOURCE_TYPE]), event, context)
