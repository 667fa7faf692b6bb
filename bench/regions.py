"""The region scan of mamori-unapproved-regions at scale (`make bench`, section `regions`).

What is measured
* The real mamori-unapproved-regions Lambda handler (through rdklib, as Config invokes it with
  a scheduled notification) on an account with 20 enabled regions (the 17 default ones and 3
  opted in to) and, by default, 1,000 EC2 instances spread across them: most in the two
  approved regions, the rest scattered over the others; some stopped, some Spot.
* The same evaluation in the same run: with the regions asked concurrently (as deployed) and
  one region after another (mamori.regions.MAX_CONCURRENT_REGIONS = 1), in a warm container
  (its clients kept from the run before, mamori.clients) and a cold one (no client yet).
* Each region's scan run alone: the same handler with every enabled region approved but that
  one, so it scans that region only (DescribeRegions, the region's DescribeInstances pages,
  the read-back of earlier results, PutEvaluations). The whole scan's wall time against the
  slowest of these (issue 12: at most 1.5 times), both in a warm container; cold shown beside.
* Per run: every AWS API call the rule's principal made, by action, and the wall time of the
  handler call.
* The budget: one ec2:DescribeRegions, and one ec2:DescribeInstances page per unapproved region
  per 1,000 instances in it (at least one per region; approved regions are not listed, their
  instances are not evaluated); both runs deliver the same evaluations. The
  bench exits non-zero otherwise, or if the concurrent scan is not faster.

moto answers in-process, in microseconds to milliseconds, where a real regional endpoint is
a network round trip away (tens to hundreds of milliseconds from the home region). The
sandbox stands in for that with a fixed latency per call (--latency-ms, default 100 ms),
which is what concurrency saves; moto's own CPU time is not parallel (one Python process),
so the speed-up shown is a lower bound of what Lambda sees against real endpoints.
"""

import collections
import contextlib
import math
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
from moto import mock_aws
from moto.core.botocore_stubber import BotocoreStubber

import mamori.clients
import mamori.regions
from bench.report import progress, target
from harness.aws import ACCOUNT, Sandbox, fake_credentials
from harness.config_events import periodic_event
from harness.pack import deployed_rule_parameters, invoke_rule, lambda_principal, rule_spec

RULE_ID = "unapproved-regions"
APPROVED = ("us-east-1", "eu-west-1")
OPTED_IN = ("ap-east-1", "il-central-1", "me-central-1")
# Share of the instances in the approved regions (us-east-1 twice eu-west-1); the rest are scattered.
APPROVED_SHARE = 0.6
STOPPED_SHARE, SPOT_SHARE = 0.1, 0.1
DESCRIBE_REGIONS, DESCRIBE_INSTANCES, PUT = "ec2:DescribeRegions", "ec2:DescribeInstances", "config:PutEvaluations"
PAGE = 1000  # DescribeInstances MaxResults
# moto does not check the image of RunInstances; looking one up costs seconds per region.
IMAGE = "ami-12c6146b"


@dataclass
class Fleet:
    per_region: dict[str, int] = field(default_factory=dict)
    running_unapproved: int = 0
    stopped_unapproved: int = 0


@dataclass
class ScanRun:
    mode: str
    seconds: float
    calls: collections.Counter[str]
    evaluations: dict[str, tuple[str, str]]
    moto_cpu: float = 0.0  # CPU seconds moto spent answering (the AWS side), summed over threads
    process_cpu: float = 0.0  # CPU seconds of the whole process during the run


