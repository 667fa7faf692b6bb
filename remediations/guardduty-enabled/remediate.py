"""mamori-guardduty-enabled: turn GuardDuty on in every enabled region where it is off,
after re-checking every region with the rule's own code (mamori/guardduty.py).

No detector: create one (enabled, tagged `mamori:remediated`). A suspended detector: tag it
`mamori:remediated`, then enable it (the restore's role may suspend or delete only detectors
with that tag). What it is about to do is recorded first, per region, at
/mamori/guardduty-enabled/<account> (the id of a new detector once it exists), for the
restore document. Then every region acted on is checked again: the automation fails,
naming the regions and errors, unless GuardDuty is on in all of them. Regions that refuse
to be looked at (an SCP, not opted in) are reported and left alone.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import boto3

from mamori.automation import timestamp
from mamori.guardduty import GuardDutyRegion, detector_arn, guardduty_scan, region_guardduty, regions_off
from mamori.records import REMEDIATED_TAG, Record, fits
from mamori.regions import RegionScan, enabled_regions, scan_regions
from mamori.remediation import Nothing, Plan, Remediation, run_remediation

# How often updates of an existing finding (a miner that keeps mining) are exported to
# EventBridge: every 15 minutes instead of GuardDuty's default six hours. New findings are
# exported within minutes whatever this says; the setting costs nothing.
FINDING_PUBLISHING_FREQUENCY = "FIFTEEN_MINUTES"
ADMINISTRATOR_HINT = (
    "; if a GuardDuty delegated administrator manages this account's detectors, turn GuardDuty on from there"
    " (or set AutoRemediation to false to only report)"
)
# What the mamori:remediated tag of a detector it creates, or enables, says was done.
CREATED_SUMMARY = "created this detector"
ENABLED_SUMMARY = "enabled this detector"


@dataclass
class Account:
    """The account's GuardDuty as scanned, and what a run did to it."""

    scan: RegionScan[GuardDutyRegion]
    turned_on: dict[str, str] = field(default_factory=dict)  # region -> detector id
    errors: dict[str, str] = field(default_factory=dict)  # region -> why it could not be turned on
    recorded: dict[str, Any] = field(default_factory=dict)  # the record's `changed` before acting

    @property
    def refused(self) -> list[str]:
        return [f"{region} ({code})" for region, code in sorted(self.scan.skipped.items())]

    @property
    def refused_note(self) -> str:
        return f" Not checked (refused): {', '.join(self.refused)}." if self.refused else ""


@dataclass(frozen=True)
class Tags:
    """The mamori:remediated values for a detector created and one enabled, and the account."""

    created: str
    enabled: str
    account: str


def turn_on(guardduty: Any, region: str, status: GuardDutyRegion, tags: Tags) -> str:
    """Create or enable the region's detector; its id."""
    if status.detector_id is None:
        # No Features: a new detector gets GuardDuty's defaults (the foundational sources and
        # every protection plan but Runtime Monitoring), as when GuardDuty is enabled by hand.
        response = guardduty.create_detector(
            Enable=True, FindingPublishingFrequency=FINDING_PUBLISHING_FREQUENCY, Tags={REMEDIATED_TAG: tags.created}
        )
        return str(response["DetectorId"])
    # Tagged first: the mark the restore's role needs to suspend it again is there before the change.
    guardduty.tag_resource(
        ResourceArn=detector_arn(guardduty, region, tags.account, status.detector_id), Tags={REMEDIATED_TAG: tags.enabled}
    )
    guardduty.update_detector(DetectorId=status.detector_id, Enable=True)
    return status.detector_id


def plan_text(to_create: list[GuardDutyRegion], to_enable: list[GuardDutyRegion], done: bool = False) -> str:
    parts = []
    if to_create:
        parts.append(f"{'created' if done else 'create'} a detector in {', '.join(s.region for s in to_create)}")
    if to_enable:
        parts.append(f"{'enabled' if done else 'enable'} the suspended detector in {', '.join(s.region for s in to_enable)}")
    return "; ".join(parts) or "nothing"


