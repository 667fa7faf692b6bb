"""The document of the root-access-key remediation and what it may call. Notify-only: no
restore document, because nothing is changed that could be undone."""

from mamori.catalog import AUTOMATION_ASSUME_ROLE, DRY_RUN, DocumentParameter, DocumentSpec, Permission, RemediationSpec

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
            DocumentParameter("AccountId", "String", "The account (the rule's resource id).", allowed_pattern=r"^\d{12}$"),
            DocumentParameter(
                "TopicArn",
                "String",
                "The SNS topic to notify (the pack's mamori-notifications).",
                allowed_pattern=r"^arn:aws[a-z0-9-]*:sns:[a-z0-9-]+:\d{12}:[\w-]{1,256}$",
            ),
            DRY_RUN,
        ),
        permissions=(
            Permission("iam:GetAccountSummary"),
            Permission("iam:GenerateCredentialReport"),
            Permission("iam:GetCredentialReport"),
            # DescribeOpsItems and CreateOpsItem are granted on all OpsItems of the account.
            Permission("ssm:DescribeOpsItems"),
            Permission("ssm:CreateOpsItem"),
            Permission("sns:Publish", "${NotificationTopic}"),
        ),
        outputs=(("Status", "String"), ("Message", "String"), ("OpsItemId", "String"), ("Keys", "StringList")),
    ),
)
