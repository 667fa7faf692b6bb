"""The remediation kernel: the steps every mamori remediation takes, in one order, reported
in one vocabulary (mamori.status), recorded in one envelope (mamori.records) and tagged by one
writer. Its restore's steps are mamori.restoration's; what both share is mamori.unit's.

A document's script supplies only what is particular to it, as a subclass of Remediation or
Restore (how to find the resource, what would change, how to change it, how to say it), and
its handler is `run_remediation(MyRemediation(events))` or `run_restore(MyRestore(events))`.

    run_remediation: validate → find → exempt (unless overridden)? → decide → dry run → record → act → tag
                     → decide again on live state, and fail loudly unless it is now compliant
    run_restore:     validate → read the record → find → decide → dry run → act → untag
                     → forget the record (or keep what is left) → verify

A step that cannot be done raises: SSM marks the automation Failed with the message, and
AWS Config retries it (nothing failed is reported as a success).

Records (mamori.records) are signed, and only a record that verifies is acted on. The order
of a remediation keeps two promises at once, nothing lost and nothing left open: it writes
its record first (so that a failure half-way through the change still leaves one), but a
record that cannot be written (too large, KMS or SSM refusing) does not stop the change. The
exposure is closed all the same, and the run then fails (RecordProblem) with what it changed
in its message, the automation's output a person sees. A previous record that mamori did not
write is never merged: the run records only its own change over it (the planted value stays in
the parameter's history) and fails the same way, because someone who can write Parameter Store
tried to plant one. A restore refuses such a record and changes nothing.

Inlined into SSM documents: standard library, boto3 and botocore only.
"""

from typing import Any

import botocore.exceptions

from mamori.automation import timestamp
from mamori.records import Record, RecordError, UntrustedRecord, canonical, load_record, save_record
from mamori.status import DRY_RUN, NOT_FOUND, NOTHING_TO_DO, REMEDIATED, SKIPPED_EXEMPT
from mamori.unit import Nothing, Plan, Target, Unit

# Plan, Nothing, Target and Unit are mamori.unit's, named here too for the remediations' scripts.
__all__ = ["Nothing", "Plan", "RecordProblem", "Remediation", "Target", "Unit", "run_remediation"]


class Remediation(Unit[Target]):
    """One remediation document's particulars. The kernel calls them in run_remediation's order."""

    def find(self) -> Target | None:
        """The live resource, or None when it no longer exists."""
        raise NotImplementedError

    def not_found_message(self) -> str:
        return f"{self.resource_id} no longer exists; nothing to do."

    def exemption_override(self) -> str | None:
        """Why this run acts on the resource although it is exempt (e.g. AWS reported abuse
        about it: the account is at stake), or None: an exempt resource is skipped."""
        return None

    def plan(self, target: Target) -> Plan | Nothing:
        """The rule's own decision on the live resource: what would change, or why nothing."""
        raise NotImplementedError

    def record(self, target: Target, plan: Plan, previous: Record | None) -> dict[str, Any]:
        """What the record's `changed` holds after this run (previous: the record already kept)."""
        return {"changes": plan.changes}

    def apply(self, target: Target, plan: Plan) -> dict[str, Any] | None:
        """Make the changes. May return an updated `changed` to record (e.g. new ids)."""
        raise NotImplementedError

    def tag_summary(self, target: Target, plan: Plan) -> str | None:
        """What the mamori:remediated tag says was done; None: the resource has no tags."""
        return None

    def write_tag(self, target: Target, value: str) -> None:
        raise NotImplementedError

    def still_wrong(self, target: Target, plan: Plan) -> str | None:
        """After acting: what is still wrong on live state (fails the run), or None. By
        default the rule's decision is taken again."""
        again = self.plan(target)
        return "; ".join(again.changes) if isinstance(again, Plan) and again else None

    def dry_run_message(self, target: Target, plan: Plan) -> str:
        return f"Would {'; '.join(plan.changes)}; changed nothing."

    def done_message(self, target: Target, plan: Plan) -> str:
        raise NotImplementedError

    def done_status(self, target: Target, plan: Plan) -> str:
        """REMEDIATED; a remediation that can only tell a person says NOTIFIED."""
        return REMEDIATED


class RecordProblem(RuntimeError):
    """The remediation acted, but its record could not be written or replaced one mamori did
    not write: the run fails, and its message (the automation's output) says what was done."""


