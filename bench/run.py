"""`make bench`: AWS API calls and time of mamori-open-proxy-ports, of the IAM rules and of the
region scan at scale, and artifact sizes.

Three sections (--only openproxy|iam|regions runs one; the artifact sizes go with openproxy, and
--only artifacts runs them alone).
The region scan is described in bench/regions.py.

What is measured, open-proxy-ports (--items)
* The real rule Lambda handler (rules/open-proxy-ports/rule.py through rdklib), invoked the way
  Config invokes it (harness.pack.invoke_rule) with a configuration-change event for each of
  at least 10,000 synthetic AWS::EC2::SecurityGroup configuration items. The items are built
  in-process in the shape Config records (seeded, a realistic mix: mostly compliant groups,
  some proxy ports open to the internet, wide tcp ranges, all traffic, exemptions, and ~1%
  referencing a customer-managed prefix list that lives in moto).
* Per evaluation: wall time of the handler call (time.perf_counter) and every AWS API call the
  rule's principal made, by action.
* The performance budget: a change event costs exactly one config:PutEvaluations; a group that
  references a customer-managed prefix list adds at most one ec2:DescribeManagedPrefixLists and
  one page of ec2:GetManagedPrefixListEntries (lists are kept a minute per container), nothing
  else. The bench exits non-zero otherwise.
* Warm clients (issue 12): change events per second through the real handler on the same
  1,000 items, with the container's clients and caches kept (as deployed) and with all of them
  dropped before every event (what rdklib alone did: new boto3 clients per event).
* The pure decision (rules/open-proxy-ports/rule.py `decide`, the one function the change
  trigger and the sweep share) on every item's configuration, with the prefix lists already
  resolved: items per second, best of three passes, beside the handler in the same run.
* The periodic sweep on 1,000 security groups in moto: every call it makes, against the 1,000
  invocations (1,000 PutEvaluations) the change trigger needs for the same groups.
* The size of each `sam build` artifact (.aws-sam/build), raw and zipped, and that none ships
  boto3 or botocore (the Lambda runtime already has them).
* The headroom under the size quotas the generator enforces (tools/limits.py): each SSM
  document against SSM's 64 KB, each generated template against mamori's 900,000-byte budget
  and CloudFormation's 1 MB for a template read from S3.

moto stands in for AWS and harness.aws.Sandbox for what moto lacks: it counts calls per
principal, enforces the role's IAM actions from template.yaml, and captures PutEvaluations as
Config would store them. Times therefore include moto's and the harness's own overhead; they
are an upper bound on the rule's CPU time, not a Lambda latency.

The IAM rules are described in bench/iam.py, the region scan in bench/regions.py. Every
section prints its tables; the end of the run lists every target of issue 12 (and the
budgets the bench held before) as MET or MISSED. Progress goes to stderr as it runs.
"""

import argparse
import collections
import contextlib
import datetime
import gc
import io
import math
import os
import random
import statistics
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import botocore.compat
import moto
from moto.ec2.models import ec2_backends

from bench.iam import DEFAULT_IAM_USERS, iam_section, iam_user_counts
from bench.incidents import incidents_section
from bench.regions import regions_section
from bench.report import progress, summary, table, target
from harness.aws import ACCOUNT, REGION, Sandbox, fake_credentials
from harness.config_events import change_event, configuration_item, periodic_event
from harness.pack import deployed_rule_parameters, invoke_rule, lambda_principal, rule_spec, template
from mamori import clients, config_rule, exposure, open_proxy
from mamori.catalog import load_unit_module
from tools.limits import CLOUDFORMATION_TEMPLATE_LIMIT, SSM_DOCUMENT_LIMIT, TEMPLATE_BUDGET, document_size

# An exemption must end, at most MaxExemptionDays (90 by default) ahead (mamori.exemption).
EXEMPT_UNTIL = (datetime.datetime.now(datetime.UTC).date() + datetime.timedelta(days=60)).isoformat()

ROOT = Path(__file__).resolve().parent.parent
BUILD_DIR = ROOT / ".aws-sam" / "build"
RULE_ID = "open-proxy-ports"
RESOURCE_TYPE = "AWS::EC2::SecurityGroup"
MINIMUM_ITEMS = 10_000

PUT = "config:PutEvaluations"
DESCRIBE_PL = "ec2:DescribeManagedPrefixLists"
PL_ENTRIES = "ec2:GetManagedPrefixListEntries"
ACTIONS_SHOWN = (PUT, DESCRIBE_PL, PL_ENTRIES)

NO_PL, CUSTOMER_PL, AWS_PL = (
    "change event, no prefix list",
    "change event, customer prefix list",
    "change event, AWS-managed list",
)
ROWS = (NO_PL, CUSTOMER_PL, AWS_PL)
# The budget: the calls one evaluation may make, per row: exactly one PutEvaluations, at most the
# prefix-list look-ups (kept a minute per container, so most events of a burst make none).
BUDGET: dict[str, collections.Counter[str]] = {
    NO_PL: collections.Counter({PUT: 1}),
    CUSTOMER_PL: collections.Counter({PUT: 1, DESCRIBE_PL: 1, PL_ENTRIES: 1}),
    # Config's item does not say who owns a list: one DescribeManagedPrefixLists tells, entries are not read.
    AWS_PL: collections.Counter({PUT: 1, DESCRIBE_PL: 1}),
}
WHY = {AWS_PL: " (Config's item does not say who owns a list)"}
# Events compared with and without the container's clients and caches.
COMPARED_EVENTS = 1_000
SWEPT_GROUPS = 1_000


def within_budget(calls: collections.Counter[str], budget: collections.Counter[str]) -> bool:
    return calls[PUT] == 1 and all(n <= budget[action] for action, n in calls.items())