class TurnOnGuardDuty(Remediation[Account]):
    remediation_id = "guardduty-enabled"
    resource_input = "AccountId"
    resource_pattern = r"\d{12}"
    list_outputs = ("Created", "Enabled", "Refused")

    def find(self) -> Account:
        ec2 = boto3.client("ec2")
        account = Account(guardduty_scan(enabled_regions(ec2), home_region=ec2.meta.region_name))
        self.outputs["Refused"] = account.refused
        return account

    def plan(self, target: Account) -> Plan | Nothing:
        off = regions_off(target.scan)
        if not off:
            checked = len(target.scan.results)
            return Nothing(f"GuardDuty is on in all {checked} regions checked; nothing to do.{target.refused_note}")
        to_create, to_enable = split(off)
        return Plan(
            changes=[f"create a detector in {s.region}" for s in to_create]
            + [f"enable {s.detector_id} in {s.region}" for s in to_enable],
            data={status.region: status for status in off},
            outputs={
                "Created": [f"{s.region}: (dry run)" for s in to_create],
                "Enabled": [f"{s.region}: {s.detector_id}" for s in to_enable],
            },
        )

    def dry_run_message(self, target: Account, plan: Plan) -> str:
        to_create, to_enable = split(plan.data.values())
        return f"Would {plan_text(to_create, to_enable)}; changed nothing.{target.refused_note}"

    def record(self, target: Account, plan: Plan, previous: Record | None) -> dict[str, Any]:
        # A detector about to be created has no id yet (None): restore finds it by its tag.
        created: dict[str, str | None] = dict(previous.changed.get("created") or {}) if previous else {}
        enabled: dict[str, str] = dict(previous.changed.get("enabled") or {}) if previous else {}
        for status in plan.data.values():
            if status.detector_id is None:
                created[status.region] = None
            elif created.get(status.region) != status.detector_id:  # mamori's own detector stays "created"
                enabled[status.region] = status.detector_id
        target.recorded = {"created": created, "enabled": enabled}
        return target.recorded

    def apply(self, target: Account, plan: Plan) -> dict[str, Any]:
        planned: dict[str, GuardDutyRegion] = plan.data
        # The tag goes on with CreateDetector: a detector whose id the record missed is still found.
        tags = Tags(self.remediated_tag(CREATED_SUMMARY), self.remediated_tag(ENABLED_SUMMARY), self.resource_id)
        acted = scan_regions("guardduty", sorted(planned), lambda client, region: turn_on(client, region, planned[region], tags))
        target.turned_on, target.errors = acted.results, acted.unanswered()
        created = dict(target.recorded["created"])
        created.update({region: i for region, i in acted.results.items() if planned[region].detector_id is None})
        # A failed UpdateDetector left the detector suspended: nothing of mamori's to undo.
        enabled = {
            region: i
            for region, i in target.recorded["enabled"].items()
            if not (region in target.errors and i == planned[region].detector_id)
        }
        changed: dict[str, Any] = {"created": created, "enabled": enabled}
        if target.errors:
            # For people only (the failure message has them in full): left out if they do not fit.
            failed = {"failed": {region: error[:100] for region, error in target.errors.items()}}
            if fits(Record(self.remediation_id, self.resource_id, self.document, timestamp(self.now), changed | failed)):
                changed |= failed
        to_create, to_enable = split(status for region, status in planned.items() if region in acted.results)
        self.outputs["Created"] = [f"{status.region}: {acted.results[status.region]}" for status in to_create]
        self.outputs["Enabled"] = [f"{status.region}: {status.detector_id}" for status in to_enable]
        return changed

    def still_wrong(self, target: Account, plan: Plan) -> str | None:
        # Same decision, live state: GuardDuty must be on in every region acted on.
        planned = sorted(plan.data)
        after = scan_regions("guardduty", planned, region_guardduty)
        problems = after.failed | after.skipped | target.errors
        still_off = {
            region: problems.get(region) or (after.results[region].describe() if region in after.results else "unknown")
            for region in planned
            if not (region in after.results and after.results[region].enabled)
        }
        if not still_off:
            return None
        listed = "; ".join(f"{region}: {why}" for region, why in still_off.items())
        return f"GuardDuty is still off in {len(still_off)} region(s): {listed}{ADMINISTRATOR_HINT}"

    def done_message(self, target: Account, plan: Plan) -> str:
        to_create, to_enable = split(status for region, status in plan.data.items() if region in target.turned_on)
        others = f" Turned on meanwhile by someone else: {', '.join(sorted(target.errors))}." if target.errors else ""
        return (
            f"Turned GuardDuty on in {len(to_create) + len(to_enable)} region(s): "
            f"{plan_text(to_create, to_enable, done=True)}."
            f"{others} Recorded at {self.record_path}; undo with {self.restore_document}.{target.refused_note}"
        )


def split(statuses: Iterable[GuardDutyRegion]) -> tuple[list[GuardDutyRegion], list[GuardDutyRegion]]:
    """(regions without a detector, regions with a suspended one), in region order."""
    ordered = sorted(statuses, key=lambda status: status.region)
    return [s for s in ordered if s.detector_id is None], [s for s in ordered if s.detector_id is not None]


def handler(events: dict[str, Any], context: Any) -> dict[str, Any]:
    return run_remediation(TurnOnGuardDuty(events))
