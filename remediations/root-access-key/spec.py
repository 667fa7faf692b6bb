"""The document of the root-access-key remediation and what it may call. Notify-only: no
restore document, because nothing is changed that could be undone."""

from mamori.catalog import (
    ACCOUNT_ID,
    NOTIFY_ONCE,
    PUBLISH_TO_TOPIC,
    READ_CREDENTIAL_REPORT,
    TOPIC_ARN,
    Permission,
    RemediationSpec,
    document,
)

REMEDIATION = RemediationSpec(
    id="root-access-key",
    remediate=document(
        "root-access-key",
        description=(
            "Re-checks whether the root user has an access key (with mamori-root-access-key's own code); if so, "
            "opens one OpsItem with the steps to delete it (only root, or the management account with centralized "
            "root access, can) and notifies the mamori topic. Deletes nothing; a second run opens nothing new."
        ),
        parameters=(
            ACCOUNT_ID,
            TOPIC_ARN,
        ),
        permissions=(
            Permission("iam:GetAccountSummary"),
            *READ_CREDENTIAL_REPORT,
            *NOTIFY_ONCE,
            *PUBLISH_TO_TOPIC,
        ),
        outputs=(("OpsItemId", "String"), ("Keys", "StringList")),
    ),
)
