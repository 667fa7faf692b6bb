"""The remediation kernel: the steps every mamori remediation and restore takes, in one order,
reported in one vocabulary (mamori.status), recorded in one envelope (mamori.records) and
tagged by one writer.

A document's script supplies only what is particular to it, as a subclass of Remediation or
Restore (how to find the resource, what would change, how to change it, how to say it), and
its handler is `run_remediation(MyRemediation(events))` or `run_restore(MyRestore(events))`.

    run_remediation: validate → find → exempt (unless overridden)? → decide → dry run → record → act → tag
                     → decide again on live state, and fail loudly unless it is now compliant
    run_restore:     validate → read the record → find → decide → dry run → act → untag
                     → forget the record (or keep what is left) → verify

A step that cannot be done raises: SSM marks the automation Failed with the message, and
AWS Config retries it (nothing failed is reported as a success).

Inlined into SSM documents: standard library, boto3 and botocore only.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Protocol, TypeVar

import boto3

from mamori.automation import flag, required_input, timestamp, utc_now
from mamori.records import Record, RecordError, delete_record, load_record, record_path, save_record
from mamori.status import DRY_RUN, NOT_FOUND, NOTHING_TO_DO, NOTHING_TO_RESTORE, REMEDIATED, RESTORED, SKIPPED_EXEMPT, STATUSES

Target = TypeVar("Target")
TAG_LIMIT = 256  # the value length EC2, IAM and GuardDuty all accept


class Exemption(Protocol):
    """What the kernel reads of an exemption (mamori.exemption.ExemptionStatus)."""

    @property
    def applies(self) -> bool: ...

    @property
    def message(self) -> str: ...


@dataclass
class Plan:
    """What a run would change: one line per change, for people (outputs, messages), and the
    remediation's own data for apply(). An empty `changes` means nothing to do."""

    changes: list[str]
    data: Any = None
    # Extra outputs the plan fills in (e.g. {"Revoked": [...]}), returned in dry runs too.
    outputs: dict[str, Any] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.changes)


@dataclass
class Nothing:
    """Live state needs no change; `reason` says why, for the Message."""

    reason: str
    # Outputs to report all the same (e.g. recorded keys deleted since).
    outputs: dict[str, Any] = field(default_factory=dict)


def remediated_tag_value(moment: str, document: str, summary: str, undo: str | None) -> str:
    """The `mamori:remediated` value: when, which document, what, and how to undo it. Only
    characters every service's tags accept (IAM's are the strictest), at most 256."""
    hint = f" - undo with {undo}" if undo else ""
    text = f"{moment} {document} {summary}"
    cleaned = " ".join("".join(c if c.isalnum() or c in " _.:/=+-@" else " " for c in text).split())
    return cleaned[: TAG_LIMIT - len(hint)].rstrip() + hint


class Unit(Generic[Target]):
    """What a remediation and its restore share: the id, the resource input and the outputs."""

    remediation_id: ClassVar[str]  # the folder id: documents mamori-<id> and mamori-<id>-restore
    resource_input: ClassVar[str]  # the document parameter naming the resource (GroupId, UserId, …)
    resource_pattern: ClassVar[str]
    # Whether what it changes is recorded in Parameter Store for the restore.
    keeps_record: ClassVar[bool] = True
    # Outputs every run returns, empty until a plan fills them: StringList and String ones.
    list_outputs: ClassVar[tuple[str, ...]] = ()
    text_outputs: ClassVar[tuple[str, ...]] = ()

    def __init__(self, events: Mapping[str, Any]) -> None:
        self.events = events
        self.resource_id = required_input(events, self.resource_input, self.resource_pattern)
        self.dry_run = flag(events, "DryRun")
        self.now = utc_now()
        self.outputs: dict[str, Any] = {self.resource_input: self.resource_id, "DryRun": self.dry_run}
        self.outputs.update({name: [] for name in self.list_outputs} | {name: "" for name in self.text_outputs})
        # Said at the end of the Message when an exemption was overridden (exemption_override).
        self.exemption_note = ""
        self.read_parameters()

    def read_parameters(self) -> None:
        """Validate and keep the document's other parameters (ValueError naming the parameter)."""

    @property
    def document(self) -> str:
        return f"mamori-{self.remediation_id}"

    @property
    def restore_document(self) -> str | None:
        return f"mamori-{self.remediation_id}-restore"

    @property
    def record_path(self) -> str:
        return record_path(self.remediation_id, self.resource_id)

    @property
    def ssm(self) -> Any:
        return boto3.client("ssm")

    def tags(self, target: Target) -> object | None:
        """The resource's tags, for mamori:exempt; None for resources without tags (an account)."""
        return None

    def exemption(self, target: Target) -> "Exemption | None":
        """What the resource's mamori:exempt tag says; None: the resource has none (an account
        has no tags). Units of resources with tags mix in mamori.exemption.Exemptible, so that
        the exemption code is inlined only into the documents that need it."""
        return None

    def remediated_tag(self, summary: str) -> str:
        """The mamori:remediated value for this run, for resources tagged as they are created."""
        return remediated_tag_value(timestamp(self.now), self.document, summary, self.restore_document)

    def finish(self, outcome: str, message: str) -> dict[str, Any]:
        if outcome not in STATUSES:
            raise ValueError(f"{outcome} is not a mamori status")
        return {**self.outputs, "Status": outcome, "Message": message + self.exemption_note}


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

    # Record first, so that nothing is lost even if a call below fails half-way.
    record = None
    if unit.keeps_record:
        try:
            previous = load_record(unit.ssm, unit.remediation_id, unit.resource_id)
        except RecordError:
            # Not mamori's record (anyone who can write Parameter Store can put one there): it
            # is neither trusted nor allowed to keep the finding open. It is replaced below.
            previous = None
        changed = unit.record(target, plan, previous)
        record = Record(unit.remediation_id, unit.resource_id, unit.document, timestamp(unit.now), changed)
        save_record(unit.ssm, record)
    updated = unit.apply(target, plan)
    if record is not None and updated is not None:
        record.changed = updated
        save_record(unit.ssm, record)
    summary = unit.tag_summary(target, plan)
    if summary is not None:
        unit.write_tag(target, unit.remediated_tag(summary))

    # Same decision, live state: the run fails loudly unless the resource is now as it should be.
    wrong = unit.still_wrong(target, plan)
    if wrong:
        kept = f" What was done is recorded at {unit.record_path}." if record is not None else ""
        raise RuntimeError(f"{unit.resource_id} is still not remediated after the change: {wrong}.{kept}")
    return unit.finish(unit.done_status(target, plan), unit.done_message(target, plan))


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


def run_restore(unit: Restore[Any]) -> dict[str, Any]:
    record = load_record(unit.ssm, unit.remediation_id, unit.resource_id) if unit.keeps_record else None
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
        save_record(unit.ssm, record)
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
