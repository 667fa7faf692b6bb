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
  The whole scan and each region alone are run REPEATS (3) times; the median run counts (a
  shared machine moves single runs by tens of milliseconds, and the slowest of 18 single
  runs would be the unluckiest one).
* Per run: every AWS API call the rule's principal made, by action, the wall time of the
  handler call, the CPU time of the bench process and that of the regions' server processes.
* Each run starts from an empty dashboard (no earlier results to read back but one page).
* The budget: one ec2:DescribeRegions, and one ec2:DescribeInstances page per unapproved region
  per 1,000 instances in it (at least one per region; approved regions are not listed, their
  instances are not evaluated); both runs deliver the same evaluations. The
  bench exits non-zero otherwise, or if the concurrent scan is not faster.

What is stood in, and how (bench/region_endpoints.py)
* The Lambda's botocore: the bench's own, signing in Python as on Lambda, whose Python runtime
  has no awscrt (aws/aws-lambda-base-images#147; `make bench` sets BOTO_DISABLE_CRT=true,
  otherwise botocore here signs with awscrt, 0.2 ms a request more).
* Each enabled region's EC2 endpoint: a moto server process of its own, reached over HTTP on
  127.0.0.1 (the requests are routed there from the botocore sessions, signed as for AWS).
  The bench process does what the Lambda does: build and sign requests, send them, parse
  the answers, decide, put the evaluations. Each server keeps the answer it built to a read
  until a write reaches it: this machine's two cores cannot build twenty regions' answers at
  once as AWS's fleets do, so moto's CPU for an answer is spent once, at the warm-up run
  (--regions-fresh-answers builds every answer anew; the AWS side's CPU is shown either way).
* The network and AWS's time to answer: a fixed latency per call (--latency-ms, default
  100 ms; a real regional endpoint is tens to hundreds of milliseconds away from the home
  region), slept in the calling thread where the round trip begins: once the request is
  built and signed, as it goes on the wire (harness.aws.Sandbox; for the calls the harness
  answers itself, before its answer). Slept before the request was built and signed, as it
  was until this was measured, it had every region's signing wait for the same instant and
  queue for the lock with the parsing of the answers: 0.05 s of the whole scan's 0.50 s.
* DescribeRegions (17 default regions and 3 opted in to) and AWS Config's calls
  (GetComplianceDetailsByConfigRule, PutEvaluations): answered in the bench process by the
  harness (harness.aws.Sandbox), which also counts every call the rule's principal makes, by
  action, and checks it against the role's grants, as in the tests. It does not check each
  PutEvaluations request against Config's model, as it does in the tests: that is Config's
  CPU (2.5 ms per 100 evaluations), which here would be spent under the rule's own lock.
* One interpreter: the Lambda's threads share one interpreter lock, here as on Lambda, with
  this machine's core for the vCPU that the rule's 1,769 MB give on Lambda. What the bench made
  before the measured runs (moto's in-process backends, the harness and the Service
  Authorization Reference it checks grants against, the warm clients) is frozen out of the
  garbage collector's sight (gc.freeze): a Lambda holds none of the bench's part, and a
  collection over it stalled every thread for up to 180 ms.