# The runtime provides these; an artifact must not ship another copy.
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer")

PROXY_PORTS = (1080, 3128, 3129, 8080, 8118, 8888, 9050)
PRIVATE = ("10.0.0.0/8", "10.20.0.0/16", "172.16.0.0/12", "172.31.0.0/16", "192.168.1.0/24", "100.64.0.0/10")
OFFICE = ("203.0.113.0/24", "198.51.100.0/24")


# --- synthetic configuration items ---------------------------------------------------------------


def permission(
    protocol: str,
    ports: tuple[int, int] | None = None,
    ipv4: Sequence[str] = (),
    ipv6: Sequence[str] = (),
    prefix_lists: Sequence[str] = (),
    groups: Sequence[str] = (),
    ipv4_shape: str = "both",
) -> dict[str, Any]:
    """One configuration.ipPermissions item as Config records it."""
    item: dict[str, Any] = {"ipProtocol": protocol}
    if ports is not None:
        item["fromPort"], item["toPort"] = ports
    item["userIdGroupPairs"] = [{"groupId": group, "userId": ACCOUNT} for group in groups]
    if ipv4_shape in ("both", "ipRanges"):
        item["ipRanges"] = list(ipv4)
    if ipv4_shape in ("both", "ipv4Ranges"):
        item["ipv4Ranges"] = [{"cidrIp": cidr} for cidr in ipv4]
    item["ipv6Ranges"] = [{"cidrIpv6": cidr} for cidr in ipv6]
    item["prefixListIds"] = [{"prefixListId": pl} for pl in prefix_lists]
    return item


@dataclass(frozen=True)
class Lists:
    """Prefix lists that exist in moto."""

    office: str  # customer-managed, public /24s only
    anywhere: str  # customer-managed, holds 0.0.0.0/0
    aws: str  # AWS-managed (CloudFront origin-facing)


@dataclass(frozen=True)
class Kind:
    name: str
    weight: float
    expected: str  # the compliance the rule must return
    row: str
    build: Callable[[random.Random, Lists, str], list[dict[str, Any]]]
    tags: dict[str, str] = field(default_factory=dict)


def _sg(rng: random.Random) -> str:
    return f"sg-{rng.getrandbits(68):017x}"


def _proxy(rng: random.Random) -> tuple[int, int]:
    port = rng.choice(PROXY_PORTS)
    return port, port


KINDS = (
    # Compliant.
    Kind("web", 30, "COMPLIANT", NO_PL, lambda r, _, s: [
        permission("tcp", (80, 80), ["0.0.0.0/0"], ["::/0"], ipv4_shape=s),
        permission("tcp", (443, 443), ["0.0.0.0/0"], ["::/0"], ipv4_shape=s),
    ]),
    Kind("private ranges", 25, "COMPLIANT", NO_PL, lambda r, _, s: [
        permission("tcp", _proxy(r), r.sample(PRIVATE, 2), ["fd00:10::/48"], ipv4_shape=s),
        permission("tcp", (5432, 5432), [r.choice(PRIVATE)], ipv4_shape=s),
    ]),
    Kind("security-group references", 20, "COMPLIANT", NO_PL, lambda r, _, s: [
        permission("tcp", _proxy(r), groups=[_sg(r)], ipv4_shape=s),
        permission("-1", groups=[_sg(r)], ipv4_shape=s),
    ]),
    Kind("wide tcp, private", 5, "COMPLIANT", NO_PL, lambda r, _, s: [
        permission("tcp", (0, 65535), ["10.0.0.0/8"], ipv4_shape=s),
    ]),
    Kind("udp to the world", 3, "COMPLIANT", NO_PL, lambda r, _, s: [
        permission("udp", _proxy(r), ["0.0.0.0/0"], ipv4_shape=s),
    ]),
    Kind("public /24 (office)", 4, "COMPLIANT", NO_PL, lambda r, _, s: [
        permission("tcp", _proxy(r), [r.choice(OFFICE)], ipv4_shape=s),
    ]),
    Kind("no inbound", 3, "COMPLIANT", NO_PL, lambda r, _, s: []),
    # NON_COMPLIANT.
    Kind("proxy port, 0.0.0.0/0", 4, "NON_COMPLIANT", NO_PL, lambda r, _, s: [
        permission("tcp", _proxy(r), ["0.0.0.0/0"], ipv4_shape=s),
    ]),
    Kind("proxy port, ::/0", 1.5, "NON_COMPLIANT", NO_PL, lambda r, _, s: [
        permission("tcp", _proxy(r), ipv6=["::/0"], ipv4_shape=s),
    ]),
    Kind("wide tcp, 0.0.0.0/0", 2, "NON_COMPLIANT", NO_PL, lambda r, _, s: [
        permission("tcp", r.choice([(0, 65535), (1024, 65535), (3000, 9999)]), ["0.0.0.0/0"], ipv4_shape=s),
    ]),
    Kind("all traffic, world", 2, "NON_COMPLIANT", NO_PL, lambda r, _, s: [
        permission("-1", None, *r.choice([(["0.0.0.0/0"], []), ([], ["::/0"])]), ipv4_shape=s),
    ]),
    Kind("near-world range", 0.5, "NON_COMPLIANT", NO_PL, lambda r, _, s: [
        permission("tcp", _proxy(r), [r.choice(["0.0.0.0/1", "3.0.0.0/8", "128.0.0.0/2"])], ipv4_shape=s),
    ]),
    Kind("exempt (proxy open)", 0.5, "NOT_APPLICABLE", NO_PL, lambda r, _, s: [
        permission("tcp", (3128, 3128), ["0.0.0.0/0"], ipv4_shape=s),
    ], tags={"mamori:exempt": f"load test until={EXEMPT_UNTIL}"}),
    # Prefix lists.
    Kind("customer list, office", 0.5, "COMPLIANT", CUSTOMER_PL, lambda r, pl, s: [
        permission("tcp", _proxy(r), prefix_lists=[pl.office], ipv4_shape=s),
    ]),
    Kind("customer list, 0.0.0.0/0", 0.5, "NON_COMPLIANT", CUSTOMER_PL, lambda r, pl, s: [
        permission("tcp", _proxy(r), prefix_lists=[pl.anywhere], ipv4_shape=s),
    ]),
    Kind("AWS-managed list", 0.5, "COMPLIANT", AWS_PL, lambda r, pl, s: [
        permission("tcp", (8080, 8080), prefix_lists=[pl.aws], ipv4_shape=s),
    ]),
)  # fmt: skip