class MotoTime:
    """CPU time moto spends answering requests (building the answers AWS's regions would build
    on their own machines, in parallel), summed over the threads that asked: in this process it
    holds the interpreter lock, so regions' answers are built one after another."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def counting(self) -> Iterator[None]:
        original = BotocoreStubber.__call__
        meter = self

        def timed(stubber: Any, *args: Any, **kwargs: Any) -> Any:
            started = time.thread_time()
            try:
                return original(stubber, *args, **kwargs)
            finally:
                with meter._lock:
                    meter.seconds += time.thread_time() - started

        BotocoreStubber.__call__ = timed  # type: ignore[method-assign,assignment]
        try:
            yield
        finally:
            BotocoreStubber.__call__ = original  # type: ignore[method-assign]


def spread(instances: int, regions: list[str], rng: random.Random) -> dict[str, int]:
    """How many instances each region gets: APPROVED_SHARE in the approved regions, the rest at random elsewhere."""
    approved = round(instances * APPROVED_SHARE)
    counts = dict.fromkeys(regions, 0)
    counts[APPROVED[0]], counts[APPROVED[1]] = approved - approved // 3, approved // 3
    others = [region for region in regions if region not in APPROVED]
    for _ in range(instances - approved):
        counts[rng.choice(others)] += 1
    return counts


def launch(region: str, count: int, rng: random.Random, fleet: Fleet) -> None:
    """count instances in region: some Spot, some then stopped; batches as one RunInstances each."""
    if not count:
        return
    ec2 = boto3.client("ec2", region_name=region)
    spot = sum(rng.random() < SPOT_SHARE for _ in range(count))
    ids: list[str] = []
    for amount, market in ((count - spot, None), (spot, {"MarketType": "spot"})):
        if amount:
            extra = {"InstanceMarketOptions": market} if market else {}
            reply = ec2.run_instances(ImageId=IMAGE, MinCount=amount, MaxCount=amount, InstanceType="c5.xlarge", **extra)
            ids += [instance["InstanceId"] for instance in reply["Instances"]]
    stopped = [instance for instance in ids if rng.random() < STOPPED_SHARE]
    if stopped:
        ec2.stop_instances(InstanceIds=stopped)
    if region not in APPROVED:
        fleet.stopped_unapproved += len(stopped)
        fleet.running_unapproved += len(ids) - len(stopped)
    fleet.per_region[region] = len(ids)


@contextlib.contextmanager
def regions_at_once(limit: int | None) -> Iterator[None]:
    saved = mamori.regions.MAX_CONCURRENT_REGIONS
    if limit is not None:
        mamori.regions.MAX_CONCURRENT_REGIONS = limit
    try:
        yield
    finally:
        mamori.regions.MAX_CONCURRENT_REGIONS = saved


def scan(sandbox: Sandbox, mode: str, limit: int | None, approved: tuple[str, ...] = APPROVED, cold: bool = False) -> ScanRun:
    rule_name = rule_spec(RULE_ID).config_rule_name
    parameters = deployed_rule_parameters(RULE_ID, ApprovedRegions=",".join(approved))
    sandbox.reset_counts()
    sandbox.config.evaluations.pop(rule_name, None)  # each run starts from an empty dashboard
    if cold:
        mamori.clients.clear()  # a new container: no client made yet
    moto_time = MotoTime()
    with regions_at_once(limit), moto_time.counting():
        cpu = time.process_time()
        started = time.perf_counter()
        response = invoke_rule(sandbox, RULE_ID, periodic_event(rule_name, parameters))
        seconds = time.perf_counter() - started
        cpu = time.process_time() - cpu
    if not isinstance(response, list):
        raise RuntimeError(f"{rule_name} did not evaluate: {response}")
    calls = sandbox.calls_by(lambda_principal(rule_name))
    return ScanRun(mode, seconds, calls, sandbox.config.compliance(rule_name), moto_time.seconds, cpu)


def regions_section(instances: int, seed: int, latency_ms: float) -> bool:
    section = time.perf_counter()
    rng = random.Random(seed)
    fake_credentials()
    with mock_aws():
        sandbox = Sandbox()
        sandbox.opted_in_regions = list(OPTED_IN)
        regions = sandbox.enabled_regions
        fleet = Fleet()
        setup = time.perf_counter()
        for region, count in spread(instances, regions, rng).items():
            launch(region, count, rng, fleet)
        setup_seconds = time.perf_counter() - setup
        progress("regions: warm-up")
        scan(sandbox, "warm-up", None)  # botocore loads its models once; not measured
        floor = scan(sandbox, "concurrent, no network stand-in", None)  # moto's and the rule's CPU time alone
        sandbox.latency_seconds = latency_ms / 1000
        progress("regions: the whole scan, concurrent and one region at a time")
        runs = [scan(sandbox, "concurrent", None), scan(sandbox, "one region at a time", 1)]
        cold = scan(sandbox, "concurrent, cold container", None, cold=True)
        alone: dict[str, ScanRun] = {}
        for region in sorted(r for r in regions if r not in APPROVED):
            progress(f"regions: {region} alone")
            others = tuple(r for r in regions if r != region)
            alone[region] = scan(sandbox, f"{region} alone", None, approved=others)
        slowest = max(alone.values(), key=lambda run: run.seconds)
        slowest_region = slowest.mode.split()[0]
        slowest_cold = scan(
            sandbox,
            f"{slowest_region} alone, cold container",
            None,
            approved=tuple(r for r in regions if r != slowest_region),
            cold=True,
        )
        sandbox.latency_seconds = 0.0

    print(
        f"mamori bench: {RULE_ID}, {instances:,} instances in {len(regions)} enabled regions "
        f"(seed {seed}; approved {', '.join(APPROVED)}; moto set-up {setup_seconds:.1f} s)"
    )
    print(f"network stand-in: {latency_ms:.0f} ms per API call (moto answers in-process)")
    print()
    busiest = sorted(fleet.per_region.items(), key=lambda item: -item[1])
    print("instances per region: " + ", ".join(f"{region} {count}" for region, count in busiest if count))
    print(f"outside the approved regions: {fleet.running_unapproved} running or pending, {fleet.stopped_unapproved} stopped")
    print()
    # Approved regions are not listed: their instances are not evaluated.
    expected_pages = sum(max(1, math.ceil(fleet.per_region.get(r, 0) / PAGE)) for r in regions if r not in APPROVED)
    headers = (
        "scan",
        "wall s",
        "CPU s",
        "of which moto",
        "DescribeRegions",
        "DescribeInstances",
        "PutEvaluations",
        "other calls",
        "NON_COMPLIANT",
    )
    rows = []
    for run in (floor, *runs, cold, slowest, slowest_cold):
        other = sum(n for action, n in run.calls.items() if action not in (DESCRIBE_REGIONS, DESCRIBE_INSTANCES, PUT))
        flagged = sum(1 for compliance, _ in run.evaluations.values() if compliance == "NON_COMPLIANT")
        rows.append(
            (
                run.mode,
                f"{run.seconds:.2f}",
                f"{run.process_cpu:.2f}",
                f"{run.moto_cpu:.2f}",
                str(run.calls[DESCRIBE_REGIONS]),
                str(run.calls[DESCRIBE_INSTANCES]),
                str(run.calls[PUT]),
                str(other),
                str(flagged),
            )
        )
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]
    for line in (headers, tuple("-" * w for w in widths), *rows):
        print("  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(line, widths, strict=True))))
    print()

    concurrent, sequential = runs
    ok = True
    checks: list[tuple[bool, str]] = []
    for run in runs:
        checks.append((run.calls[DESCRIBE_REGIONS] == 1, f"{run.mode}: one DescribeRegions"))
        checks.append(
            (
                run.calls[DESCRIBE_INSTANCES] == expected_pages,
                f"{run.mode}: DescribeInstances = one page per unapproved region per {PAGE:,} instances "
                f"({expected_pages} expected, {run.calls[DESCRIBE_INSTANCES]} made)",
            )
        )
        evaluations = len(run.evaluations)
        checks.append(
            (
                run.calls[PUT] == math.ceil(evaluations / 100),
                f"{run.mode}: PutEvaluations = ceil({evaluations} evaluations / 100) = {run.calls[PUT]}",
            )
        )
        instances_flagged = [
            rid for rid, (compliance, _) in run.evaluations.items() if compliance == "NON_COMPLIANT" and rid != ACCOUNT
        ]
        checks.append(
            (
                len(instances_flagged) == fleet.running_unapproved,
                f"{run.mode}: every running instance outside the approved regions NON_COMPLIANT "
                f"({len(instances_flagged)} of {fleet.running_unapproved})",
            )
        )
    checks.append((concurrent.evaluations == sequential.evaluations, "both scans delivered the same evaluations"))
    speedup = sequential.seconds / concurrent.seconds if concurrent.seconds else math.inf
    checks.append(
        (
            concurrent.seconds < sequential.seconds,
            f"concurrency pays off: {concurrent.seconds:.2f} s instead of {sequential.seconds:.2f} s ({speedup:.1f}x), "
            f"with {concurrent.process_cpu:.2f} s and {sequential.process_cpu:.2f} s of CPU",
        )
    )
    for passed, text in checks:
        print(f"budget: {'met' if passed else 'NOT MET'} - {text}")
        ok = ok and passed
    target(
        "regions",
        "the region scan's call and result budgets (above)",
        "all met",
        f"{sum(p for p, _ in checks)} of {len(checks)}",
        ok,
    )
    ratio = concurrent.seconds / slowest.seconds
    cold_ratio = cold.seconds / slowest_cold.seconds
    print(
        "CPU s: the whole process (one interpreter lock: CPU work is not done in parallel); of which moto: building "
        "the answers, the AWS side, which real regions do on their own machines at once"
    )
    print(
        f"each region alone (warm): slowest {slowest_region} {slowest.seconds:.2f} s, fastest "
        f"{min(run.seconds for run in alone.values()):.2f} s; the whole scan {concurrent.seconds:.2f} s = "
        f"{ratio:.2f}x the slowest. "
        f"Cold container: {cold.seconds:.2f} s against {slowest_cold.seconds:.2f} s = {cold_ratio:.2f}x "
        f"(building {len(alone)} regions' clients is CPU, which threads do not share out)"
    )
    ok &= target(
        "regions",
        f"the whole scan against its slowest region alone, {latency_ms:.0f} ms a call (warm container)",
        "<= 1.5x",
        f"{ratio:.2f}x ({concurrent.seconds:.2f} s / {slowest.seconds:.2f} s); cold {cold_ratio:.2f}x",
        ratio <= 1.5,
    )
    print(f"regions section took {time.perf_counter() - section:.1f} s")
    return ok
