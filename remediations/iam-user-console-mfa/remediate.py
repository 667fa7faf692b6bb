"""mamori-iam-user-console-mfa: attach the pack's deny-without-MFA policy to an IAM user that
has a console password and no MFA past the grace period, after re-reading the live user
with the rule's own decision.

The policy denies everything but changing one's own password and setting up one's own MFA
device until the user signs in with MFA; nothing of the user is removed. What was done is
recorded in the automation output and the user's `mamori:remediated` tag; the restore
document detaches the policy.
"""

from typing import Any

import boto3

from mamori.automation import flag, required_input, timestamp, utc_now
from mamori.console_mfa import (
    DEFAULT_GRACE_HOURS,
    DENY_POLICY_ARN_PATTERN,
    NON_COMPLIANT,
    ConsoleMfaVerdict,
    console_mfa_verdict,
    deny_policy_attached,
    parse_grace_hours,
)
from mamori.exemption import exemption_status
from mamori.iam_users import (
    USER_ID_PATTERN,
    attached_policies,
    find_user,
    has_console_password,
    has_mfa_device,
    tag_value,
    user_tags,
)
from mamori.records import REMEDIATED_TAG


def handler(events: dict[str, Any], context: Any) -> dict[str, Any]:
    user_id = required_input(events, "UserId", USER_ID_PATTERN)
    policy_arn = required_input(events, "PolicyArn", DENY_POLICY_ARN_PATTERN)
    dry_run = flag(events, "DryRun")
    grace_hours = parse_grace_hours(str(events.get("GracePeriodHours") or DEFAULT_GRACE_HOURS))
    iam = boto3.client("iam")
    result: dict[str, Any] = {"UserId": user_id, "DryRun": dry_run, "UserName": ""}

    user = find_user(iam, user_id)
    if user is None:
        return {**result, "Status": "USER_NOT_FOUND", "Message": f"No IAM user has the id {user_id}; nothing to do."}
    result["UserName"] = user.name
    now = utc_now()
    exemption = exemption_status(user_tags(iam, user.name), now.date())
    if exemption is not None and exemption.applies:
        return {**result, "Status": "SKIPPED_EXEMPT", "Message": exemption.message}

    def verdict_now() -> ConsoleMfaVerdict:
        return console_mfa_verdict(
            password_enabled=has_console_password(iam, user.name),
            mfa_active=has_mfa_device(iam, user.name),
            created=user.created,
            now=now,
            grace_hours=grace_hours,
            limited=deny_policy_attached(attached_policies(iam, user.name)),
        )

    verdict = verdict_now()
    if verdict.compliance != NON_COMPLIANT:
        reason = verdict.annotation or "The user has an MFA device."
        return {**result, "Status": "NOTHING_TO_DO", "Message": f"{user.name}: {reason}"}
    if dry_run:
        return {**result, "Status": "DRY_RUN", "Message": f"Would attach {policy_arn} to {user.name}; changed nothing."}

    iam.attach_user_policy(UserName=user.name, PolicyArn=policy_arn)
    policy_name = policy_arn.rsplit("/", 1)[-1]
    summary = tag_value(
        [timestamp(now), "iam-user-console-mfa attached", policy_name, "- undo with mamori-iam-user-console-mfa-restore"]
    )
    iam.tag_user(UserName=user.name, Tags=[{"Key": REMEDIATED_TAG, "Value": summary}])

    # Same decision, live state: the remediation fails loudly unless the user is now limited.
    after = verdict_now()
    if after.compliance == NON_COMPLIANT:
        raise RuntimeError(f"{user.name} still has console access without MFA after attaching {policy_arn}")
    return {
        **result,
        "Status": "REMEDIATED",
        "Message": (
            f"Attached {policy_name} to {user.name}: everything but setting up MFA is denied until the user "
            "signs in with MFA (access keys too, unless used with MFA)."
        ),
    }
