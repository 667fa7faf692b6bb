"""The restore kernel: the steps every mamori restore takes, in one order (mamori.remediation
describes both): validate → read the record, refused unless mamori signed it → find → decide →
dry run → act → untag → forget the record (or keep what is left) → verify.

Inlined into SSM documents: standard library, boto3 and botocore only.
"""

from typing import Any

from mamori.records import Record, UntrustedRecord, delete_record, load_record, save_record
from mamori.status import DRY_RUN, NOT_FOUND, NOTHING_TO_RESTORE, RESTORED
from mamori.unit import Nothing, Plan, Target, Unit

# Plan and Nothing are mamori.unit's, named here too for the restores' scripts.
__all__ = ["Nothing", "Plan", "Restore", "run_restore"]


class Restore(Unit[Target]):
    """One restore document's particulars. The kernel calls them in run_restore's order."""

    @property
    def document(self) -> str:
        return f"mamori-{self.remediation_id}-restore"

    def find(self, record: Record | None) -> Target | None:
        """The live resource (the record says where, for resources that move across regions)."""
        raise NotImplementedError

    def when_gone(self, record: Record | None) -> dict[str, Any]:
        """The resource no longer exists. With a record, fail and keep it for a person;
        without one (a restore that keeps none), there is nothing to undo."""
        if record is None:
            return self.finish(NOT_FOUND, f"{self.resource_id} no longer exists; nothing to restore.")
        raise RuntimeError(f"{self.resource_id} no longer exists; its record is kept at {self.record_path}.")

    def plan(self, target: Target, record: Record | None) -> Plan | Nothing:
        raise NotImplementedError

    def apply(self, target: Target, plan: Plan, record: Record | None) -> dict[str, Any] | None:
        """Undo. Returns what is left to undo (kept in the record for another run) or None."""
        raise NotImplementedError

    def remove_tag(self, target: Target) -> None:
        """Remove the mamori:remediated tag, where the resource has one."""

    def verify(self, target: Target, plan: Plan) -> None:
        """After undoing: raise if live state is not as recorded."""

    def dry_run_message(self, target: Target, plan: Plan) -> str:
        return f"Would {'; '.join(plan.changes)}; changed nothing."

    def exempt_hint(self, target: Target) -> str:
        """What happens next when the resource is not exempt (the rule flags it again)."""
        return ""

    def done_message(self, target: Target, plan: Plan) -> str:
        raise NotImplementedError

    def no_record_message(self) -> str:
        return f"No mamori record at {self.record_path}; nothing to restore."


def trusted_record(unit: Unit[Any]) -> Record | None:
    """The unit's verified record, or None. A record mamori did not write is refused, loudly
    and before anything is read or changed."""
    try:
        return load_record(unit.ssm, unit.remediation_id, unit.resource_id, unit.kms)
    except UntrustedRecord as error:
        # Who wrote it: CloudTrail (PutParameter); an earlier version in its history may be mamori's.
        raise RuntimeError(f"Refused: {error}. Nothing was changed.") from None


def run_restore(unit: Restore[Any]) -> dict[str, Any]:
    record = trusted_record(unit) if unit.keeps_record else None
    if unit.keeps_record and record is None:
        return unit.finish(NOTHING_TO_RESTORE, unit.no_record_message())
    target = unit.find(record)
    if target is None:
        return unit.when_gone(record)

    plan = unit.plan(target, record)
    if isinstance(plan, Nothing) or not plan:
        if isinstance(plan, Nothing):
            unit.outputs.update(plan.outputs)
        if not unit.dry_run:
            # Nothing left to undo: no record, and no tag that points to a restore, stays behind.
            unit.remove_tag(target)
            if record is not None:
                delete_record(unit.ssm, unit.remediation_id, unit.resource_id)
        reason = plan.reason if isinstance(plan, Nothing) else "Nothing of mamori's is left to undo."
        return unit.finish(NOTHING_TO_RESTORE, reason)
    unit.outputs.update(plan.outputs)
    if unit.dry_run:
        return unit.finish(DRY_RUN, unit.dry_run_message(target, plan))

    left = unit.apply(target, plan, record)
    unit.remove_tag(target)
    if record is not None and left:
        record.changed = left
        save_record(unit.ssm, record, unit.kms)  # re-signed: what is left is still mamori's record
        raise RuntimeError(
            f"Restored only part of {unit.resource_id}; what is left is kept at {unit.record_path} "
            f"for another run: {unit.done_message(target, plan)}"
        )
    # The record goes only once live state is as it was: a restore that did not stick keeps it.
    unit.verify(target, plan)
    if record is not None:
        delete_record(unit.ssm, unit.remediation_id, unit.resource_id)
    exemption = unit.exemption(target)
    hint = "" if exemption is not None and exemption.applies else unit.exempt_hint(target)
    return unit.finish(RESTORED, unit.done_message(target, plan) + hint)
