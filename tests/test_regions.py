"""mamori.regions: the ApprovedRegions list, the account's enabled regions, and asking every
region at once. moto stands in for EC2; the sandbox (harness.aws) stands in for what moto
gets unlike a real account: DescribeRegions lists the 17 default regions plus those opted in
to, and deny_region answers every call into a region with an error (an SCP, not opted in)."""

import datetime
import threading
from typing import Any, ClassVar

import boto3
import pytest

from harness.aws import DEFAULT_REGIONS, Sandbox
from mamori import clients
from mamori.instances import DESCRIBE_INSTANCES_READS, Instance, instance_from_api, list_instances
from mamori.regions import REGION_REFUSALS, enabled_regions, parse_regions, scan_regions


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("us-east-1", ("us-east-1",)),
        (" us-east-1 , eu-west-1 ", ("us-east-1", "eu-west-1")),
        ("us-east-1,eu-west-1,us-east-1", ("us-east-1", "eu-west-1")),  # duplicates once, first order kept
        ("us-gov-west-1,ap-southeast-4,", ("us-gov-west-1", "ap-southeast-4")),
    ],
)
def test_parse_regions(text: str, expected: tuple[str, ...]) -> None:
    assert parse_regions(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "name at least one region"),
        (" , ,", "name at least one region"),
        ("us-east1", "'us-east1' is not a region name"),
        ("us-east-1,EU-WEST-1", "'EU-WEST-1' is not a region name"),
        ("us-east-1;eu-west-1", "'us-east-1;eu-west-1' is not a region name"),
        ("all", "'all' is not a region name"),
    ],
)
def test_parse_regions_refuses_what_is_not_a_region_list(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_regions(text)


def test_enabled_regions_are_the_default_ones_and_those_opted_in_to(sandbox: Sandbox, ec2: Any) -> None:
    assert enabled_regions(ec2) == sorted(DEFAULT_REGIONS)

    sandbox.opted_in_regions = ["me-south-1", "af-south-1"]

    assert enabled_regions(ec2) == sorted([*DEFAULT_REGIONS, "me-south-1", "af-south-1"])


def launch(region: str) -> str:
    ec2 = boto3.client("ec2", region_name=region)
    return str(ec2.run_instances(ImageId="ami-0123456789abcdef0", MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"])


def instance_ids(ec2: Any, region: str) -> list[str]:
    assert ec2.meta.region_name == region  # each region is asked with its own client
    return [i["InstanceId"] for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]]


def test_each_region_answers_for_itself(sandbox: Sandbox) -> None:
    paris, mumbai = launch("eu-west-3"), launch("ap-south-1")

    scan = scan_regions("ec2", ["eu-west-3", "ap-south-1", "us-west-2"], instance_ids)

    assert scan.results == {"eu-west-3": [paris], "ap-south-1": [mumbai], "us-west-2": []}
    assert (scan.skipped, scan.failed) == ({}, {})


def test_refusals_are_skipped_and_other_errors_are_failures(sandbox: Sandbox) -> None:
    sandbox.deny_region("eu-west-3", "UnauthorizedOperation")  # an SCP, as EC2 answers it
    sandbox.deny_region("me-south-1", "AuthFailure")  # a region not opted in
    sandbox.deny_region("ap-south-1", "InternalError")
    sandbox.deny_region("sa-east-1", "RequestLimitExceeded")

    scan = scan_regions("ec2", ["eu-west-3", "me-south-1", "ap-south-1", "sa-east-1", "us-west-2"], instance_ids)

    assert scan.results == {"us-west-2": []}
    assert scan.skipped == {"eu-west-3": "UnauthorizedOperation", "me-south-1": "AuthFailure"}
    assert set(scan.failed) == {"ap-south-1", "sa-east-1"}
    assert scan.failed["ap-south-1"].startswith("InternalError: ")
    assert scan.failed["sa-east-1"].startswith("RequestLimitExceeded: ")
    assert scan.skipped_text() == "eu-west-3 (UnauthorizedOperation), me-south-1 (AuthFailure)"
    assert scan.failed_text().startswith("ap-south-1: InternalError: ")
    assert {"UnauthorizedOperation", "AuthFailure", "AccessDenied", "OptInRequired"} <= REGION_REFUSALS


def test_a_bug_in_the_task_is_not_mistaken_for_a_region_problem(sandbox: Sandbox) -> None:
    def broken(ec2: Any, region: str) -> None:
        raise KeyError("Reservations")

    with pytest.raises(KeyError):
        scan_regions("ec2", ["eu-west-3"], broken)


def test_no_regions_no_calls(sandbox: Sandbox) -> None:
    scan = scan_regions("ec2", [], instance_ids)

    assert (scan.results, scan.skipped, scan.failed) == ({}, {}, {})


class InFlight:
    """Counts the tasks running at the same moment, and the most there ever were."""

    def __init__(self) -> None:
        self.now = self.most = 0
        self._lock = threading.Lock()

    def __enter__(self) -> None:
        with self._lock:
            self.now += 1
            self.most = max(self.most, self.now)

    def __exit__(self, *_: object) -> None:
        with self._lock:
            self.now -= 1


def test_every_region_is_asked_at_once(sandbox: Sandbox) -> None:
    """All 17 tasks must be in flight together to pass the barrier: asked one after another,
    the first would wait there alone and the barrier would break."""
    regions = sorted(DEFAULT_REGIONS)
    everyone = threading.Barrier(len(regions), timeout=30)
    in_flight = InFlight()

    def task(ec2: Any, region: str) -> list[str]:
        with in_flight:
            everyone.wait()
            return instance_ids(ec2, region)

    scan = scan_regions("ec2", regions, task)

    assert sorted(scan.results) == regions
    assert in_flight.most == len(regions)


def test_at_most_max_concurrent_regions_at_once(sandbox: Sandbox) -> None:
    """Eight regions, four at a time: two waves of four meet at a barrier of four (fewer at once
    would break it), and the count never goes above four."""
    regions = sorted(DEFAULT_REGIONS)[:8]
    four = threading.Barrier(4, timeout=30)
    in_flight = InFlight()

    def task(ec2: Any, region: str) -> str:
        with in_flight:
            four.wait()
            return region

    scan = scan_regions("ec2", regions, task, max_concurrent=4)

    assert scan.results == {region: region for region in regions}
    assert in_flight.most == 4


def test_a_broken_barrier_would_show(sandbox: Sandbox) -> None:
    """The concurrency tests above can fail: with one region at a time the barrier breaks."""
    regions = sorted(DEFAULT_REGIONS)[:2]
    both = threading.Barrier(2, timeout=0.5)

    def task(ec2: Any, region: str) -> None:
        both.wait()

    with pytest.raises(threading.BrokenBarrierError):
        scan_regions("ec2", regions, task, max_concurrent=1)


def test_a_scan_parses_only_what_it_reads(sandbox: Sandbox) -> None:
    """The rule's workers parse only DESCRIBE_INSTANCES_READS of each instance (botocore parses
    what the service model names): the same Instances as a whole answer gives, and
    instance_from_api reads nothing that is not parsed."""
    ec2 = boto3.client("ec2", region_name="eu-west-3")
    launched = ec2.run_instances(
        ImageId="ami-0123456789abcdef0",
        MinCount=3,
        MaxCount=3,
        InstanceType="c5.xlarge",
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "mamori:exempt", "Value": "GPU lab"}]}],
    )["Instances"]
    ec2.stop_instances(InstanceIds=[launched[0]["InstanceId"]])
    ec2.run_instances(ImageId="ami-0123456789abcdef0", MinCount=1, MaxCount=1, InstanceMarketOptions={"MarketType": "spot"})
    regions = ["eu-west-3"]
    answers: list[dict[str, Any]] = []

    def kept(ec2: Any, region: str) -> list[Instance]:
        answers.append(ec2.describe_instances())
        return list_instances(ec2, region)

    narrowed = scan_regions("ec2", regions, kept, reads=DESCRIBE_INSTANCES_READS)
    whole = scan_regions("ec2", regions, list_instances)

    assert narrowed.results == whole.results and len(whole.results["eu-west-3"]) == 4
    assert {i.state for i in whole.results["eu-west-3"]} == {"stopped", "running"}
    assert sorted(i.spot for i in whole.results["eu-west-3"]) == [False, False, False, True]
    # Read by mamori.clients.parse_timestamp, not dateutil (which gives tzutc or tzlocal).
    assert {i.launched and i.launched.tzinfo for found in narrowed.results.values() for i in found} == {datetime.UTC}
    read = dict(DESCRIBE_INSTANCES_READS)["Instance"]
    items = [item for answer in answers for r in answer["Reservations"] for item in r["Instances"]]
    assert items and all(set(item) <= set(read) for item in items)

    class Reading(dict[str, Any]):
        """Records every key instance_from_api asks for."""

        asked: ClassVar[set[str]] = set()

        def __getitem__(self, key: str) -> Any:
            Reading.asked.add(key)
            return super().__getitem__(key)

        def get(self, key: str, default: Any = None) -> Any:
            Reading.asked.add(key)
            return super().get(key, default)

    for item in items:
        instance_from_api(Reading(item), "eu-west-3")
    assert Reading.asked and Reading.asked <= set(read)


def test_reads_name_members_the_model_has(sandbox: Sandbox) -> None:
    """A misspelt member fails when the client is made, not as a value silently missing."""
    with pytest.raises(ValueError, match="Instance has no members"):
        clients.regional_client("ec2", "eu-west-3", clients.origin(), reads=(("Instance", ("InstanceId", "Colour")),))
