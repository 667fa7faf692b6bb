"""EC2 instances in regions nobody approved: listing them in a region, and the one decision
about each. The rule mamori-unapproved-regions and its remediation scripts share both, so
the remediation re-checks live state exactly as the rule decided.

Inlined into SSM documents: standard library, botocore-shaped answers and mamori modules only.
"""

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mamori.exemption import exemption_status, tags_as_dict
from mamori.regions import REGION_NAME

INSTANCE_RESOURCE_TYPE = "AWS::EC2::Instance"
INSTANCE_ID_PATTERN = r"i-[0-9a-f]{8,17}"
# A comma-separated list of region names, as the ApprovedRegions parameter takes it.
REGION_LIST_PATTERN = rf"^\s*{REGION_NAME}(\s*,\s*{REGION_NAME})*\s*$"
# Every state an instance exists in; terminated ones are gone (and cleaned from the results).
LIVE_STATES = ("pending", "running", "shutting-down", "stopping", "stopped")
# States in which an instance runs (or is about to) and costs compute.
RUNNING_STATES = ("pending", "running")
STOPPED_STATES = ("stopping", "stopped")
# The most DescribeInstances returns per call: one call per 1,000 instances in a region.
INSTANCES_PER_PAGE = 1000
# What list_instances reads of DescribeInstances' answer (instance_from_api), for the region
# workers' clients to parse only that (mamori.clients.regional_client): botocore would parse
# about 90 values of each instance for these 6, the CPU that a scan of every region spends
# one region after another (one interpreter lock).
DESCRIBE_INSTANCES_READS = (
    ("DescribeInstancesResult", ("Reservations", "NextToken")),
    ("Reservation", ("Instances",)),
    ("Instance", ("InstanceId", "State", "InstanceType", "InstanceLifecycle", "LaunchTime", "Tags")),
)


@dataclass(frozen=True)
class Instance:
    instance_id: str
    region: str
    state: str
    instance_type: str
    spot: bool
    launched: datetime.datetime | None
    tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def running(self) -> bool:
        return self.state in RUNNING_STATES

    def describe(self) -> str:
        """'running c5.4xlarge (spot), launched 2026-11-19 03:12 UTC'"""
        spot = " (spot)" if self.spot else ""
        launched = f", launched {self.launched.astimezone(datetime.UTC):%Y-%m-%d %H:%M} UTC" if self.launched else ""
        return f"{self.state} {self.instance_type}{spot}{launched}"


def instance_from_api(item: Mapping[str, Any], region: str) -> Instance:
    """One item of DescribeInstances' Reservations[].Instances[]."""
    return Instance(
        instance_id=str(item["InstanceId"]),
        region=region,
        state=str(item.get("State", {}).get("Name", "")),
        instance_type=str(item.get("InstanceType", "")),
        spot=item.get("InstanceLifecycle") == "spot",
        launched=item.get("LaunchTime"),
        tags=tags_as_dict(item.get("Tags") or []),
    )


def list_instances(ec2: Any, region: str, instance_id: str | None = None) -> list[Instance]:
    """The instances that exist in ec2's region (every live state), or only instance_id.
    Tags come with the answer: the exemption costs no extra call."""
    filters = [{"Name": "instance-state-name", "Values": list(LIVE_STATES)}]
    if instance_id is not None:
        # A filter, not InstanceIds: an unknown id is an empty answer, not an error.
        filters.append({"Name": "instance-id", "Values": [instance_id]})
    instances: list[Instance] = []
    request: dict[str, Any] = {"Filters": filters, "MaxResults": INSTANCES_PER_PAGE}
    while True:
        page = ec2.describe_instances(**request)
        for reservation in page.get("Reservations", []):
            instances.extend(instance_from_api(item, region) for item in reservation.get("Instances", []))
        if not page.get("NextToken"):
            return instances
        request["NextToken"] = page["NextToken"]


@dataclass(frozen=True)
class Finding:
    """The decision about one instance outside the approved regions. The annotation starts
    with '<region>: ' (how the rule finds a refused region's earlier findings); note
    explains an exemption tag that was ignored."""

    compliance: str  # NON_COMPLIANT, COMPLIANT or NOT_APPLICABLE, as AWS Config spells them
    annotation: str
    note: str = ""


def decide(instance: Instance, approved_regions: Iterable[str], today: datetime.date, max_exemption_days: int) -> Finding | None:
    """None when the instance's region is approved (nothing to say, nothing to do)."""
    region = instance.region
    if region in set(approved_regions):
        return None
    exemption = exemption_status(instance.tags, today, max_exemption_days)
    if exemption is not None and exemption.applies:
        return Finding("NOT_APPLICABLE", f"{region}: {exemption.message}"[:256])
    note = exemption.message if exemption is not None else ""
    if instance.running:
        annotation = f"{region}: {instance.describe()}; {region} is not an approved region; remediation stops it."
        return Finding("NON_COMPLIANT", annotation[:256], note)
    if instance.state in STOPPED_STATES:
        annotation = f"{region}: {instance.describe()}; {region} is not an approved region, but the instance is {instance.state}."
    else:  # shutting-down: on its way to terminated
        annotation = f"{region}: {instance.describe()}; {region} is not an approved region; the instance is being terminated."
    return Finding("COMPLIANT", annotation[:256], note)
