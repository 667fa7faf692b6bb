"""mamori-guardduty-enabled-restore: undo mamori-guardduty-enabled as recorded at
/mamori/guardduty-enabled/<account>: delete the detectors it created (a detector whose id
was not recorded yet is recognised by its `mamori:remediated` tag) and suspend the ones it
enabled. Detectors mamori did not create or enable are never touched.

Deleting a detector discards its findings. Automatic remediation turns GuardDuty back on at
the rule's next evaluation unless AutoRemediation is false (an account has no exemption tag).
"""

from typing import Any

import boto3

from mamori.automation import flag, required_input
from mamori.guardduty import detector_ids
from mamori.records import REMEDIATED_TAG, delete_record, load_record, record_path, save_record
from mamori.regions import scan_regions

REMEDIATION_ID = "guardduty-enabled"
WARNING = (
    " Deleting a detector discards its findings (suspending keeps them). Where GuardDuty is off again, automatic"
    " remediation turns it back on at mamori-guardduty-enabled's next evaluation unless AutoRemediation is false or"
    " the rule's remediation configuration is removed (an account has no mamori:exempt tag)."
)


def handler(events: dict[str, Any], context: Any) -> dict[str, Any]:
    account = required_input(events, "AccountId", r"\d{12}")
    dry_run = flag(events, "DryRun")
    ssm = boto3.client("ssm")
    path = record_path(REMEDIATION_ID, account)
    result: dict[str, Any] = {"AccountId": account, "DryRun": dry_run, "Deleted": [], "Suspended": [], "Kept": []}

    record = load_record(ssm, path)
    if record is None:
        return {**result, "Status": "NOTHING_TO_RESTORE", "Message": f"No mamori record at {path}; nothing to restore."}
    created: dict[str, str | None] = dict(record.get("created") or {})
    enabled: dict[str, str] = dict(record.get("enabled") or {})

    def undo(guardduty: Any, region: str) -> tuple[list[str], list[str]]:
        """(deleted, suspended) detector ids in one region; changes nothing in a dry run."""
        listed = detector_ids(guardduty)
        deleted, suspended = [], []
        if region in created:
            recorded = created[region]
            for detector_id in listed:
                ours = detector_id == recorded or (
                    recorded is None and REMEDIATED_TAG in (guardduty.get_detector(DetectorId=detector_id).get("Tags") or {})
                )
                if ours:
                    if not dry_run:
                        guardduty.delete_detector(DetectorId=detector_id)
                    deleted.append(detector_id)
        enabled_id = enabled.get(region)
        # A detector suspended since by someone else is left as it is.
        if (
            enabled_id in listed
            and enabled_id not in deleted
            and guardduty.get_detector(DetectorId=enabled_id).get("Status") == "ENABLED"
        ):
            if not dry_run:
                guardduty.update_detector(DetectorId=enabled_id, Enable=False)
            suspended.append(str(enabled_id))
        return deleted, suspended

    outcome = scan_regions("guardduty", sorted(set(created) | set(enabled)), undo)
    for region, (deleted, suspended) in sorted(outcome.results.items()):
        result["Deleted"] += [f"{region}: {detector_id}" for detector_id in deleted]
        result["Suspended"] += [f"{region}: {detector_id}" for detector_id in suspended]
    unreached = {region: f"{code} (refused)" for region, code in outcome.skipped.items()} | outcome.failed
    result["Kept"] = [f"{region}: {error}" for region, error in sorted(unreached.items())]
    counts = (len(result["Deleted"]), len(result["Suspended"]))
    if dry_run:
        would = "Would delete {} detector(s) mamori created and suspend {} it enabled; changed nothing.".format(*counts)
        return {**result, "Status": "DRY_RUN", "Message": would + WARNING}

    if unreached:
        # Keep what could not be undone, and only that, for the next run.
        record["created"] = {region: value for region, value in created.items() if region in unreached}
        record["enabled"] = {region: value for region, value in enabled.items() if region in unreached}
        save_record(ssm, path, record)
    else:
        delete_record(ssm, path)
    message = "Deleted {} detector(s) mamori created and suspended {} it enabled.".format(*counts)
    if unreached:
        message += f" Not restored, kept at {path} for another run: {'; '.join(result['Kept'])}."
    if outcome.failed:
        raise RuntimeError(message)
    return {**result, "Status": "PARTIAL" if unreached else "RESTORED", "Message": message + WARNING}
