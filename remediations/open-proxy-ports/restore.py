"""mamori-open-proxy-ports-restore: put back what mamori-open-proxy-ports revoked from a
group, as recorded at /mamori/open-proxy-ports/<group-id>, and remove the narrower entries it
added in their place. Tag the group `mamori:exempt` first, or the rule will find the
exposure again and automatic remediation will revoke it again.
"""

from typing import Any

import boto3

from mamori.automation import entries_text, flag, required_input, utc_now
from mamori.exemption import exemption_status
from mamori.exposure import describe_entry, entry_from_record
from mamori.records import REMEDIATED_TAG, delete_record, load_record, record_path
from mamori.security_groups import GROUP_ID_PATTERN, authorize_entries, describe_group, live_entries, revoke_rules

REMEDIATION_ID = "open-proxy-ports"


def handler(events: dict[str, Any], context: Any) -> dict[str, Any]:
    group_id = required_input(events, "GroupId", GROUP_ID_PATTERN)
    dry_run = flag(events, "DryRun")
    ec2, ssm = boto3.client("ec2"), boto3.client("ssm")
    path = record_path(REMEDIATION_ID, group_id)
    result: dict[str, Any] = {"GroupId": group_id, "DryRun": dry_run, "Restored": [], "Removed": []}

    record = load_record(ssm, path)
    if record is None:
        return {**result, "Status": "NOTHING_TO_RESTORE", "Message": f"No mamori record at {path}; nothing to restore."}
    group = describe_group(ec2, group_id)
    if group is None:
        raise RuntimeError(f"{group_id} no longer exists; its record is kept at {path}.")

    revoked = [entry_from_record(item) for change in record["changes"] for item in change["revoked"]]
    added = [entry_from_record(item) for change in record["changes"] for item in change["authorized"]]
    live = live_entries(ec2, group_id)
    to_restore = list(dict.fromkeys(entry for entry in revoked if entry not in live))
    to_remove = [entry for entry in live if entry in added and entry not in revoked]
    result["Restored"] = [describe_entry(entry) for entry in to_restore]
    result["Removed"] = [describe_entry(entry) for entry in to_remove]
    if dry_run:
        return {
            **result,
            "Status": "DRY_RUN",
            "Message": f"Would restore {entries_text(len(to_restore))} of {group_id}; changed nothing.",
        }

    # Put the originals back before removing their narrower stand-ins: no gap in access.
    failures = authorize_entries(ec2, group_id, to_restore, [entry.source.description for entry in to_restore])
    if failures:
        raise RuntimeError(f"Could not restore {group_id}: " + "; ".join(failures) + f". The record is kept at {path}.")
    revoke_rules(ec2, group_id, [entry.rule_id for entry in to_remove if entry.rule_id])
    ec2.delete_tags(Resources=[group_id], Tags=[{"Key": REMEDIATED_TAG}])
    delete_record(ssm, path)

    exemption = exemption_status(group.get("Tags"), utc_now().date())
    warning = (
        ""
        if exemption is not None and exemption.applies
        else (
            " The group is not tagged mamori:exempt: the rule will flag it again and automatic remediation will revoke it again."
        )
    )
    return {
        **result,
        "Status": "RESTORED",
        "Message": f"Restored {entries_text(len(to_restore))} of {group_id}.{warning}",
    }
