"""The two documents of the stale-access-keys remediation and what each may call."""

from mamori.access_keys import DEFAULT_MAX_UNUSED_DAYS
from mamori.catalog import (
    IAM_USERS,
    MAX_EXEMPTION_DAYS_INPUT,
    ONLY_MAMORI_TAGS,
    TAGGED_BY_MAMORI,
    USER_ID,
    Permission,
    RemediationSpec,
    allow,
    document,
    record_permissions,
    text_parameter,
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
            text_parameter(
                "MaxUnusedDays",
                "Days unused after which an active key is stale (the rule's MaxUnusedDays).",
                str(DEFAULT_MAX_UNUSED_DAYS),
            ),
            text_parameter("MaxKeyAgeDays", "Age in days at which an active key is stale; empty for none.", ""),
            MAX_EXEMPTION_DAYS_INPUT,
        ),
        permissions=(
            Permission("iam:ListUsers"),
            *allow("iam:ListUserTags", "iam:ListAccessKeys", "iam:GetAccessKeyLastUsed", on=IAM_USERS),
            # IAM offers no condition on the status a key is set to (UpdateAccessKey has no condition
            # keys; an access key is no resource type of its own): this role could also reactivate a
            # key. Who may pass it is the customer's fence (SECURITY.md); the restore role is narrower.
            Permission("iam:UpdateAccessKey", IAM_USERS),
            *allow("iam:TagUser", on=IAM_USERS, when=ONLY_MAMORI_TAGS),
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
            *allow("iam:ListUserTags", "iam:ListAccessKeys", on=IAM_USERS),
            # Keys of users mamori tagged when it deactivated them, only: an access key has no tags of
            # its own, so the user's mamori:remediated tag (user resource type: aws:ResourceTag) is
            # the narrowest mark IAM can check.
            *allow("iam:UpdateAccessKey", on=IAM_USERS, when=TAGGED_BY_MAMORI),
            *allow("iam:UntagUser", on=IAM_USERS, when=ONLY_MAMORI_TAGS),
            *record_permissions("stale-access-keys", "DeleteParameter"),
        ),
        outputs=(*OUTPUTS, ("Reactivated", "StringList"), ("Missing", "StringList")),
    ),
)
