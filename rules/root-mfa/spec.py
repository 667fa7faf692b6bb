"""mamori-root-mfa: what the rule is, what it takes, what it may call."""

from mamori.catalog import Parameter, Permission, RemediationLink, RuleSpec

RULE = RuleSpec(
    id="root-mfa",
    description=(
        "NON_COMPLIANT when the root user has a password or an access key but no MFA (with RequireHardwareMfa: "
        "or a virtual MFA device); NOT_APPLICABLE when root has no credentials at all."
    ),
    trigger="periodic",
    resource_types=("AWS::::Account",),
    parameters=(
        Parameter(
            "RequireHardwareMfa",
            "true: root's MFA must be hardware (a security key or hardware token); a virtual MFA device is NON_COMPLIANT.",
            "false",
            allowed_pattern=r"^(true|false)$",
            max_length=5,
            constraint='"true" or "false"',
        ),
    ),
    permissions=(
        Permission("config:PutEvaluations"),
        # One live call decides: AccountPasswordPresent, AccountAccessKeysPresent, AccountMFAEnabled.
        Permission("iam:GetAccountSummary"),
        # Only with RequireHardwareMfa=true and MFA on: is root's device virtual?
        Permission("iam:ListVirtualMFADevices"),
    ),
    remediation=RemediationLink(
        document="root-mfa",
        resource_id_parameter="AccountId",
        parameters=("RequireHardwareMfa",),
        pack_values=(("TopicArn", "NotificationTopic"),),
        maximum_automatic_attempts=3,
        retry_attempt_seconds=300,
    ),
)