def noise(rng: random.Random, shape: str) -> list[dict[str, Any]]:
    """Ordinary compliant entries most real groups carry beside the interesting one."""
    pool = [
        lambda: permission("tcp", (22, 22), [rng.choice(PRIVATE + OFFICE)], ipv4_shape=shape),
        lambda: permission("tcp", (443, 443), ["0.0.0.0/0"], ipv4_shape=shape),
        lambda: permission("icmp", (-1, -1), [rng.choice(PRIVATE)], ipv4_shape=shape),
        lambda: permission("tcp", (6379, 6379), groups=[_sg(rng)], ipv4_shape=shape),
    ]
    return [rng.choice(pool)() for _ in range(rng.randint(0, 3))]


@dataclass(frozen=True)
class Synthetic:
    kind: Kind
    item: dict[str, Any]


def synthetic_items(count: int, seed: int, lists: Lists) -> list[Synthetic]:
    rng = random.Random(seed)
    weights = [kind.weight for kind in KINDS]
    items = []
    for index in range(count):
        kind = rng.choices(KINDS, weights)[0]
        shape = rng.choices(["both", "ipRanges", "ipv4Ranges"], [90, 5, 5])[0]
        group_id = f"sg-{index:017x}"
        permissions = kind.build(rng, lists, shape) + noise(rng, shape)
        rng.shuffle(permissions)
        tags = {"Name": f"bench-{index}", **kind.tags}
        configuration = {
            "description": f"bench group {index} ({kind.name})",
            "groupName": f"bench-{index}",
            "ipPermissions": permissions,
            "ownerId": ACCOUNT,
            "groupId": group_id,
            "ipPermissionsEgress": [permission("-1", None, ["0.0.0.0/0"])],
            "vpcId": "vpc-0bench000000000001",
            "tags": [{"key": key, "value": value} for key, value in tags.items()],
        }
        item = configuration_item(
            RESOURCE_TYPE,
            group_id,
            configuration,
            tags,
            resource_name=f"bench-{index}",
            arn=f"arn:aws:ec2:{REGION}:{ACCOUNT}:security-group/{group_id}",
            relationships=[
                {
                    "resourceId": "vpc-0bench000000000001",
                    "resourceName": None,
                    "resourceType": "AWS::EC2::VPC",
                    "name": "Is contained in Vpc",
                }
            ],
        )
        items.append(Synthetic(kind, item))
    return items


def create_prefix_lists(ec2: Any) -> Lists:
    office = ec2.create_managed_prefix_list(
        PrefixListName="bench-office",
        AddressFamily="IPv4",
        MaxEntries=10,
        Entries=[{"Cidr": cidr, "Description": "office"} for cidr in OFFICE],
    )["PrefixList"]["PrefixListId"]
    anywhere = ec2.create_managed_prefix_list(
        PrefixListName="bench-anywhere",
        AddressFamily="IPv4",
        MaxEntries=10,
        Entries=[{"Cidr": "0.0.0.0/0", "Description": "temporary"}, {"Cidr": "10.0.0.0/8", "Description": "vpc"}],
    )["PrefixList"]["PrefixListId"]
    managed = ec2.describe_managed_prefix_lists(Filters=[{"Name": "owner-id", "Values": ["AWS"]}])["PrefixLists"]
    aws = next((pl for pl in managed if "cloudfront" in pl["PrefixListName"]), managed[0])["PrefixListId"]
    return Lists(str(office), str(anywhere), str(aws))


# --- the evaluation run -------------------------------------------------------------------------


@dataclass
class Row:
    times: list[float] = field(default_factory=list)
    in_rule: list[float] = field(default_factory=list)  # of which inside the rule's evaluate_change
    calls: collections.Counter[str] = field(default_factory=collections.Counter)
    results: collections.Counter[str] = field(default_factory=collections.Counter)
    over_budget: collections.Counter[tuple[tuple[str, int], ...]] = field(default_factory=collections.Counter)


@dataclass
class Run:
    rows: dict[str, Row]
    cold_seconds: float
    wall_seconds: float
    mismatches: int  # items whose result differs from what the generator expects
    examples: list[str]
    stored: int  # evaluations Config (the stand-in) holds at the end
    principals: list[str]  # who the sandbox counted the calls for
    events_per_second: dict[str, float] = field(default_factory=dict)  # "cached", "uncached" on the compared events
    decisions_per_second: list[float] = field(default_factory=list)  # the pure decision, each pass, per CPU second
    decisions_per_wall_second: list[float] = field(default_factory=list)
    decision_mismatches: int = 0


@dataclass
class Sweep:
    groups: int
    calls: collections.Counter[str]
    seconds: float
    mismatches: list[str]


