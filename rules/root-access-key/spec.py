"""mamori-root-access-key: what the rule is, what it takes, what it may call."""

from mamori.catalog import READ_CREDENTIAL_REPORT, Permission, RemediationLink, RuleSpec

RULE = RuleSpec(
    id="root-access-key",
    description=(
        "NON_COMPLIANT when the root user has an access key, active or not. The annotation says when it was "
        "created and last used, and where."
    ),
    trigger="periodic",
    resource_types=("AWS::::Account",),
    permissions=(
        Permission("config:PutEvaluations"),
        # One live call decides: AccountAccessKeysPresent.
        Permission("iam:GetAccountSummary"),
        # Only when root has a key: its dates and last use.
        *READ_CREDENTIAL_REPORT,
    ),
    remediation=RemediationLink(
        document="root-access-key",
        resource_id_parameter="AccountId",
        pack_values=(("TopicArn", "NotificationTopic"),),
        maximum_automatic_attempts=3,
        retry_attempt_seconds=300,
    ),
    # The credential report can take a while to generate; the rule waits up to two minutes.
    timeout_seconds=180,
)
