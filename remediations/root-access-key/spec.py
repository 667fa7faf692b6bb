"""The document of the root-access-key remediation and what it may call. Notify-only: no
restore document, because nothing is changed that could be undone."""

from mamori.catalog import (
    ACCOUNT_ID,
    AUTOMATION_ASSUME_ROLE,
    DRY_RUN,
    PUBLISH_TO_TOPIC,
    READ_CREDENTIAL_REPORT,
    TOPIC_ARN,
    DocumentSpec,
    Permission,
    RemediationSpec,
)

REMEDIATION = RemediationSpec(
    id="root-access-key",
    remediate=DocumentSpec(
        name="mamori-root-access-key",
        description=(
            "Re-checks whether the root user has an access key (with mamori-root-access-key's own code); if so, "
            "opens one OpsItem with the steps to delete it (only root, or the management account with centralized "
            "root access, can) and notifies the mamori topic. Deletes nothing; a second run opens nothing new."
        ),
        script="remediate.py",
        parameters=(
            AUTOMATION_ASSUME_ROLE,
            ACCOUNT_ID,
            TOPIC_ARN,
            DRY_RUN,
        ),
        permissions=(
            Permission("iam:GetAccountSummary"),
            *READ_CREDENTIAL_REPORT,
            # DescribeOpsItems and CreateOpsItem are granted on all OpsItems of the account.
            Permission("ssm:DescribeOpsItems"),
            Permission("ssm:CreateOpsItem"),
            *PUBLISH_TO_TOPIC,
        ),
        outputs=(("Status", "String"), ("Message", "String"), ("OpsItemId", "String"), ("Keys", "StringList")),
    ),
)