@contextlib.contextmanager
def timing_rule_logic(spent: list[float]) -> Iterator[None]:
    """Append the time each call of the rule's own evaluate_change takes (its decision, and its
    prefix-list look-ups) to `spent`; the rest of an evaluation is rdklib, boto3 and the stand-ins."""
    rule_class = load_unit_module("rule", RULE_ID, rule_spec(RULE_ID).handler.split(".")[0] + ".py").OpenProxyPorts
    original = rule_class.evaluate_change

    def timed(self: Any, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(self, *args, **kwargs)
        finally:
            spent.append(time.perf_counter() - started)

    rule_class.evaluate_change = timed
    try:
        yield
    finally:
        rule_class.evaluate_change = original


def evaluate(count: int, seed: int) -> Run:
    fake_credentials()
    spent: list[float] = []
    with moto.mock_aws(), timing_rule_logic(spent):
        sandbox = Sandbox()
        lists = create_prefix_lists(boto3.client("ec2", region_name=REGION))
        rule_name = rule_spec(RULE_ID).config_rule_name
        principals: set[str] = set()
        parameters = deployed_rule_parameters(RULE_ID)
        items = synthetic_items(count, seed, lists)
        # The generated items are the bench's, not the rule's: keep the garbage collector from rescanning them.
        gc.collect()
        gc.freeze()

        # The first invocation loads botocore's service models (a cold start does too): time it apart.
        warm_up = configuration_item(
            RESOURCE_TYPE, "sg-0000000000warmup", {"groupId": "sg-0000000000warmup", "ipPermissions": []}
        )
        started = time.perf_counter()
        invoke_rule(sandbox, RULE_ID, change_event(rule_name, warm_up, parameters))
        cold = time.perf_counter() - started
        sandbox.reset_counts()

        rows = {name: Row() for name in ROWS}
        mismatches = 0
        examples: list[str] = []
        wall = time.perf_counter()
        for index, synthetic in enumerate(items):
            if index % 2_000 == 0:
                progress(f"open-proxy-ports: change event {index:,} of {len(items):,}")
            event = change_event(rule_name, synthetic.item, parameters)
            sandbox.reset_counts()
            spent.clear()
            started = time.perf_counter()
            response = invoke_rule(sandbox, RULE_ID, event)
            elapsed = time.perf_counter() - started
            # Only the rule runs between reset and here: every call counted is the rule Lambda's,
            # whatever name the sandbox gives its principal.
            calls: collections.Counter[str] = collections.Counter()
            for (who, action), n in sandbox.calls.items():
                principals.add(who)
                calls[action] += n
            row = rows[synthetic.kind.row]
            row.times.append(elapsed)
            row.in_rule.append(sum(spent))
            row.calls.update(calls)
            if not within_budget(calls, BUDGET[synthetic.kind.row]):
                row.over_budget[tuple(sorted(calls.items()))] += 1
            result = str(response[0]["ComplianceType"]) if isinstance(response, list) and len(response) == 1 else "ERROR"
            row.results[result] += 1
            if result != synthetic.kind.expected:
                mismatches += 1
                if len(examples) < 3:
                    examples.append(
                        f"{synthetic.item['resourceId']} ({synthetic.kind.name}): {result}, expected {synthetic.kind.expected}"
                    )
        wall = time.perf_counter() - wall
        stored = len(sandbox.config.compliance(rule_name)) - 1  # less the warm-up item
        run = Run(rows, cold, wall, mismatches, examples, stored, sorted(principals))
        compare_cached(sandbox, items[:COMPARED_EVENTS], parameters, run)
        time_decision(sandbox, items, parameters, run)
        gc.unfreeze()
    return run


def drop_everything_kept() -> None:
    """What rdklib alone keeps between events: nothing (no client, no prefix list, no CIDR)."""
    clients.clear()
    open_proxy.PREFIX_LISTS.clear()
    exposure._cidr_is_internet.cache_clear()


def compare_cached(sandbox: Sandbox, items: Sequence[Synthetic], parameters: dict[str, str], run: Run) -> None:
    """Change events per second through the real handler: the same events with nothing kept
    between them, then with the container's clients and caches (as deployed). Per CPU second of
    the process (what the code costs; a busy machine does not inflate it) and per wall second."""
    rule_name = rule_spec(RULE_ID).config_rule_name
    events = [change_event(rule_name, synthetic.item, parameters) for synthetic in items]
    for mode in ("uncached", "cached"):
        progress(f"open-proxy-ports: {len(events):,} change events, {mode}")
        cpu, wall = time.process_time(), time.perf_counter()
        for event in events:
            if mode == "uncached":
                drop_everything_kept()
            invoke_rule(sandbox, RULE_ID, event)
        run.events_per_second[mode] = len(events) / (time.process_time() - cpu)
        run.events_per_second[f"{mode}, wall"] = len(events) / (time.perf_counter() - wall)


def time_decision(sandbox: Sandbox, items: Sequence[Synthetic], parameters: dict[str, str], run: Run) -> None:
    """The pure decision (no AWS call, prefix lists resolved beforehand) on every item, three
    passes, per CPU second of this thread (and per wall second)."""
    progress(f"open-proxy-ports: the pure decision on {len(items):,} items, 3 passes")
    rule = load_unit_module("rule", RULE_ID, rule_spec(RULE_ID).handler.split(".")[0] + ".py")
    valid = rule.OpenProxyPorts().evaluate_parameters(parameters)
    referenced = sorted({pl for synthetic in items for pl in _prefix_lists_of(synthetic.item)})
    resolved = open_proxy.resolve_customer_prefix_lists(boto3.client("ec2", region_name=REGION), referenced)
    inputs = [(synthetic.item["configuration"], synthetic.item["tags"], synthetic.kind.expected) for synthetic in items]
    exposure._cidr_is_internet.cache_clear()  # the first pass fills it, as a container's first events do
    for _ in range(3):
        wrong = 0
        cpu, wall = time.thread_time(), time.perf_counter()
        for configuration, tags, expected in inputs:
            compliance, _ = rule.decide(
                configuration,
                tags,
                valid["ProxyPorts"],
                valid["TrustedCidrs"],
                lambda _ids: resolved,
                valid[config_rule.MAX_EXEMPTION_DAYS],
            )
            wrong += compliance != expected
        run.decisions_per_second.append(len(inputs) / (time.thread_time() - cpu))
        run.decisions_per_wall_second.append(len(inputs) / (time.perf_counter() - wall))
        run.decision_mismatches = wrong


def _prefix_lists_of(item: dict[str, Any]) -> list[str]:
    return [
        str(pl.get("prefixListId"))
        for permission in item["configuration"].get("ipPermissions", [])
        for pl in permission.get("prefixListIds", [])
    ]


# --- the periodic sweep ------------------------------------------------------------------------------


def sweep_groups(count: int) -> Sweep:
    """count security groups in moto (straight into its backend: through the API it takes ~20 ms
    a group), a realistic mix, then one scheduled run of the rule."""
    fake_credentials()
    with moto.mock_aws():
        sandbox = Sandbox()
        ec2 = boto3.client("ec2", region_name=REGION)
        lists = create_prefix_lists(ec2)
        vpc = next(vpc["VpcId"] for vpc in ec2.describe_vpcs()["Vpcs"] if vpc["IsDefault"])
        backend = ec2_backends[ACCOUNT][REGION]
        rng = random.Random(20240611)
        expected: dict[str, str] = {}
        existing = len(ec2.describe_security_groups()["SecurityGroups"])
        default_group = ec2.describe_security_groups()["SecurityGroups"][0]["GroupId"]
        progress(f"open-proxy-ports: the sweep of {count:,} security groups (setting them up)")
        for index in range(count - existing):
            kind = rng.choices(KINDS, [k.weight for k in KINDS])[0]
            group = backend.create_security_group(f"sweep-{index}", "bench", vpc, tags=dict(kind.tags) or None)
            for permission in kind.build(rng, lists, "ipv4Ranges"):
                # The items reference groups that exist nowhere; moto wants real ones.
                permission["userIdGroupPairs"] = [{"groupId": default_group}] if permission["userIdGroupPairs"] else []
                ports = (str(permission.get("fromPort", -1)), str(permission.get("toPort", -1)))
                backend.authorize_security_group_ingress(
                    group.id,
                    permission["ipProtocol"],
                    *ports,
                    [{"CidrIp": r["cidrIp"]} for r in permission["ipv4Ranges"]]
                    + [{"CidrIpv6": r["cidrIpv6"]} for r in permission["ipv6Ranges"]],
                    source_groups=[{"GroupId": p["groupId"]} for p in permission["userIdGroupPairs"]] or None,
                    prefix_list_ids=[{"PrefixListId": p["prefixListId"]} for p in permission["prefixListIds"]] or None,
                )
            expected[group.id] = kind.expected
        rule_name = rule_spec(RULE_ID).config_rule_name
        invoke_rule(sandbox, RULE_ID, periodic_event(rule_name, deployed_rule_parameters(RULE_ID)))  # warm-up
        sandbox.reset_counts()
        sandbox.config.evaluations.clear()
        progress(f"open-proxy-ports: the sweep of {count:,} security groups")
        started = time.perf_counter()
        invoke_rule(sandbox, RULE_ID, periodic_event(rule_name, deployed_rule_parameters(RULE_ID)))
        seconds = time.perf_counter() - started
        stored = sandbox.config.compliance(rule_name)
        mismatches = [
            f"{g}: {stored.get(g, ('missing',))[0]}, expected {e}"
            for g, e in expected.items()
            if stored.get(g, ("missing",))[0] != e
        ]
        if len(stored) != count:
            mismatches.append(f"{len(stored)} groups evaluated, not {count}")
        return Sweep(count, sandbox.calls_by(lambda_principal(rule_name)), seconds, mismatches)


# --- printing ----------------------------------------------------------------------------------


def p95(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


# Column names of the API calls per evaluation.
SHORT = {PUT: "Put", DESCRIBE_PL: "DescribePL", PL_ENTRIES: "PLEntries"}


def evaluation_table(run: Run) -> str:
    headers = [
        "",
        "evaluations",
        *(SHORT[action] for action in ACTIONS_SHOWN),
        "other",
        "mean ms",
        "p95 ms",
        "max ms",
        "in rule ms",
    ]
    headers += ["NON_COMPLIANT", "COMPLIANT", "NOT_APPLICABLE", "errors"]
    lines = []
    total = Row()
    for name, row in [*run.rows.items(), ("total", total)]:
        if name != "total":
            total.times += row.times
            total.in_rule += row.in_rule
            total.calls.update(row.calls)
            total.results.update(row.results)
        n = len(row.times)
        if n == 0:
            lines.append([name, "0", *("-" for _ in headers[2:])])
            continue
        other = sum(count for action, count in row.calls.items() if action not in ACTIONS_SHOWN)
        lines.append(
            [
                name,
                f"{n:,}",
                *(f"{row.calls[action] / n:.2f}" for action in ACTIONS_SHOWN),
                f"{other / n:.2f}",
                f"{statistics.fmean(row.times) * 1000:.2f}",
                f"{p95(row.times) * 1000:.2f}",
                f"{max(row.times) * 1000:.2f}",
                f"{statistics.fmean(row.in_rule) * 1000:.2f}",
                f"{row.results['NON_COMPLIANT']:,}",
                f"{row.results['COMPLIANT']:,}",
                f"{row.results['NOT_APPLICABLE']:,}",
                f"{row.results['ERROR']:,}",
            ]
        )
    return table(headers, lines)


def budget_lines(run: Run) -> tuple[list[str], bool]:
    lines = []
    met = True
    for name in ROWS:
        row = run.rows[name]
        lookups = " + ".join(f"{n} {a}" for a, n in sorted(BUDGET[name].items()) if a != PUT)
        allowed = f"at most {lookups}" if lookups else "nothing else"
        if not row.times:
            lines.append(f"budget: {name}: 1 {PUT} and {allowed} each: NOT MEASURED (no such items)")
            continue
        if row.over_budget:
            met = False
            seen = "; ".join(
                f"{count:,}x [{', '.join(f'{n} {a}' for a, n in calls) or 'no call'}]"
                for calls, count in row.over_budget.most_common(3)
            )
            lines.append(f"budget: {name}: 1 {PUT} and {allowed} each: NOT MET ({seen})")
        else:
            lines.append(
                f"budget: {name}: 1 {PUT} and {allowed} each{WHY.get(name, '')}: MET ({len(row.times):,} of {len(row.times):,})"
            )
    target(
        "open-proxy",
        "change event: 1 PutEvaluations, at most 1 look-up of each prefix list",
        "every event",
        "all within" if met else "some over (see above)",
        met,
    )
    return lines, met


# --- artifacts -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Artifact:
    logical_id: str
    kind: str  # "function" or "layer"
    files: int
    size: int
    zipped: int
    runtime_copies: tuple[str, ...]  # boto3/botocore/… paths found inside


def measure_artifact(logical_id: str, kind: str, directory: Path) -> Artifact:
    buffer = io.BytesIO()
    files = size = 0
    found: set[str] = set()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(directory.rglob("*")):
            relative = path.relative_to(directory)
            for depth, part in enumerate(relative.parts):
                name = part.split("-", 1)[0] if part.endswith(".dist-info") else part.removesuffix(".py")
                if name in RUNTIME_PACKAGES:
                    found.add(Path(*relative.parts[: depth + 1]).as_posix())
                    break
            if path.is_file():
                files += 1
                size += path.stat().st_size
                archive.write(path, relative.as_posix())
    return Artifact(logical_id, kind, files, size, len(buffer.getvalue()), tuple(sorted(found)))


def built_units() -> list[tuple[str, str, list[str]]]:
    """(logical id, "function" or "layer", layers it uses) of everything sam build builds."""
    units = []
    for logical_id, resource in template()["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function":
            layers = [
                layer["Ref"] for layer in resource["Properties"].get("Layers", []) if isinstance(layer, dict) and "Ref" in layer
            ]
            units.append((logical_id, "function", layers))
        elif resource["Type"] == "AWS::Serverless::LayerVersion":
            units.append((logical_id, "layer", []))
    return units


def ensure_build() -> str | None:
    """None when .aws-sam/build is there (building it if need be); otherwise why it is not."""
    if BUILD_DIR.is_dir():
        return None
    print("no .aws-sam/build: running tools/sam_build.sh …", flush=True)
    env = {**os.environ, "SAM": str(ROOT / ".venv" / "bin" / "sam"), "SAM_CLI_TELEMETRY": "0"}
    try:
        done = subprocess.run(
            ["bash", "tools/sam_build.sh"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"sam build did not run: {error}"
    output = (done.stdout + done.stderr).strip()
    if "SKIPPED" in output:
        return next(line for line in output.splitlines() if "SKIPPED" in line)
    if done.returncode != 0 or not BUILD_DIR.is_dir():
        tail = " | ".join(output.splitlines()[-3:])
        return f"sam build failed (exit {done.returncode}): {tail}"
    return None


def stale_sources() -> list[str]:
    """Sources changed after the build, so that old sizes are not taken for current ones."""
    built = min((path.stat().st_mtime for path in BUILD_DIR.iterdir()), default=0.0)
    sources = [ROOT / "template.yaml", *(ROOT / "layer").iterdir(), *(ROOT / "mamori").glob("*.py")]
    sources += [*(ROOT / "rules").glob("*/*.py"), *(ROOT / "responders").glob("*/*.py")]
    return sorted(str(path.relative_to(ROOT)) for path in sources if path.is_file() and path.stat().st_mtime > built)


def artifact_report() -> tuple[list[str], bool]:
    reason = ensure_build()
    if reason is not None:
        return [f"artifact size: NOT MEASURED ({reason})"], True
    artifacts: dict[str, Artifact] = {}
    missing = []
    units = built_units()
    for logical_id, kind, _ in units:
        directory = BUILD_DIR / logical_id
        if directory.is_dir():
            artifacts[logical_id] = measure_artifact(logical_id, kind, directory)
        else:
            missing.append(logical_id)
    rows = []
    for logical_id, kind, layers in units:
        artifact = artifacts.get(logical_id)
        if artifact is None:
            continue
        with_layers = [artifact, *(artifacts[layer] for layer in layers if layer in artifacts)]
        rows.append(
            [
                logical_id,
                kind,
                f"{artifact.files:,}",
                f"{artifact.size:,}",
                f"{artifact.zipped:,}",
                f"{sum(a.zipped for a in with_layers):,}" if kind == "function" else "-",
                ", ".join(artifact.runtime_copies) or "none",
            ]
        )
    lines = [table(["artifact", "kind", "files", "bytes", "zipped bytes", "zipped + layers", "boto3/botocore copies"], rows)]
    if missing:
        lines.append(f"not built: {', '.join(missing)} (run make build)")
    if stale := stale_sources():
        changed = ", ".join(stale[:5]) + (" …" if len(stale) > 5 else "")
        lines.append(f"note: .aws-sam/build is older than {changed}; make build for current sizes")
    copies = [f"{a.logical_id}: {', '.join(a.runtime_copies)}" for a in artifacts.values() if a.runtime_copies]
    if copies:
        lines.append(f"budget: no artifact ships {'/'.join(RUNTIME_PACKAGES)}: NOT MET ({'; '.join(copies)})")
    else:
        lines.append(f"budget: no artifact ships {'/'.join(RUNTIME_PACKAGES)}: MET ({len(artifacts)} artifacts)")
    return lines, not copies


GENERATED_TEMPLATES = ("template.yaml", "member-template.yaml", "org-template.yaml")


def percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%"


def quota_report() -> tuple[list[str], bool]:
    """Each SSM document of template.yaml against SSM's document quota, each generated template
    against the generator's budget and CloudFormation's quota, as committed."""
    documents = sorted(
        (
            (resource["Properties"]["Name"], document_size(resource["Properties"]["Content"]))
            for resource in template()["Resources"].values()
            if resource["Type"] == "AWS::SSM::Document"
        ),
        key=lambda item: -item[1],
    )
    rows = [[name, f"{size:,}", percent(size, SSM_DOCUMENT_LIMIT), f"{SSM_DOCUMENT_LIMIT - size:,}"] for name, size in documents]
    lines = [table(["SSM document", "bytes", f"of {SSM_DOCUMENT_LIMIT:,}", "free"], rows), ""]
    sizes = {name: len((ROOT / name).read_bytes()) for name in GENERATED_TEMPLATES}
    rows = [
        [
            name,
            f"{size:,}",
            percent(size, TEMPLATE_BUDGET),
            f"{TEMPLATE_BUDGET - size:,}",
            percent(size, CLOUDFORMATION_TEMPLATE_LIMIT),
        ]
        for name, size in sizes.items()
    ]
    headers = ["template", "bytes", f"of budget {TEMPLATE_BUDGET:,}", "free", f"of quota {CLOUDFORMATION_TEMPLATE_LIMIT:,}"]
    lines.append(table(headers, rows))
    largest_name, largest = documents[0]
    met = largest <= SSM_DOCUMENT_LIMIT and max(sizes.values()) <= TEMPLATE_BUDGET
    lines.append(
        f"budget: largest document {largest_name} {largest:,} of {SSM_DOCUMENT_LIMIT:,} bytes (SSM, 64 KB), largest template "
        f"{max(sizes.values()):,} of {TEMPLATE_BUDGET:,} bytes (1 MB less 10%): {'MET' if met else 'NOT MET'}"
    )
    return lines, met


def artifacts_section() -> bool:
    section = time.perf_counter()
    lines, artifacts_ok = artifact_report()
    print("\n".join(lines))
    print()
    lines, quotas_ok = quota_report()
    print("\n".join(lines))
    print(f"artifacts section took {time.perf_counter() - section:.1f} s")
    return artifacts_ok and quotas_ok


# --- main ----------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    if botocore.compat.HAS_CRT:
        progress(
            "botocore signs with awscrt in this process, and Lambda's Python runtime has no awscrt "
            "(aws/aws-lambda-base-images#147): set BOTO_DISABLE_CRT=true, as `make bench` does, to sign as the rules do there"
        )
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--items", type=int, default=MINIMUM_ITEMS, help="security-group configuration items (default 10000)")
    parser.add_argument(
        "--iam-users",
        type=iam_user_counts,
        default=DEFAULT_IAM_USERS,
        help="comma-separated IAM user counts of the realistic mix (default 10,100,1000,5000; 5,000 is the IAM quota)",
    )
    parser.add_argument(
        "--iam-setup",
        choices=("backend", "api"),
        default="backend",
        help="make the ordinary IAM users in moto's backend (default, fast) or through the IAM API (~80 s for 5,000)",
    )
    parser.add_argument(
        "--instances", type=int, default=1000, help="EC2 instances spread over the enabled regions (default 1000)"
    )
    parser.add_argument(
        "--latency-ms", type=float, default=100.0, help="network stand-in per API call in the region scan (default 100)"
    )
    parser.add_argument(
        "--regions-fresh-answers",
        action="store_true",
        help="the region scan's moto servers build every answer anew (default: kept until a write; see bench/regions.py)",
    )
    parser.add_argument(
        "--only",
        choices=("openproxy", "iam", "regions", "artifacts", "incidents"),
        help="run one section (openproxy includes the artifact sizes and quotas; artifacts runs those alone)",
    )
    parser.add_argument("--seed", type=int, default=20240611, help="seed of the synthetic items and users")
    args = parser.parse_args(argv)
    if args.items < 1:
        parser.error("--items must be at least 1")

    started = time.perf_counter()
    ok = True
    sections = [name for name in ("openproxy", "iam", "regions") if args.only in (None, name)] or ["artifacts"]
    # Each section computes for a while before it prints: say what runs, so the first minutes are not silent.
    print(
        f"mamori bench: {', '.join(sections)}; each section prints its tables when it is done (progress on stderr)",
        flush=True,
    )
    if args.only in (None, "openproxy"):
        progress(f"open-proxy-ports: {args.items:,} configuration items, then the artifact sizes")
        ok = open_proxy_section(args.items, args.seed) and ok
    if args.only == "artifacts":
        ok = artifacts_section() and ok
    if args.only in (None, "iam"):
        if args.only is None:
            print()
        progress(
            f"IAM rules: the peers' states at 1,000 and 5,000 users, then {', '.join(f'{n:,}' for n in args.iam_users)} users"
        )
        ok = iam_section(args.iam_users, args.seed, args.iam_setup) and ok
    if args.only in (None, "regions"):
        if args.only is None:
            print()
        progress(f"region scan: {args.instances:,} instances, {args.latency_ms:g} ms per call")
        ok = regions_section(args.instances, args.seed, args.latency_ms, not args.regions_fresh_answers) and ok
    if args.only in (None, "incidents"):
        print()
        ok = incidents_section() and ok  # bench/incidents.py
    print()
    print(summary())
    print()
    print(f"bench took {time.perf_counter() - started:.1f} s")
    return 0 if ok else 1


def open_proxy_section(items: int, seed: int) -> bool:
    section = time.perf_counter()
    run = evaluate(items, seed)
    sweep = sweep_groups(SWEPT_GROUPS)
    print(f"mamori bench: {RULE_ID}, {items:,} security-group configuration items (seed {seed}), moto + harness stand-ins")
    if items < MINIMUM_ITEMS:
        print(f"note: fewer items than the {MINIMUM_ITEMS:,} the bench is meant to run")
    print()
    print(evaluation_table(run))
    legend = ", ".join(f"{name} = {action}" for action, name in SHORT.items())
    print(f"API calls per evaluation (counted for {', '.join(run.principals) or 'nobody'}): {legend}, other = any other action")
    print(
        "ms per evaluation: the whole handler call; in rule ms = the mean inside the rule's evaluate_change (decision + look-ups)"
    )
    print()
    print(
        f"first invocation (not in the table; botocore loads its models): {run.cold_seconds * 1000:.0f} ms; "
        f"{items:,} evaluations in {run.wall_seconds:.1f} s; Config stand-in holds {run.stored:,} evaluations"
    )
    lines, budget_met = budget_lines(run)
    print("\n".join(lines))
    if run.mismatches:
        print(f"results: NOT AS EXPECTED for {run.mismatches:,} items, e.g. {'; '.join(run.examples)}")
    else:
        print(f"results: all {items:,} as the generator expects")
    if run.stored != items:
        print(f"evaluations stored: NOT AS EXPECTED ({run.stored:,} in the Config stand-in for {items:,} items)")
    target(
        "open-proxy",
        "change events: every result as expected, every one stored",
        "all",
        f"{run.mismatches} wrong",
        not run.mismatches and run.stored == items,
    )
    print()
    ok = print_speed(run) and print_sweep(sweep)
    print()
    artifacts_ok = artifacts_section()
    print(f"open-proxy-ports section took {time.perf_counter() - section:.1f} s")
    return budget_met and artifacts_ok and ok and not run.mismatches and run.stored == items


def print_speed(run: Run) -> bool:
    rates = run.events_per_second
    cached, uncached = rates["cached"], rates["uncached"]
    best = max(run.decisions_per_second)
    passes = ", ".join(f"{rate:,.0f}" for rate in run.decisions_per_second)
    items = sum(len(row.times) for row in run.rows.values())
    print(
        table(
            ["the same machine, the same run", "per CPU second", "per wall second"],
            [
                [
                    f"change events, nothing kept between them (rdklib alone), {COMPARED_EVENTS:,} events",
                    f"{uncached:,.0f}",
                    f"{rates['uncached, wall']:,.0f}",
                ],
                [
                    f"change events, warm clients and caches (as deployed), the same {COMPARED_EVENTS:,}",
                    f"{cached:,.0f}",
                    f"{rates['cached, wall']:,.0f}",
                ],
                [
                    f"the pure decision, {items:,} items, best of 3 passes",
                    f"{best:,.0f}",
                    f"{max(run.decisions_per_wall_second):,.0f}",
                ],
            ],
        )
    )
    print(
        "nothing kept: mamori.clients, the prefix-list cache and the CIDR cache emptied before every event, so each "
        "event builds its boto3 clients as rdklib's ClientFactory did. The pure decision: rule.decide on the "
        f"configuration item, no AWS call, no harness (passes, per CPU second: {passes}). Per CPU second: of this "
        "process (events) or thread (decision), which a busy machine does not inflate; per wall second beside it."
    )
    ok = target(
        "open-proxy",
        "change events/s, warm clients against none kept (per CPU second)",
        ">= 4x",
        f"{cached / uncached:.1f}x ({cached:,.0f} against {uncached:,.0f} /s; per wall second "
        f"{rates['cached, wall'] / rates['uncached, wall']:.1f}x)",
        cached / uncached >= 4,
    )
    ok &= target(
        "open-proxy",
        "the pure decision, items/s (per CPU second, best of 3)",
        ">= 15,000",
        f"{best:,.0f} (per wall second {max(run.decisions_per_wall_second):,.0f})",
        best >= 15_000,
    )
    ok &= target(
        "open-proxy",
        "the pure decision: every verdict as expected",
        "all",
        f"{run.decision_mismatches} wrong",
        run.decision_mismatches == 0,
    )
    return ok


def print_sweep(sweep: Sweep) -> bool:
    total = sum(sweep.calls.values())
    print(
        table(
            [f"{sweep.groups:,} security groups", "invocations", "API calls", "of which PutEvaluations", "time s"],
            [
                ["the periodic sweep", "1", f"{total:,}", f"{sweep.calls[PUT]:,}", f"{sweep.seconds:.1f}"],
                [
                    "the change trigger, once per group",
                    f"{sweep.groups:,}",
                    f"{sweep.groups:,} or more",
                    f"{sweep.groups:,}",
                    "-",
                ],
            ],
        )
    )
    print("sweep calls by action: " + ", ".join(f"{action} {n}" for action, n in sorted(sweep.calls.items())))
    if sweep.mismatches:
        print(f"sweep results: NOT AS EXPECTED: {'; '.join(sweep.mismatches[:3])}")
    puts = math.ceil(sweep.groups / 100)
    ok = target("open-proxy", f"the sweep of {sweep.groups:,} groups, all calls", "<= 15", f"{total}", total <= 15)
    ok &= target(
        "open-proxy", "the sweep: every group as expected", "all", f"{len(sweep.mismatches)} wrong", not sweep.mismatches
    )
    ok &= target(
        "open-proxy",
        "the sweep: PutEvaluations",
        f"= ceil(groups / 100) = {puts}",
        f"{sweep.calls[PUT]}",
        sweep.calls[PUT] == puts,
    )
    return ok


if __name__ == "__main__":
    sys.exit(main())
