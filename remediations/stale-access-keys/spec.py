"""The two documents of the stale-access-keys remediation and what each may call."""

from mamori.access_keys import DEFAULT_MAX_UNUSED_DAYS
from mamori.catalog import AUTOMATION_ASSUME_ROLE, DRY_RUN, DocumentParameter, DocumentSpec, Permission, RemediationSpec
from mamori.iam_users import USER_ID_PATTERN

USER = "arn:${AWS::Partition}:iam::${AWS::AccountId}:user/*"
RECORDS = "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/mamori/stale-access-keys/*"

USER_ID = DocumentParameter(
    "UserId", "String", "The IAM user's id (AIDA…), as AWS Config records it.", allowed_pattern=f"^{USER_ID_PATTERN}$"
)
OUTPUTS = (("Status", "String"), ("Message", "String"), ("UserName", "String"))

REMEDIATION = RemediationSpec(
    id="stale-access-keys",
    remediate=DocumentSpec(
        name="mamori-stale-access-keys",
        description=(
            "Deactivates (never deletes) the active access keys of an IAM user that are stale (re-checked on the live "
            "keys), records them for mamori-stale-access-keys-restore and tags the user. Skips users tagged mamori:exempt."
        ),
        script="remediate.py",
        parameters=(
            AUTOMATION_ASSUME_ROLE,
            USER_ID,
            DocumentParameter(
                "MaxUnusedDays",
                "String",
                "Days unused after which an active key is stale (the rule's MaxUnusedDays).",
                default=str(DEFAULT_MAX_UNUSED_DAYS),
            ),
            DocumentParameter(
                "MaxKeyAgeDays", "String", "Age in days at which an active key is stale; empty for none.", default=""
            ),
            DRY_RUN,
        ),
        permissions=(
            Permission("iam:ListUsers"),
            Permission("iam:ListUserTags", USER),
            Permission("iam:ListAccessKeys", USER),
            Permission("iam:GetAccessKeyLastUsed", USER),
            Permission("iam:UpdateAccessKey", USER),
            Permission("iam:TagUser", USER),
            Permission("ssm:GetParameter", RECORDS),
            Permission("ssm:PutParameter", RECORDS),
        ),
        outputs=(*OUTPUTS, ("Deactivated", "StringList")),
    ),
    restore=DocumentSpec(
        name="mamori-stale-access-keys-restore",
        description=(
            "Reactivates the access keys mamori-stale-access-keys deactivated, as recorded at "
            "/mamori/stale-access-keys/<user id>. Tag the user mamori:exempt first, or automatic remediation "
            "deactivates them again."
        ),
        script="restore.py",
        parameters=(AUTOMATION_ASSUME_ROLE, USER_ID, DRY_RUN),
        permissions=(
            Permission("iam:ListUsers"),
            Permission("iam:ListUserTags", USER),
            Permission("iam:ListAccessKeys", USER),
            Permission("iam:UpdateAccessKey", USER),
            Permission("iam:UntagUser", USER),
            Permission("ssm:GetParameter", RECORDS),
            Permission("ssm:DeleteParameter", RECORDS),
        ),
        outputs=(*OUTPUTS, ("Reactivated", "StringList"), ("Missing", "StringList")),
    ),
)
