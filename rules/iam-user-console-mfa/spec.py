"""mamori-iam-user-console-mfa: what the rule is, what it takes, what it may call."""

from mamori.catalog import (
    CONFIG_RULES,
    MAX_EXEMPTION_DAYS,
    READ_CREDENTIAL_REPORT,
    Parameter,
    Permission,
    RemediationLink,
    RuleSpec,
)
from mamori.console_mfa import DEFAULT_GRACE_HOURS

RULE = RuleSpec(
    id="iam-user-console-mfa",
    description=(
        "NON_COMPLIANT when an IAM user has a console password but no MFA device, once the grace period "
        "after the user's creation is over, unless mamori-deny-without-mfa already limits the user to setting up MFA."
    ),
    trigger="periodic",
    frequency="TwentyFour_Hours",
    resource_types=("AWS::IAM::User",),
    parameters=(
        Parameter(
            "GracePeriodHours",
            "Hours after a user's creation during which a console password without MFA is still COMPLIANT.",
            str(DEFAULT_GRACE_HOURS),
            allowed_pattern=r"^\s*\d{1,5}\s*$",
            max_length=16,
            constraint="a whole number of hours (0-99999)",
        ),
        MAX_EXEMPTION_DAYS,
    ),
    permissions=(
        Permission("config:PutEvaluations"),
        # rdklib marks the evaluations of users that no longer exist NOT_APPLICABLE.
        Permission("config:GetComplianceDetailsByConfigRule", CONFIG_RULES),
        *READ_CREDENTIAL_REPORT,
        # Every user's id, tags and attached policies, one call per 1,000 users (Filter=User): no call
        # per user. IAM grants this read only on "*" and cannot limit it to users; see README.md.
        Permission("iam:GetAccountAuthorizationDetails"),
    ),
    remediation=RemediationLink(
        document="iam-user-console-mfa",
        resource_id_parameter="UserId",
        parameters=("GracePeriodHours", MAX_EXEMPTION_DAYS.name),
        maximum_automatic_attempts=3,
        retry_attempt_seconds=120,
    ),
    # The credential report can take a few minutes to generate for a large account.
    timeout_seconds=300,
)
