"""mamori-guardduty-enabled: turn GuardDuty on in every enabled region where it is off,
after re-checking every region with the rule's own code (mamori/guardduty.py).

No detector: create one (enabled, tagged `mamori:remediated`). A suspended detector: enable
it. What it is about to do is recorded first, per region, at
/mamori/guardduty-enabled/<account> (the id of a new detector once it exists), for the
restore document. Then every region acted on is checked again: the automation fails,
naming the regions and errors, unless GuardDuty is on in all of them. Regions that refuse
to be looked at (an SCP, not opted in) are reported and left alone.
"""

from typing import Any

import boto3

from mamori.automation import flag, required_input, timestamp, utc_now
from mamori.guardduty import GuardDutyRegion, guardduty_scan, region_guardduty, regions_off
from mamori.records import REMEDIATED_TAG, load_record, record_path, save_record
from mamori.regions import enabled_regions, scan_regions

REMEDIATION_ID = "guardduty-enabled"
# How often updates of an existing finding (a miner that keeps mining) are exported to
# EventBridge: every 15 minutes instead of GuardDuty's default six hours. New findings are
# exported within minutes whatever this says; the setting costs nothing.
FINDING_PUBLISHING_FREQUENCY = "FIFTEEN_MINUTES"
ADMINISTRATOR_HINT = (
    " If a GuardDuty delegated administrator manages this account's detectors, turn GuardDuty on from there"
    " (or set AutoRemediation to false to only report)."
)


def turn_on(guardduty: Any, status: GuardDutyRegion, tag: str) -> str:
    """Create or enable the region's detector; its id."""
    if status.detector_id is None:
        # No Features: a new detector gets GuardDuty's defaults (the foundational sources and
        # every protection plan but Runtime Monitoring), as when GuardDuty is enabled by hand.
        response = guardduty.create_detector(
            Enable=True, FindingPublishingFrequency=FINDING_PUBLISHING_FREQUENCY, Tags={REMEDIATED_TAG: tag}
        )
        return str(response["DetectorId"])
    guardduty.update_detector(DetectorId=status.detector_id, Enable=True)
    return status.detector_id


def plan_text(to_create: list[GuardDutyRegion], to_enable: list[GuardDutyRegion], done: bool = False) -> str:
    parts = []
    if to_create:
        parts.append(f"{'created' if done else 'create'} a detector in {', '.join(s.region for s in to_create)}")
    if to_enable:
        parts.append(f"{'enabled' if done else 'enable'} the suspended detector in {', '.join(s.region for s in to_enable)}")
    return "; ".join(parts) or "nothing"


def handler(events: dict[str, Any], context: Any) -> dict[str, Any]:
    account = required_input(events, "AccountId", r"\d{12}")
    dry_run = flag(events, "DryRun")
    ec2 = boto3.client("ec2")
    scan = guardduty_scan(enabled_regions(ec2), home_region=ec2.meta.region_name)
    refused = [f"{region} ({code})" for region, code in sorted(scan.skipped.items())]
    refused_note = f" Not checked (refused): {', '.join(refused)}." if refused else ""
    result: dict[str, Any] = {"AccountId": account, "DryRun": dry_run, "Created": [], "Enabled": [], "Refused": refused}

    off = regions_off(scan)
    if not off:
        return {
            **result,
            "Status": "NOTHING_TO_DO",
            "Message": f"GuardDuty is on in all {len(scan.results)} regions checked; nothing to do.{refused_note}",
        }
    to_create = [status for status in off if status.detector_id is None]
    to_enable = [status for status in off if status.detector_id is not None]
    if dry_run:
        return {
            **result,
            "Created": [f"{status.region}: (dry run)" for status in to_create],
            "Enabled": [f"{status.region}: {status.detector_id}" for status in to_enable],
            "Status": "DRY_RUN",
            "Message": f"Would {plan_text(to_create, to_enable)}; changed nothing.{refused_note}",
        }

    # Record first, so that nothing is lost even if a call below fails half-way. A detector
    # about to be created has no id yet (None): restore finds it by its mamori:remediated tag.
    now = utc_now()
    tag = f"{timestamp(now)} created by mamori-guardduty-enabled - undo with mamori-guardduty-enabled-restore"
    ssm = boto3.client("ssm")
    path = record_path(REMEDIATION_ID, account)
    record = load_record(ssm, path) or {"accountId": account}
    created: dict[str, str | None] = record.setdefault("created", {})
    enabled: dict[str, str] = record.setdefault("enabled", {})
    for status in to_create:
        created[status.region] = None
    for status in to_enable:
        if created.get(status.region) != status.detector_id:  # mamori's own detector stays "created"
            enabled[status.region] = str(status.detector_id)
    record["at"] = timestamp(now)
    record.pop("failed", None)
    save_record(ssm, path, record)

    planned = {status.region: status for status in off}
    acted = scan_regions("guardduty", sorted(planned), lambda client, region: turn_on(client, planned[region], tag))
    for region, detector_id in acted.results.items():
        if planned[region].detector_id is None:
            created[region] = detector_id
    errors = {region: f"{code} (refused)" for region, code in acted.skipped.items()} | acted.failed
    for region in errors:
        # A failed UpdateDetector left the detector suspended: nothing of mamori's to undo.
        if planned[region].detector_id is not None and enabled.get(region) == planned[region].detector_id:
            del enabled[region]
    if errors:
        record["failed"] = {region: error[:100] for region, error in errors.items()}
    save_record(ssm, path, record)

    # Same decision, live state: fail loudly unless GuardDuty is on in every region acted on.
    after = scan_regions("guardduty", sorted(planned), region_guardduty)
    still_off = {
        region: errors.get(region)
        or after.skipped.get(region)
        or after.failed.get(region)
        or (after.results[region].describe() if region in after.results else "unknown")
        for region in sorted(planned)
        if not (region in after.results and after.results[region].enabled)
    }
    if still_off:
        listed = "; ".join(f"{region}: {why}" for region, why in still_off.items())
        raise RuntimeError(
            f"GuardDuty is still off in {len(still_off)} region(s): {listed}. What was done is recorded at {path}."
            + ADMINISTRATOR_HINT
        )
    done_created = [status for status in to_create if status.region in acted.results]
    done_enabled = [status for status in to_enable if status.region in acted.results]
    others = f" Turned on meanwhile by someone else: {', '.join(sorted(errors))}." if errors else ""
    return {
        **result,
        "Created": [f"{status.region}: {created[status.region]}" for status in done_created],
        "Enabled": [f"{status.region}: {status.detector_id}" for status in done_enabled],
        "Status": "REMEDIATED",
        "Message": (
            f"Turned GuardDuty on in {len(done_created) + len(done_enabled)} region(s): "
            f"{plan_text(done_created, done_enabled, done=True)}."
            f"{others} Recorded at {path}; undo with mamori-guardduty-enabled-restore.{refused_note}"
        ),
    }
