"""mamori-guardduty-enabled-restore: undo mamori-guardduty-enabled as recorded at
/mamori/guardduty-enabled/<account>: delete the detectors it created that still carry the
`mamori:remediated` tag it created them with (a detector whose id was not recorded yet is
recognised by that tag alone) and suspend the ones it enabled that are still enabled and still
carry the tag it put on them. Detectors mamori did not create or enable, or that are no longer
as it left them, are never touched: the role may act on no other.

Deleting a detector discards its findings. Automatic remediation turns GuardDuty back on at
the rule's next evaluation unless AutoRemediation is false (an account has no exemption tag).
"""

from dataclasses import dataclass
from typing import Any

from mamori.guardduty import detector_arn, detector_ids
from mamori.records import REMEDIATED_TAG, Record
from mamori.regions import scan_regions
from mamori.restoration import Nothing, Plan, Restore, run_restore

WARNING = (
    " Deleting a detector discards its findings (suspending keeps them). Where GuardDuty is off again, automatic"
    " remediation turns it back on at mamori-guardduty-enabled's next evaluation unless AutoRemediation is false or"
    " the rule's remediation configuration is removed (an account has no mamori:exempt tag)."
)


@dataclass(frozen=True)
class Undo:
    """What to undo in one region: the detectors mamori created, the one it enabled."""

    delete: tuple[str, ...] = ()
    suspend: str | None = None
    # Recorded as created by mamori but no longer carrying its tag: not as mamori left it.
    left_alone: tuple[str, ...] = ()


@dataclass
class Recorded:
    """The record's regions: detectors created (None: created, id not recorded) and enabled."""

    created: dict[str, str | None]
    enabled: dict[str, str]


class UndoGuardDuty(Restore[Recorded]):
    remediation_id = "guardduty-enabled"
    resource_input = "AccountId"
    resource_pattern = r"\d{12}"
    list_outputs = ("Deleted", "Suspended", "Kept")

    def read_parameters(self) -> None:
        self.left_alone: list[str] = []

    def find(self, record: Record | None) -> Recorded:
        changed = record.changed if record else {}
        return Recorded(dict(changed.get("created") or {}), dict(changed.get("enabled") or {}))

    def plan(self, target: Recorded, record: Record | None) -> Plan | Nothing:
        regions = sorted(set(target.created) | set(target.enabled))
        found = scan_regions("guardduty", regions, lambda guardduty, region: self.what_to_undo(guardduty, region, target))
        undo = {region: todo for region, todo in sorted(found.results.items()) if todo.delete or todo.suspend}
        unreached = found.unanswered()
        self.left_alone = [f"{region}: {i}" for region, todo in sorted(found.results.items()) for i in todo.left_alone]
        left = (
            f" Left alone, no longer tagged {REMEDIATED_TAG} as mamori created them: {', '.join(self.left_alone)}."
            if self.left_alone
            else ""
        )
        if not undo and not unreached:
            forget = "would remove" if self.dry_run else "removed"
            return Nothing(f"Nothing of what {self.record_path} names is left to undo; {forget} the record.{left}")
        deleted, suspended = described(undo)
        kept = [f"{region}: {error}" for region, error in sorted(unreached.items())]
        counts = f"delete {len(deleted)} detector(s) mamori created and suspend {len(suspended)} it enabled"
        return Plan(
            changes=[counts] + [f"keep {text} in the record" for text in kept],
            data=(undo, unreached),
            outputs={"Deleted": deleted, "Suspended": suspended, "Kept": kept},
        )

    def what_to_undo(self, guardduty: Any, region: str, target: Recorded) -> Undo:
        listed = detector_ids(guardduty)
        delete: tuple[str, ...] = ()
        left_alone: tuple[str, ...] = ()
        if region in target.created:
            recorded = target.created[region]
            candidates = [detector_id for detector_id in listed if recorded in (None, detector_id)]
            # Only a detector mamori created: the one recorded (or, before its id was recorded,
            # any) that still carries the tag CreateDetector put on it.
            tagged = {
                detector_id: REMEDIATED_TAG in (guardduty.get_detector(DetectorId=detector_id).get("Tags") or {})
                for detector_id in candidates
            }
            delete = tuple(detector_id for detector_id in candidates if tagged[detector_id])
            left_alone = tuple(detector_id for detector_id in candidates if recorded and not tagged[detector_id])
        enabled_id = target.enabled.get(region)
        suspend = None
        if enabled_id in listed and enabled_id not in delete:
            detector = guardduty.get_detector(DetectorId=enabled_id)
            # A detector suspended since by someone else, or no longer carrying mamori's tag, is
            # left as it is.
            if detector.get("Status") == "ENABLED" and REMEDIATED_TAG in (detector.get("Tags") or {}):
                suspend = enabled_id
        return Undo(delete, suspend, left_alone)

    def apply(self, target: Recorded, plan: Plan, record: Record | None) -> dict[str, Any] | None:
        undo: dict[str, Undo] = plan.data[0]

        def act(guardduty: Any, region: str) -> None:
            for detector_id in undo[region].delete:
                guardduty.delete_detector(DetectorId=detector_id)
            suspend = undo[region].suspend
            if suspend:
                guardduty.update_detector(DetectorId=suspend, Enable=False)
                guardduty.untag_resource(
                    ResourceArn=detector_arn(guardduty, region, self.resource_id, suspend), TagKeys=[REMEDIATED_TAG]
                )

        done = scan_regions("guardduty", sorted(undo), act)
        unreached: dict[str, str] = plan.data[1] | done.unanswered()
        self.outputs["Deleted"], self.outputs["Suspended"] = described({region: undo[region] for region in done.results})
        self.outputs["Kept"] = [f"{region}: {error}" for region, error in sorted(unreached.items())]
        if not unreached:
            return None
        # Keep what could not be undone, and only that, for the next run.
        return {
            "created": {region: value for region, value in target.created.items() if region in unreached},
            "enabled": {region: value for region, value in target.enabled.items() if region in unreached},
        }

    def exempt_hint(self, target: Recorded) -> str:
        return WARNING

    def done_message(self, target: Recorded, plan: Plan) -> str:
        counts = (len(self.outputs["Deleted"]), len(self.outputs["Suspended"]))
        message = "Deleted {} detector(s) mamori created and suspended {} it enabled.".format(*counts)
        if self.outputs["Kept"]:
            message += f" Not restored: {'; '.join(self.outputs['Kept'])}."
        if self.left_alone:
            message += f" Left alone, no longer tagged {REMEDIATED_TAG} as mamori created them: {', '.join(self.left_alone)}."
        return message


def described(undo: dict[str, Undo]) -> tuple[list[str], list[str]]:
    """('<region>: <detector id>' of each detector to delete, and of each to suspend), by region."""
    ordered = sorted(undo.items())
    deleted = [f"{region}: {i}" for region, todo in ordered for i in todo.delete]
    return deleted, [f"{region}: {todo.suspend}" for region, todo in ordered if todo.suspend]


def handler(events: dict[str, Any], context: Any) -> dict[str, Any]:
    return run_restore(UndoGuardDuty(events))
