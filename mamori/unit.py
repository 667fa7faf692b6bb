"""What every remediation and restore of mamori shares (the remediation kernel: the steps of
a remediation are mamori.remediation's, those of a restore mamori.restoration's): the plan, the
unit with its resource input, outputs and clients, and the `mamori:remediated` tag.

A document inlines only the kernel it runs: a remediation's script this module and
mamori.remediation, a restore's this module and mamori.restoration (every document repeats
what it inlines, and CloudFormation takes at most 1 MB of template).

Inlined into SSM documents: standard library, boto3 and botocore only.
"""

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Protocol, TypeVar

import boto3

from mamori.automation import flag, required_input, timestamp, utc_now
from mamori.records import record_path
from mamori.status import STATUSES

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
        # Set by the kernel: whether this run changed anything, and whether its record is written.
        self.acted = False
        self.record_saved = False
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

    @functools.cached_property
    def ssm(self) -> Any:
        return boto3.client("ssm")

    @functools.cached_property
    def kms(self) -> Any:
        """Of the records' region: the record key signs and verifies where the record is kept."""
        return boto3.client("kms", region_name=self.ssm.meta.region_name)

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
