"""mamori-stale-access-keys-restore: reactivate the access keys mamori-stale-access-keys
deactivated, as recorded at /mamori/stale-access-keys/<user id>, and remove the user's
`mamori:remediated` tag. Tag the user `mamori:exempt` first, or the rule will find the keys
stale again and automatic remediation will deactivate them again.
"""

from typing import Any

import boto3

from mamori.access_keys import list_key_metadata
from mamori.automation import flag, required_input, utc_now
from mamori.exemption import exemption_status, tags_as_dict
from mamori.iam_users import USER_ID_PATTERN, find_user, user_tags
from mamori.records import REMEDIATED_TAG, delete_record, load_record, record_path

REMEDIATION_ID = "stale-access-keys"


def handler(events: dict[str, Any], context: Any) -> dict[str, Any]:
    user_id = required_input(events, "UserId", USER_ID_PATTERN)
    dry_run = flag(events, "DryRun")
    iam, ssm = boto3.client("iam"), boto3.client("ssm")
    path = record_path(REMEDIATION_ID, user_id)
    result: dict[str, Any] = {"UserId": user_id, "DryRun": dry_run, "UserName": "", "Reactivated": [], "Missing": []}

    record = load_record(ssm, path)
    if record is None:
        return {**result, "Status": "NOTHING_TO_RESTORE", "Message": f"No mamori record at {path}; nothing to restore."}
    user = find_user(iam, user_id)
    if user is None:
        raise RuntimeError(f"No IAM user has the id {user_id} any more; its record is kept at {path}.")
    result["UserName"] = user.name

    recorded = list(dict.fromkeys(str(key["keyId"]) for change in record["changes"] for key in change["deactivated"]))
    live = {str(item["AccessKeyId"]): str(item.get("Status")) for item in list_key_metadata(iam, user.name)}
    to_reactivate = [key_id for key_id in recorded if live.get(key_id) == "Inactive"]
    # A recorded key deleted since cannot come back; say so rather than fail.
    result["Missing"] = [key_id for key_id in recorded if key_id not in live]
    result["Reactivated"] = to_reactivate
    if dry_run:
        return {
            **result,
            "Status": "DRY_RUN",
            "Message": f"Would reactivate {len(to_reactivate)} key(s) of {user.name}; changed nothing.",
        }

    for key_id in to_reactivate:
        iam.update_access_key(UserName=user.name, AccessKeyId=key_id, Status="Active")
    tags = user_tags(iam, user.name)
    if REMEDIATED_TAG in tags_as_dict(tags):
        iam.untag_user(UserName=user.name, TagKeys=[REMEDIATED_TAG])
    delete_record(ssm, path)

    exemption = exemption_status(tags, utc_now().date())
    warning = (
        ""
        if exemption is not None and exemption.applies
        else (
            " The user is not tagged mamori:exempt: the rule will flag the keys again"
            " and automatic remediation will deactivate them again."
        )
    )
    missing = f" Deleted since, cannot come back: {', '.join(result['Missing'])}." if result["Missing"] else ""
    return {
        **result,
        "Status": "RESTORED",
        "Message": f"Reactivated {len(to_reactivate)} key(s) of {user.name}.{missing}{warning}",
    }
