"""The two documents of the stale-access-keys remediation and what each may call."""

from mamori.access_keys import DEFAULT_MAX_UNUSED_DAYS
from mamori.catalog import DocumentParameter, Permission, RemediationSpec, document, record_permissions
from mamori.iam_users import USER_ID_PATTERN

USER = "arn:${AWS::Partition}:iam::${AWS::AccountId}:user/*"

USER_ID = DocumentParameter(
    "UserId", "String", "The IAM user's id (AIDA…), as AWS Config records it.", allowed_pattern=f"^{USER_ID_PATTERN}$"
)
OUTPUTS = (("UserName", "String"),)

REMEDIATION = RemediationSpec(
    id="stale-access-keys",
    remediate=document(
        "stale-access-keys",
        description=(
            "Deactivates (never deletes) the active access keys of an IAM user that are stale (re-checked on the live "
            "keys), records them for mamori-stale-access-keys-restore and tags the user. Skips users tagged mamori:exempt."
        ),
        parameters=(
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
        ),
        permissions=(
            Permission("iam:ListUsers"),
            Permission("iam:ListUserTags", USER),
            Permission("iam:ListAccessKeys", USER),
            Permission("iam:GetAccessKeyLastUsed", USER),
            Permission("iam:UpdateAccessKey", USER),
            Permission("iam:TagUser", USER),
            *record_permissions("stale-access-keys", "PutParameter"),
        ),
        outputs=(*OUTPUTS, ("Deactivated", "StringList")),
    ),
    restore=document(
        "stale-access-keys",
        restore=True,
        description=(
            "Reactivates the access keys mamori-stale-access-keys deactivated, as recorded at "
            "/mamori/stale-access-keys/<user id>. Tag the user mamori:exempt first, or automatic remediation "
            "deactivates them again."
        ),
        parameters=(USER_ID,),
        permissions=(
            Permission("iam:ListUsers"),
            Permission("iam:ListUserTags", USER),
            Permission("iam:ListAccessKeys", USER),
            Permission("iam:UpdateAccessKey", USER),
            Permission("iam:UntagUser", USER),
            *record_permissions("stale-access-keys", "DeleteParameter"),
        ),
        outputs=(*OUTPUTS, ("Reactivated", "StringList"), ("Missing", "StringList")),
    ),
)
