"""The document of the root-mfa remediation and what it may call. Notify-only: no restore
document, because nothing is changed that could be undone."""

from mamori.catalog import (
    ACCOUNT_ID,
    NOTIFY_ONCE,
    PUBLISH_TO_TOPIC,
    TOPIC_ARN,
    DocumentParameter,
    RemediationSpec,
    allow,
    document,
)

REMEDIATION = RemediationSpec(
    id="root-mfa",
    remediate=document(
        "root-mfa",
        description=(
            "Re-checks the root user's credentials and MFA (with mamori-root-mfa's own code); if root can sign in "
            "without (hardware) MFA, opens one OpsItem with the steps to assign it (only root can) and notifies the "
            "mamori topic. Changes nothing in IAM; a second run opens nothing new."
        ),
        parameters=(
            ACCOUNT_ID,
            TOPIC_ARN,
            DocumentParameter(
                "RequireHardwareMfa",
                "String",
                "true: a virtual MFA device on root is a finding too (the rule's RequireHardwareMfa).",
                default="false",
                allowed_pattern=r"^(true|false)$",
            ),
        ),
        permissions=(
            *allow("iam:GetAccountSummary", "iam:ListVirtualMFADevices"),
            *NOTIFY_ONCE,
            *PUBLISH_TO_TOPIC,
        ),
        outputs=(("OpsItemId", "String"),),
    ),
)