Measured before this stand-in and mamori's changes, with moto in the bench process: 1.6 s of
the concurrent scan's 2.2 s of CPU was moto building answers (about 4 ms an instance), 2.6 s
wall against 0.75 s for the slowest region alone (3.5x). Of the Lambda's own CPU, botocore's
timestamp parsing (dateutil) took most, then parsing values the rule does not read: the
workers' clients now skip both (mamori.clients, mamori.instances.DESCRIBE_INSTANCES_READS), and
PutEvaluations' timestamps are read once (mamori.rule_runtime). With the servers building every
answer anew (--regions-fresh-answers), their 1.7 s of CPU queue for this machine's two cores:
the whole scan takes about 4 times its slowest region.
"""

import collections
import contextlib
import gc
import math
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import boto3
import botocore.compat
from moto import mock_aws

import mamori.clients
import mamori.regions
import mamori.workers
from bench.region_endpoints import RegionEndpoints
from bench.report import progress, target
from harness.aws import ACCOUNT, DEFAULT_REGIONS, Sandbox, fake_credentials
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
# Each timed run of the ratio (the whole scan, each region alone) is made this many times; the median counts.
REPEATS = 3
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
    aws_cpu: float = 0.0  # CPU seconds of the regions' server processes (the AWS side)
    process_cpu: float = 0.0  # CPU seconds of the bench process (the Lambda and the harness)


def median(runs: list[ScanRun]) -> ScanRun:
    """The run of median wall time (this machine is shared: single runs vary by tens of ms)."""
    return sorted(runs, key=lambda run: run.seconds)[len(runs) // 2]


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


def scan(
    sandbox: Sandbox,
    endpoints: RegionEndpoints,
    mode: str,
    limit: int | None,
    approved: tuple[str, ...] = APPROVED,
    cold: bool = False,
) -> ScanRun:
    rule_name = rule_spec(RULE_ID).config_rule_name
    parameters = deployed_rule_parameters(RULE_ID, ApprovedRegions=",".join(approved))
    sandbox.reset_counts()
    sandbox.config.evaluations.pop(rule_name, None)  # each run starts from an empty dashboard
    if cold:
        mamori.clients.clear()  # a new container: no client made yet, no worker thread started
        mamori.workers.clear()
    with regions_at_once(limit):
        aws_cpu, cpu = endpoints.cpu_seconds(), time.process_time()
        started = time.perf_counter()
        response = invoke_rule(sandbox, RULE_ID, periodic_event(rule_name, parameters))
        seconds = time.perf_counter() - started
        cpu = time.process_time() - cpu
        aws_cpu = endpoints.cpu_seconds() - aws_cpu
    if not isinstance(response, list):
        raise RuntimeError(f"{rule_name} did not evaluate: {response}")
    calls = sandbox.calls_by(lambda_principal(rule_name))
    return ScanRun(mode, seconds, calls, sandbox.config.compliance(rule_name), aws_cpu, cpu)


def regions_section(instances: int, seed: int, latency_ms: float, keep_answers: bool = True) -> bool:
    section = time.perf_counter()
    rng = random.Random(seed)
    fake_credentials()
    regions = sorted({*DEFAULT_REGIONS, *OPTED_IN})
    progress(f"regions: starting {len(regions)} regions' EC2 endpoints (moto servers)")
    with RegionEndpoints(regions, keep_answers) as endpoints, mock_aws():
        sandbox = Sandbox()
        sandbox.opted_in_regions = list(OPTED_IN)
        sandbox.config.checks_requests = False  # Config's work, not the rule's (the tests check the requests)
        assert sandbox.enabled_regions == regions
        endpoints.install(boto3.DEFAULT_SESSION)  # before any client: region workers copy its handlers
        fleet = Fleet()
        setup = time.perf_counter()
        for region, count in spread(instances, regions, rng).items():
            launch(region, count, rng, fleet)
        setup_seconds = time.perf_counter() - setup
        progress("regions: warm-up")
        scan(sandbox, endpoints, "warm-up", None)  # botocore loads its models, the servers build their answers; not measured
        # Everything made so far is frozen (gc.freeze): the garbage collector does not rescan it in
        # the measured runs. It is mostly the bench's (moto's in-process backends, the harness and the
        # Service Authorization Reference it checks grants against), which no Lambda holds; a
        # collection over it stalled every thread for up to 180 ms. The runs' own garbage is collected.
        gc.collect()
        gc.freeze()
        try:
            floor = scan(sandbox, endpoints, "concurrent, no latency stand-in", None)  # CPU alone
            sandbox.latency_seconds = latency_ms / 1000
            progress("regions: the whole scan, concurrent and one region at a time")
            concurrent_runs = [scan(sandbox, endpoints, f"concurrent (median of {REPEATS})", None) for _ in range(REPEATS)]
            runs = [median(concurrent_runs), scan(sandbox, endpoints, "one region at a time", 1)]
            cold = scan(sandbox, endpoints, "concurrent, cold container", None, cold=True)
            alone: dict[str, ScanRun] = {}
            alone_seconds: dict[str, list[float]] = {}
            for region in sorted(r for r in regions if r not in APPROVED):
                progress(f"regions: {region} alone")
                others = tuple(r for r in regions if r != region)
                label = f"{region} alone (median of {REPEATS})"
                repeated = [scan(sandbox, endpoints, label, None, approved=others) for _ in range(REPEATS)]
                alone[region], alone_seconds[region] = median(repeated), [run.seconds for run in repeated]
            slowest = max(alone.values(), key=lambda run: run.seconds)
            slowest_region = slowest.mode.split()[0]
            slowest_cold = scan(
                sandbox,
                endpoints,
                f"{slowest_region} alone, cold container",
                None,
                approved=tuple(r for r in regions if r != slowest_region),
                cold=True,
            )
            sandbox.latency_seconds = 0.0
        finally:
            gc.unfreeze()

    print(
        f"mamori bench: {RULE_ID}, {instances:,} instances in {len(regions)} enabled regions "
        f"(seed {seed}; approved {', '.join(APPROVED)}; set-up {setup_seconds:.1f} s)"
    )
    answers = "kept until a write (built once, at the warm-up)" if keep_answers else "built anew for every request"
    signed = "in Python, as on Lambda"
    if botocore.compat.HAS_CRT:
        signed = "with awscrt (Lambda's runtime has none: BOTO_DISABLE_CRT=true)"
    print(
        f"stand-ins: {latency_ms:.0f} ms per API call; each region's EC2 a moto server process of its own, answers "
        f"{answers}; DescribeRegions and Config answered by the harness in this process; requests signed {signed}"
    )
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
        "AWS side CPU s",
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
                f"{run.aws_cpu:.2f}",
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
    checks.append(
        (
            all(run.evaluations == sequential.evaluations for run in concurrent_runs),
            f"every concurrent scan ({REPEATS}) and the one region at a time delivered the same evaluations",
        )
    )
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
        "CPU s: this process, the Lambda's code and the harness (one interpreter lock: CPU work is not done in "
        "parallel); AWS side CPU s: the regions' server processes, which real regions spend on their own machines"
    )
    print(
        "wall s of each timed run: the whole scan "
        + ", ".join(f"{run.seconds:.2f}" for run in concurrent_runs)
        + f"; {slowest_region} alone "
        + ", ".join(f"{seconds:.2f}" for seconds in alone_seconds[slowest_region])
    )
    print(
        f"each region alone (warm, median of {REPEATS}): slowest {slowest_region} {slowest.seconds:.2f} s, fastest "
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
