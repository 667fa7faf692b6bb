"""mamori-stale-access-keys: deactivate exactly the stale access keys of an IAM user (never
delete them), after re-reading the user's live keys with the rule's own decision.

What was deactivated is recorded (automation output, the user's `mamori:remediated` tag,
and /mamori/stale-access-keys/<user id> in Parameter Store, written before any key is
touched) for the restore document, which reactivates them.
"""

from typing import Any

import boto3

from mamori.access_keys import (
    DEFAULT_MAX_UNUSED_DAYS,
    StaleKey,
    find_stale_keys,
    live_keys,
    parse_max_key_age_days,
    parse_max_unused_days,
)
from mamori.automation import flag, required_input, timestamp, utc_now
from mamori.exemption import exemption_status
from mamori.iam_users import USER_ID_PATTERN, find_user, tag_value, user_tags
from mamori.records import REMEDIATED_TAG, load_record, record_path, save_record

REMEDIATION_ID = "stale-access-keys"


def _moment(value: Any) -> str | None:
    return timestamp(value) if value is not None else None


def handler(events: dict[str, Any], context: Any) -> dict[str, Any]:
    user_id = required_input(events, "UserId", USER_ID_PATTERN)
    dry_run = flag(events, "DryRun")
    max_unused = parse_max_unused_days(str(events.get("MaxUnusedDays") or DEFAULT_MAX_UNUSED_DAYS))
    max_age = parse_max_key_age_days(str(events.get("MaxKeyAgeDays") or ""))
    iam = boto3.client("iam")
    result: dict[str, Any] = {"UserId": user_id, "DryRun": dry_run, "UserName": "", "Deactivated": []}

    user = find_user(iam, user_id)
    if user is None:
        return {**result, "Status": "USER_NOT_FOUND", "Message": f"No IAM user has the id {user_id}; nothing to do."}
    result["UserName"] = user.name
    now = utc_now()
    exemption = exemption_status(user_tags(iam, user.name), now.date())
    if exemption is not None and exemption.applies:
        return {**result, "Status": "SKIPPED_EXEMPT", "Message": exemption.message}

    def stale_now() -> list[StaleKey]:
        return find_stale_keys(live_keys(iam, user.name), now, max_unused, max_age)

    stale = stale_now()
    if not stale:
        return {**result, "Status": "NOTHING_TO_DO", "Message": f"{user.name} has no stale active access key."}
    result["Deactivated"] = [f"{item.key.key_id}: {item.describe()}" for item in stale]
    if dry_run:
        return {
            **result,
            "Status": "DRY_RUN",
            "Message": f"Would deactivate {len(stale)} key(s) of {user.name}; changed nothing.",
        }

    # Record first, so that nothing is lost even if a call below fails half-way.
    ssm = boto3.client("ssm")
    path = record_path(REMEDIATION_ID, user_id)
    record = load_record(ssm, path) or {"userId": user_id, "changes": []}
    record["userName"] = user.name
    record["changes"].append(
        {
            "at": timestamp(now),
            "deactivated": [
                {
                    "keyId": item.key.key_id,
                    "created": _moment(item.key.created),
                    "lastUsed": _moment(item.key.last_used),
                    "reason": item.describe(),
                }
                for item in stale
            ],
        }
    )
    save_record(ssm, path, record)

    for item in stale:
        iam.update_access_key(UserName=user.name, AccessKeyId=str(item.key.key_id), Status="Inactive")
    summary = tag_value(
        [
            timestamp(now),
            "stale-access-keys deactivated",
            *(str(item.key.key_id) for item in stale),
            "- undo with mamori-stale-access-keys-restore",
        ]
    )
    iam.tag_user(UserName=user.name, Tags=[{"Key": REMEDIATED_TAG, "Value": summary}])

    # Same decision, live state: the remediation fails loudly unless no stale key is active.
    remaining = stale_now()
    if remaining:
        raise RuntimeError(f"{user.name} still has active stale keys: " + "; ".join(item.describe() for item in remaining))
    return {
        **result,
        "Status": "REMEDIATED",
        "Message": f"Deactivated {len(stale)} key(s) of {user.name} (not deleted); recorded at {path}.",
    }
