"""GuardDuty findings of crypto-mining or instance-credential theft, read into one typed finding,
and the containment of the instance on the remediation kernel: snapshot its volumes (evidence),
stop it (never terminate), tag and record it, restorably.

The forgotten root key of the incident ran mining instances in nine regions for days. GuardDuty
names such an instance within minutes, in the region it runs in (findings are regional, so the
responder runs in every region of the pack).

Event shape: the EventBridge envelope of AWS's GuardDuty User Guide ("Creating custom responses to
GuardDuty findings with Amazon EventBridge": source aws.guardduty, detail-type "GuardDuty Finding",
the finding as `detail`), the finding in GuardDuty's finding format, whose JSON member names are
botocore's guardduty service model's (Finding: schemaVersion, accountId, region, id, arn, type,
severity, title, resource.resourceType / resource.instanceDetails.instanceId, service.archived,
service.count).
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import botocore.exceptions

from mamori.automation import timestamp
from mamori.aws_api import ACCOUNT_ID, error_text
from mamori.instance_stop import InstanceStop
from mamori.instances import INSTANCE_ID_PATTERN, RUNNING_STATES, Instance, list_instances
from mamori.records import Record
from mamori.remediation import Nothing, Plan

SOURCE = "aws.guardduty"
DETAIL_TYPE = "GuardDuty Finding"
RESPONDER = "mamori-miner-responder"
# The finding types the pack parameter MinerFindingTypes defaults to. A trailing ".*" matches
# every type that starts with what comes before it (GuardDuty adds suffixes: .OutsideAWS, .InsideAWS).
DEFAULT_FINDING_TYPES = (
    "CryptoCurrency:EC2/BitcoinTool.B",
    "CryptoCurrency:EC2/BitcoinTool.B!DNS",
    "Impact:Runtime/CryptoMinerExecuted",
    "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.*",
)
# GuardDuty's severities: Low 1.0-3.9, Medium 4.0-6.9, High 7.0-8.9, Critical 9.0-10.0 (GuardDuty
# User Guide, "Severity levels of GuardDuty findings"). The default floor acts from Medium up.
DEFAULT_SEVERITY_FLOOR = "4"
FINDING_TYPE = r"[A-Za-z0-9]+:[A-Za-z0-9]+/[A-Za-z0-9.!_-]+?(\.\*)?"
FINDING_TYPES_PATTERN = rf"^\s*{FINDING_TYPE}(\s*,\s*{FINDING_TYPE})*\s*$"
SEVERITY_PATTERN = r"^(10(\.0+)?|\d(\.\d+)?)$"
INSTANCE_ID = re.compile(rf"^{INSTANCE_ID_PATTERN}$")
EVIDENCE_TAG = "mamori:evidence"


class NotAFinding(ValueError):
    """The event is not a GuardDuty finding that can be read; str() says why."""


@dataclass(frozen=True)
class MinerFinding:
    event_id: str
    finding_id: str
    finding_type: str
    severity: float
    account: str
    region: str
    instance_id: str | None  # resource.instanceDetails.instanceId, when the finding names one
    title: str = ""
    archived: bool = False
    count: int = 1  # how often GuardDuty has seen it: more than 1 is an update of a finding it sent before

    def describe(self) -> str:
        return f"GuardDuty {self.finding_type} (severity {self.severity:g}, finding {self.finding_id})"


def _object(mapping: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = mapping.get(key)
    return value if isinstance(value, Mapping) else {}


def parse_finding(event: object) -> MinerFinding:
    """The finding an EventBridge event carries; NotAFinding with the reason otherwise."""
    if not isinstance(event, Mapping):
        raise NotAFinding(f"the event is a {type(event).__name__}, not a JSON object")
    if event.get("source") != SOURCE or event.get("detail-type") != DETAIL_TYPE:
        raise NotAFinding(
            f"source {event.get('source')!r} / detail-type {event.get('detail-type')!r} is not {SOURCE} / {DETAIL_TYPE}"
        )
    detail = event.get("detail")
    if not isinstance(detail, Mapping):
        raise NotAFinding("the event has no detail object")
    finding_type, finding_id = detail.get("type"), detail.get("id")
    if not isinstance(finding_type, str) or not finding_type or not isinstance(finding_id, str) or not finding_id:
        raise NotAFinding("detail.type or detail.id is missing")
    severity = detail.get("severity")
    if isinstance(severity, bool) or not isinstance(severity, (int, float)):
        raise NotAFinding(f"detail.severity {severity!r} is not a number")
    account = detail.get("accountId", event.get("account"))
    if not (isinstance(account, str) and ACCOUNT_ID.match(account)):
        raise NotAFinding(f"the finding's account {account!r} is not an account id")
    region = detail.get("region", event.get("region"))
    if not isinstance(region, str) or not region:
        raise NotAFinding("the finding names no region")
    resource = _object(detail, "resource")
    instance_id = _object(resource, "instanceDetails").get("instanceId")
    service = _object(detail, "service")
    count = service.get("count")
    event_id = event.get("id")
    return MinerFinding(
        event_id=event_id if isinstance(event_id, str) else "(no id)",
        finding_id=finding_id,
        finding_type=finding_type,
        severity=float(severity),
        account=account,
        region=region,
        instance_id=instance_id if isinstance(instance_id, str) and INSTANCE_ID.match(instance_id) else None,
        title=str(detail.get("title") or ""),
        archived=service.get("archived") is True,
        count=count if isinstance(count, int) and not isinstance(count, bool) and count > 0 else 1,
    )


def parse_finding_types(text: str) -> tuple[str, ...]:
    if not re.fullmatch(FINDING_TYPES_PATTERN, text or ""):
        raise ValueError(f"MinerFindingTypes: {text!r} is not a comma-separated list of GuardDuty finding types")
    return tuple(part.strip() for part in text.split(","))


def parse_severity_floor(text: str) -> float:
    if not re.fullmatch(SEVERITY_PATTERN, (text or "").strip()):
        raise ValueError(f"MinerSeverityFloor: {text!r} is not a GuardDuty severity from 0 to 10")
    return float(text)


def type_matches(finding_type: str, wanted: Sequence[str]) -> bool:
    return any(finding_type.startswith(item[:-1]) if item.endswith(".*") else finding_type == item for item in wanted)


def why_not_acted(finding: MinerFinding, wanted: Sequence[str], floor: float) -> str | None:
    """Why a finding is not one to contain (None: it is)."""
    if not type_matches(finding.finding_type, wanted):
        return f"{finding.finding_type} is not one of MinerFindingTypes"
    if finding.severity < floor:
        return f"severity {finding.severity:g} is below MinerSeverityFloor {floor:g}"
    if finding.archived:
        return "the finding is archived (someone judged it)"
    return None


@dataclass
class Snapshots:
    ids: list[str]
    error: str = ""


class StopMiningInstance(InstanceStop):
    """Snapshot (when asked) and stop the instance a finding names, in the responder's region,
    on the kernel: its exemption honoured, recorded first in the home region's Parameter Store
    (where mamori-unapproved-regions-restore reads it), tagged after, re-read after."""

    def __init__(self, finding: MinerFinding, ec2: Any, home_ssm: Any, snapshot: bool) -> None:
        self.finding = finding
        self.ec2 = ec2
        self._home_ssm = home_ssm
        self.snapshot = snapshot
        self.snapshots = Snapshots([])
        super().__init__({"InstanceId": finding.instance_id or "", "DryRun": False})

    @property
    def document(self) -> str:
        return RESPONDER

    @property
    def ssm(self) -> Any:
        return self._home_ssm

    def find(self) -> Instance | None:
        self.outputs["Region"] = self.finding.region
        found = list_instances(self.ec2, self.finding.region, self.resource_id)
        return found[0] if found else None

    def not_found_message(self) -> str:
        return f"No instance {self.resource_id} exists in {self.finding.region} (terminated); nothing to stop."

    def plan(self, target: Instance) -> Plan | Nothing:
        if target.state not in RUNNING_STATES:
            return Nothing(f"{self.resource_id} in {target.region} is {target.state}: nothing to stop.")
        first = ["snapshot its volumes (evidence)"] if self.snapshot else []
        return Plan([*first, f"stop {self.resource_id} in {target.region} ({target.describe()}) and tag it"])

    def record(self, target: Instance, plan: Plan, previous: Record | None) -> dict[str, Any]:
        # The shape mamori-unapproved-regions-restore reads (region), with why and the evidence.
        return {
            "region": target.region,
            "instanceType": target.instance_type,
            "spot": target.spot,
            "previousState": target.state,
            "reason": self.finding.describe(),
            "finding": self.finding.finding_id,
            "snapshots": [],
        }

    def apply(self, target: Instance, plan: Plan) -> dict[str, Any] | None:
        if self.snapshot:
            self.snapshots = self.take_snapshots(target)
        self.stop(target)
        if not self.snapshots.ids:
            return None
        return {**self.record(target, plan, None), "snapshots": self.snapshots.ids}

    def take_snapshots(self, target: Instance) -> Snapshots:
        """One crash-consistent snapshot of every EBS volume attached to the instance (one
        CreateSnapshots call), tagged as evidence. A failure is kept and said, not raised: the stop
        matters more, and a stopped instance keeps its volumes for a snapshot by hand."""
        evidence = f"{self.finding.finding_type} {self.finding.finding_id}"[:256]
        try:
            answer = self.ec2.create_snapshots(
                InstanceSpecification={"InstanceId": self.resource_id, "ExcludeBootVolume": False},
                Description=f"mamori: evidence of {self.resource_id} before it was stopped ({self.finding.finding_type})"[:255],
                TagSpecifications=[{"ResourceType": "snapshot", "Tags": [{"Key": EVIDENCE_TAG, "Value": evidence}]}],
                CopyTagsFromSource="volume",
            )
        except botocore.exceptions.ClientError as error:
            return Snapshots([], f"CreateSnapshots failed: {error_text(error)}")
        return Snapshots([str(item["SnapshotId"]) for item in answer.get("Snapshots", [])])

    def tag_summary(self, target: Instance, plan: Plan) -> str:
        return f"stopped it: {self.finding.finding_type}"

    def done_message(self, target: Instance, plan: Plan) -> str:
        if not self.snapshot:
            kept = "not snapshotted (SnapshotBeforeStop is false)"
        elif self.snapshots.ids:
            kept = f"volumes snapshotted first: {', '.join(self.snapshots.ids)}"
        else:
            kept = f"snapshot FAILED ({self.snapshots.error or 'no volume'}): its volumes are kept; snapshot them by hand"
        return (
            f"Stopped {self.resource_id} in {target.region} (was {target.describe()}) at {timestamp(self.now)}; not "
            f"terminated, disks kept; {kept}. Recorded at {self.record_path}; undo with {self.restore_document}."
        )
