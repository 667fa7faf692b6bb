"""The two documents of the stale-access-keys remediation and what each may call."""

from mamori.access_keys import DEFAULT_MAX_UNUSED_DAYS
from mamori.catalog import IAM_USERS, USER_ID, Permission, RemediationSpec, allow, document, record_permissions, text_parameter

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
            text_parameter(
                "MaxUnusedDays",
                "Days unused after which an active key is stale (the rule's MaxUnusedDays).",
                str(DEFAULT_MAX_UNUSED_DAYS),
            ),
            text_parameter("MaxKeyAgeDays", "Age in days at which an active key is stale; empty for none.", ""),
        ),
        permissions=(
            Permission("iam:ListUsers"),
            *allow(
                "iam:ListUserTags",
                "iam:ListAccessKeys",
                "iam:GetAccessKeyLastUsed",
                "iam:UpdateAccessKey",
                "iam:TagUser",
                on=IAM_USERS,
            ),
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
            *allow("iam:ListUserTags", "iam:ListAccessKeys", "iam:UpdateAccessKey", "iam:UntagUser", on=IAM_USERS),
            *record_permissions("stale-access-keys", "DeleteParameter"),
        ),
        outputs=(*OUTPUTS, ("Reactivated", "StringList"), ("Missing", "StringList")),
    ),
)
