"""mamori-iam-user-console-mfa-restore: detach the pack's deny-without-MFA policy from an IAM
user and remove the `mamori:remediated` tag. Tag the user `mamori:exempt` first, or the rule
will flag the user again and automatic remediation will attach the policy again.
"""

from typing import Any

import boto3

from mamori.automation import flag, required_input, utc_now
from mamori.console_mfa import is_deny_policy
from mamori.exemption import exemption_status, tags_as_dict
from mamori.iam_users import USER_ID_PATTERN, attached_policies, find_user, user_tags
from mamori.records import REMEDIATED_TAG


def handler(events: dict[str, Any], context: Any) -> dict[str, Any]:
    user_id = required_input(events, "UserId", USER_ID_PATTERN)
    dry_run = flag(events, "DryRun")
    iam = boto3.client("iam")
    result: dict[str, Any] = {"UserId": user_id, "DryRun": dry_run, "UserName": "", "Detached": []}

    user = find_user(iam, user_id)
    if user is None:
        return {**result, "Status": "USER_NOT_FOUND", "Message": f"No IAM user has the id {user_id}; nothing to restore."}
    result["UserName"] = user.name
    tags = user_tags(iam, user.name)
    policies = [policy["PolicyArn"] for policy in attached_policies(iam, user.name) if is_deny_policy(policy)]
    tagged = REMEDIATED_TAG in tags_as_dict(tags)
    result["Detached"] = policies
    if not policies and not tagged:
        return {**result, "Status": "NOTHING_TO_RESTORE", "Message": f"{user.name} has no mamori deny-without-MFA policy."}
    if dry_run:
        return {
            **result,
            "Status": "DRY_RUN",
            "Message": f"Would detach {len(policies)} policy from {user.name}; changed nothing.",
        }

    for policy_arn in policies:
        iam.detach_user_policy(UserName=user.name, PolicyArn=policy_arn)
    if tagged:
        iam.untag_user(UserName=user.name, TagKeys=[REMEDIATED_TAG])

    exemption = exemption_status(tags, utc_now().date())
    warning = (
        ""
        if exemption is not None and exemption.applies
        else (
            " The user is not tagged mamori:exempt: the rule will flag it again"
            " and automatic remediation will attach the policy again."
        )
    )
    return {**result, "Status": "RESTORED", "Message": f"Detached the deny-without-MFA policy from {user.name}.{warning}"}
