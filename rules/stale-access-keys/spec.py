"""mamori-stale-access-keys: what the rule is, what it takes, what it may call."""

from mamori.access_keys import DEFAULT_MAX_UNUSED_DAYS
from mamori.catalog import (
    CONFIG_RULES,
    MAX_EXEMPTION_DAYS,
    READ_CREDENTIAL_REPORT,
    Parameter,
    Permission,
    RemediationLink,
    RuleSpec,
)

RULE = RuleSpec(
    id="stale-access-keys",
    description=(
        "NON_COMPLIANT when an IAM user has an active access key unused for MaxUnusedDays days or more "
        "(a never-used key counts from its creation), or MaxKeyAgeDays days old or older when that is set."
    ),
    trigger="periodic",
    frequency="TwentyFour_Hours",
    resource_types=("AWS::IAM::User",),
    parameters=(
        Parameter(
            "MaxUnusedDays",
            "An active access key unused for this many days or more (never used: since its creation) is stale.",
            str(DEFAULT_MAX_UNUSED_DAYS),
            allowed_pattern=r"^\s*\d{1,4}\s*$",
            max_length=16,
            constraint="a whole number of days (0-9999)",
        ),
        Parameter(
            "MaxKeyAgeDays",
            "An active access key this many days old or older is stale, used or not. Empty for no age limit.",
            "",
            allowed_pattern=r"^\s*(\d{1,4})?\s*$",
            max_length=16,
            constraint="empty, or a whole number of days (0-9999)",
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
        document="stale-access-keys",
        resource_id_parameter="UserId",
        parameters=("MaxUnusedDays", "MaxKeyAgeDays", MAX_EXEMPTION_DAYS.name),
        maximum_automatic_attempts=3,
        retry_attempt_seconds=120,
    ),
    # The credential report can take a few minutes to generate for a large account.
    timeout_seconds=300,
)