def _previous_record(unit: Remediation[Any]) -> tuple[Record | None, str | None]:
    """(the verified previous record, or None; why what was there is not used, or None)."""
    try:
        return load_record(unit.ssm, unit.remediation_id, unit.resource_id, unit.kms), None
    except UntrustedRecord as error:
        # Anyone who can write Parameter Store can put one there: it is neither merged (a
        # restore would act on it) nor allowed to keep the finding open.
        return None, f"{error}; it was replaced by this run's record, not merged (its value stays in the parameter's history)"
    except (botocore.exceptions.ClientError, RecordError) as error:
        return None, f"the record at {unit.record_path} could not be verified ({error}), so it was not merged"


def _write(unit: Remediation[Any], record: Record) -> str | None:
    """Sign and write the record; None, or why it could not be written."""
    try:
        save_record(unit.ssm, record, unit.kms)
    except (botocore.exceptions.ClientError, RecordError) as error:
        return f"its record could not be written to {unit.record_path}: {error}"
    return None


def run_remediation(unit: Remediation[Any]) -> dict[str, Any]:
    target = unit.find()
    if target is None:
        return unit.finish(NOT_FOUND, unit.not_found_message())
    exemption = unit.exemption(target)
    if exemption is not None and exemption.applies:
        override = unit.exemption_override()
        if override is None:
            return unit.finish(SKIPPED_EXEMPT, exemption.message)
        unit.exemption_note = f" {exemption.message} - overridden: {override}."

    plan = unit.plan(target)
    if isinstance(plan, Nothing) or not plan:
        if isinstance(plan, Nothing):
            unit.outputs.update(plan.outputs)
        reason = plan.reason if isinstance(plan, Nothing) else "Nothing to change."
        return unit.finish(NOTHING_TO_DO, reason)
    unit.outputs.update(plan.outputs)
    if unit.dry_run:
        return unit.finish(DRY_RUN, unit.dry_run_message(target, plan))

    # Record first, so that nothing is lost even if a call below fails half-way; but a record
    # that cannot be written never keeps the exposure open: act anyway, and fail loudly after.
    record, problems, unwritten = None, [], None
    if unit.keeps_record:
        previous, distrusted = _previous_record(unit)
        problems += [distrusted] if distrusted else []
        record = Record(unit.remediation_id, unit.resource_id, unit.document, timestamp(unit.now), {})
        record.changed = unit.record(target, plan, previous)
        unwritten = _write(unit, record)
        unit.record_saved = unwritten is None
    unit.acted = True
    try:
        updated = unit.apply(target, plan)
    except Exception as error:
        if record is None or unit.record_saved:
            raise
        raise RecordProblem(f"{error}. {unrecorded_text(unit, plan, record, unwritten)}") from error
    if record is not None and (updated is not None or not unit.record_saved):
        record.changed = updated if updated is not None else record.changed
        unwritten = _write(unit, record)
        unit.record_saved = unwritten is None
    summary = unit.tag_summary(target, plan)
    if summary is not None:
        unit.write_tag(target, unit.remediated_tag(summary))
    if record is not None and not unit.record_saved:
        problems.append(unrecorded_text(unit, plan, record, unwritten))

    # Same decision, live state: the run fails loudly unless the resource is now as it should be.
    wrong = unit.still_wrong(target, plan)
    if wrong:
        kept = f" What was done is recorded at {unit.record_path}." if unit.record_saved else ""
        raise RuntimeError(f"{unit.resource_id} is still not remediated after the change: {wrong}.{kept} {' '.join(problems)}")
    if problems:
        done = unit.done_message(target, plan) if unit.record_saved else f"Changed {unit.resource_id} as the rule asked."
        raise RecordProblem(f"{done} But {' '.join(problems)}")
    return unit.finish(unit.done_status(target, plan), unit.done_message(target, plan))


def unrecorded_text(unit: Remediation[Any], plan: Plan, record: Record, why: str | None) -> str:
    """What a run whose record is not written says instead: why, and what it changed (the
    record it could not write), so that nothing is lost."""
    return (
        f"{why}. Changed all the same: {'; '.join(plan.changes)}. The record it would have written: "
        f"{canonical(record.envelope(''))}"
    )
