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
  references a customer-managed prefix list adds one ec2:DescribeManagedPrefixLists and one
  page of ec2:GetManagedPrefixListEntries, nothing else. The bench exits non-zero otherwise.
* The size of each `sam build` artifact (.aws-sam/build), raw and zipped, and that none ships
  boto3 or botocore (the Lambda runtime already has them).
* The headroom under the size quotas the generator enforces (tools/limits.py): each SSM
  document against SSM's 64 KB, each generated template against mamori's 900,000-byte budget
  and CloudFormation's 1 MB for a template read from S3.

moto stands in for AWS and harness.aws.Sandbox for what moto lacks: it counts calls per
principal, enforces the role's IAM actions from template.yaml, and captures PutEvaluations as
Config would store them. Times therefore include moto's and the harness's own overhead; they
are an upper bound on the rule's CPU time, not a Lambda latency.

What is measured, the IAM rules (--iam-users, default 10,100,1000,5000; 5,000 is the IAM user quota)
* The real mamori-iam-user-console-mfa and mamori-stale-access-keys Lambda handlers, invoked
  with a periodic event each, on that many IAM users in moto: a seeded realistic mix (people
  with password and MFA, service accounts with keys in use, rotating and deactivated keys,
  users with no credentials, new hires within the grace period) plus the same ten special
  users at every size: 5 NON_COMPLIANT for each rule, one exempt (mamori:exempt) and one
  limited by the pack's deny-without-MFA policy. So the users the rules look at one by one
  are the same few at every size, and only the population around them grows.
* Per size and rule: every API call the rule's principal made, by action; PutEvaluations
  calls (ceil(users / 100): Config takes 100 evaluations a call); wall time of the handler.
* In the same run, a per-user baseline: what a rule without the credential report would do
  (ListUsers, then per user ListMFADevices, GetLoginProfile, ListAccessKeys and per key
  GetAccessKeyLastUsed), its IAM calls counted by the same sandbox.
* The budget: IAM calls constant in the number of users, apart from the ListUsers pages (one
  per 1,000 users). The bench exits non-zero otherwise.
"""

import argparse
import collections
import contextlib
import datetime
import gc
import hashlib
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
from types import ModuleType
from typing import Any

import boto3
import botocore.exceptions
import moto
from moto.core.responses import ActionResult
from moto.iam.exceptions import ValidationError as IamValidationError
from moto.iam.models import iam_backends
from moto.iam.responses import IamResponse

from bench.incidents import incidents_section
from bench.regions import regions_section
from harness.aws import ACCOUNT, REGION, Sandbox, fake_credentials
from harness.config_events import change_event, configuration_item, periodic_event
from harness.iam_state import create_managed_policy, key_created_ago, key_used_ago, make_user, user_created_ago
from harness.pack import deployed_rule_parameters, invoke_rule, lambda_principal, rule_spec, template
from mamori.catalog import load_unit_module
from mamori.compliance import COMPLIANT, NON_COMPLIANT, NOT_APPLICABLE
from mamori.exemption import EXEMPT_TAG
from tools.limits import CLOUDFORMATION_TEMPLATE_LIMIT, SSM_DOCUMENT_LIMIT, TEMPLATE_BUDGET, document_size

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
# The budget: the exact calls one evaluation may make, per row.
BUDGET: dict[str, collections.Counter[str]] = {
    NO_PL: collections.Counter({PUT: 1}),
    CUSTOMER_PL: collections.Counter({PUT: 1, DESCRIBE_PL: 1, PL_ENTRIES: 1}),
    # Config's item does not say who owns a list: one DescribeManagedPrefixLists tells, entries are not read.
    AWS_PL: collections.Counter({PUT: 1, DESCRIBE_PL: 1}),
}
WHY = {AWS_PL: " (Config's item does not say who owns a list)"}
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
    ], tags={"mamori:exempt": "load test until=2999-12-31"}),
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
        for synthetic in items:
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
            if +calls != BUDGET[synthetic.kind.row]:
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
        gc.unfreeze()
        stored = len(sandbox.config.compliance(rule_name)) - 1  # less the warm-up item
    return Run(rows, cold, wall, mismatches, examples, stored, sorted(principals))


# --- printing ----------------------------------------------------------------------------------


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]
    lines = ["  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(headers, widths, strict=True)))]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))))
    return "\n".join(lines)


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
        allowed = " + ".join(f"{n} {a}" for a, n in sorted(BUDGET[name].items()))
        if not row.times:
            lines.append(f"budget: {name}: {allowed} each: NOT MEASURED (no such items)")
            continue
        if row.over_budget:
            met = False
            seen = "; ".join(
                f"{count:,}x [{', '.join(f'{n} {a}' for a, n in calls) or 'no call'}]"
                for calls, count in row.over_budget.most_common(3)
            )
            lines.append(f"budget: {name}: exactly {allowed} each: NOT MET ({seen})")
        else:
            lines.append(
                f"budget: {name}: exactly {allowed} each{WHY.get(name, '')}: MET ({len(row.times):,} of {len(row.times):,})"
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


# --- the IAM rules at the IAM user quota -----------------------------------------------------------

IAM_RULES = ("iam-user-console-mfa", "stale-access-keys")
IAM_SHORT = {"iam-user-console-mfa": "console-mfa", "stale-access-keys": "stale-keys"}
DEFAULT_IAM_USERS = (10, 100, 1_000, 5_000)
LIST_USERS = "iam:ListUsers"
USERS_PER_LIST_PAGE = 1_000
EVALUATIONS_PER_PUT = 100
BASELINE = "baseline"
BASELINE_ACTIONS = frozenset(
    {"iam:ListUsers", "iam:ListMFADevices", "iam:GetLoginProfile", "iam:ListAccessKeys", "iam:GetAccessKeyLastUsed"}
)
# The baseline decides as the rules do with their default parameters (GracePeriodHours 24, MaxUnusedDays 90).
BASELINE_GRACE = datetime.timedelta(hours=24)
BASELINE_MAX_UNUSED = datetime.timedelta(days=90)
DAY = datetime.timedelta(days=1)
HOUR = datetime.timedelta(hours=1)
PASSWORD = "Correct-Horse-Battery-9!"


@dataclass(frozen=True)
class KeySpec:
    created: datetime.timedelta  # ago
    used: datetime.timedelta | None = None  # ago; None: never used
    active: bool = True


@dataclass(frozen=True)
class Profile:
    """One IAM user: its credentials, how old they are, and what each rule must answer."""

    kind: str
    created: datetime.timedelta  # ago
    expected: tuple[str, str]  # (iam-user-console-mfa, stale-access-keys)
    password: bool = False
    mfa: bool = False
    keys: tuple[KeySpec, ...] = ()
    tags: tuple[tuple[str, str], ...] = ()
    deny_policy: bool = False  # the pack's mamori-deny-without-mfa attached


# The same users at every size: the ones the rules read one by one (tags, attached policies,
# access keys), 5 NON_COMPLIANT for each rule, one exempt and one limited by the deny policy.
SPECIAL = (
    Profile("no MFA, contractor", 30 * DAY, (NON_COMPLIANT, NOT_APPLICABLE), password=True),
    Profile("no MFA, never-used key", 400 * DAY, (NON_COMPLIANT, NON_COMPLIANT), True, keys=(KeySpec(200 * DAY),)),
    Profile(
        "no MFA, key unused 100 days", 365 * DAY, (NON_COMPLIANT, NON_COMPLIANT), True, keys=(KeySpec(300 * DAY, 100 * DAY),)
    ),
    Profile("no MFA, key in use", 2 * DAY, (NON_COMPLIANT, COMPLIANT), True, keys=(KeySpec(2 * DAY, HOUR),)),
    Profile("no MFA, no keys", 60 * DAY, (NON_COMPLIANT, NOT_APPLICABLE), password=True),
    Profile("forgotten CI key", 500 * DAY, (NOT_APPLICABLE, NON_COMPLIANT), keys=(KeySpec(400 * DAY, 95 * DAY),)),
    Profile(
        "half-rotated keys",
        500 * DAY,
        (NOT_APPLICABLE, NON_COMPLIANT),
        keys=(KeySpec(5 * DAY, 1 * DAY), KeySpec(300 * DAY)),
    ),
    Profile("key unused 91 days", 200 * DAY, (NOT_APPLICABLE, NON_COMPLIANT), keys=(KeySpec(200 * DAY, 91 * DAY),)),
    Profile(
        "exempt (break-glass)",
        100 * DAY,
        (NOT_APPLICABLE, NOT_APPLICABLE),
        True,
        keys=(KeySpec(200 * DAY),),
        tags=((EXEMPT_TAG, "break-glass user until=2999-12-31"),),
    ),
    Profile("deny-without-MFA attached", 5 * DAY, (COMPLIANT, NOT_APPLICABLE), True, deny_policy=True),
)


def bulk_profile(rng: random.Random) -> Profile:
    """An ordinary user, COMPLIANT or NOT_APPLICABLE for both rules."""
    kind = rng.choices(
        [
            "person",
            "person with CLI key",
            "service account",
            "rotating keys",
            "deactivated old key",
            "no credentials",
            "new hire",
        ],
        [40, 10, 25, 5, 5, 10, 5],
    )[0]
    age = rng.randint(100, 1500) * DAY
    if kind == "person":
        return Profile(kind, age, (COMPLIANT, NOT_APPLICABLE), password=True, mfa=True)
    if kind == "person with CLI key":
        key = KeySpec(rng.randint(10, 99) * DAY, rng.randint(0, 30) * DAY + HOUR)
        return Profile(kind, age, (COMPLIANT, COMPLIANT), password=True, mfa=True, keys=(key,))
    if kind == "service account":
        return Profile(kind, age, (NOT_APPLICABLE, COMPLIANT), keys=(KeySpec(age - DAY, rng.randint(0, 60) * DAY + HOUR),))
    if kind == "rotating keys":
        keys = (KeySpec(age - DAY, rng.randint(1, 20) * DAY), KeySpec(3 * DAY, rng.randint(1, 47) * HOUR))
        return Profile(kind, age, (NOT_APPLICABLE, COMPLIANT), keys=keys)
    if kind == "deactivated old key":
        keys = (KeySpec(age - DAY, None, active=False), KeySpec(30 * DAY, rng.randint(1, 47) * HOUR))
        return Profile(kind, age, (NOT_APPLICABLE, COMPLIANT), keys=keys)
    if kind == "no credentials":
        return Profile(kind, age, (NOT_APPLICABLE, NOT_APPLICABLE))
    return Profile(kind, rng.randint(1, 20) * HOUR, (COMPLIANT, NOT_APPLICABLE), password=True)


def _age(name: str, profile: Profile) -> None:
    """harness.iam_state stands in for time passing (writes moto's dates)."""
    user_created_ago(name, profile.created)
    for index, key in enumerate(profile.keys):
        key_created_ago(name, index, key.created)
        if key.used is not None:
            key_used_ago(name, index, key.used)


def create_user_by_api(name: str, profile: Profile, deny_policy_arn: str) -> str:
    """Through the IAM API (moto's HTTP layer), as the tests do."""
    user_id = make_user(name, password=profile.password, mfa=profile.mfa, keys=len(profile.keys), tags=dict(profile.tags))
    iam = boto3.client("iam")
    if profile.deny_policy:
        iam.attach_user_policy(UserName=name, PolicyArn=deny_policy_arn)
    keys = iam.list_access_keys(UserName=name)["AccessKeyMetadata"]
    for key, spec in zip(sorted(keys, key=lambda k: k["CreateDate"]), profile.keys, strict=True):
        if not spec.active:
            iam.update_access_key(UserName=name, AccessKeyId=key["AccessKeyId"], Status="Inactive")
    _age(name, profile)
    return user_id


def create_user_in_backend(backend: Any, name: str, profile: Profile, index: int) -> str:
    """Straight into moto's IAM backend (moto 5 keys IAM's backend by partition, "aws", as
    harness.iam_state does): the same objects the API path makes, without the request round
    trips. Through the API (--iam-setup api), making 5,000 users took ~80 s on 2 cores, over
    the bench's 60 s allowance for setup; in the backend, under a second."""
    backend.create_user(REGION, name, "/", [{"Key": k, "Value": v} for k, v in profile.tags])
    if profile.password:
        backend.create_login_profile(name, PASSWORD)
    if profile.mfa:
        serial = backend.create_virtual_mfa_device(name, "/").serial_number
        backend.enable_mfa_device(name, serial, "123456", "654321")
    for key in profile.keys:
        backend.create_access_key(name, status="Active" if key.active else "Inactive")
    # An IAM-shaped id (moto makes lower-case ones), as harness.iam_state.make_user sets.
    user_id = "AIDA" + hashlib.sha256(f"bench-user/{index}".encode()).hexdigest()[:17].upper()
    backend.users[name].id = user_id
    _age(name, profile)
    return user_id


@dataclass
class IamPopulation:
    """The users in moto, grown size by size (each size holds the previous one)."""

    setup: str  # "backend" or "api"
    deny_policy_arn: str
    rng: random.Random
    expected: dict[str, tuple[str, str]] = field(default_factory=dict)  # user id -> per rule

    def grow_to(self, size: int) -> float:
        started = time.perf_counter()
        backend = iam_backends[ACCOUNT]["aws"]
        while len(self.expected) < size:
            index = len(self.expected)
            if index < len(SPECIAL):
                profile, name = SPECIAL[index], f"special-{index:02d}"
            else:
                profile, name = bulk_profile(self.rng), f"user-{index:05d}"
            if index < len(SPECIAL) or self.setup == "api":
                user_id = create_user_by_api(name, profile, self.deny_policy_arn)
            else:
                user_id = create_user_in_backend(backend, name, profile, index)
            self.expected[user_id] = profile.expected
        return time.perf_counter() - started


@dataclass
class RuleRun:
    calls: collections.Counter[str]  # every action the rule's principal called
    put_evaluations: int  # as the Config stand-in counted them
    seconds: float
    results: collections.Counter[str]
    mismatches: list[str]  # "user id: got, expected"
    waits: list[float]  # credential-report polling waits asked for (not slept)


@dataclass
class BaselineRun:
    calls: collections.Counter[str]
    seconds: float
    console_flagged: int
    stale_flagged: int


@dataclass
class IamSize:
    users: int
    setup_seconds: float
    rules: dict[str, RuleRun]
    baseline: BaselineRun


class _NoSleep:
    """Stands in for the `time` module in a rule's namespace: the credential-report polling
    asks for its waits here; they are recorded, not slept, as the tests do."""

    def __init__(self, waits: list[float]) -> None:
        self._waits = waits

    def sleep(self, seconds: float) -> None:
        self._waits.append(seconds)

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


@contextlib.contextmanager
def no_report_sleep(waits: list[float]) -> Iterator[None]:
    modules: list[ModuleType] = [
        load_unit_module("rule", rule_id, rule_spec(rule_id).handler.split(".")[0] + ".py") for rule_id in IAM_RULES
    ]
    originals = [module.__dict__["time"] for module in modules]
    for module in modules:
        module.__dict__["time"] = _NoSleep(waits)
    try:
        yield
    finally:
        for module, original in zip(modules, originals, strict=True):
            module.__dict__["time"] = original


@contextlib.contextmanager
def iam_list_users_pages() -> Iterator[None]:
    """moto answers ListUsers with every user in one response, whatever MaxItems says (moto
    5.2). IAM pages it: MaxItems 1 to 1,000 (100 when not given), a Marker for the next page.
    This stand-in for the paging, for the IAM section only, is what lets the bench count the
    ListUsers pages a rule pays for."""
    original = IamResponse.list_users

    def paged(self: IamResponse) -> ActionResult:
        max_items = int(self._get_param("MaxItems") or 100)
        if not 1 <= max_items <= USERS_PER_LIST_PAGE:
            raise IamValidationError(f"MaxItems {max_items}: must be 1 to {USERS_PER_LIST_PAGE}")
        users = list(self.backend.list_users(self._get_param("PathPrefix"), None, None))
        start = int(self._get_param("Marker") or 0)
        end = start + max_items
        result: dict[str, Any] = {"Users": users[start:end], "IsTruncated": end < len(users)}
        if end < len(users):
            result["Marker"] = str(end)
        return ActionResult(result)

    IamResponse.list_users = paged  # type: ignore[method-assign]
    try:
        yield
    finally:
        IamResponse.list_users = original  # type: ignore[method-assign]


def run_iam_rule(sandbox: Sandbox, rule_id: str, expected: dict[str, tuple[str, str]], waits: list[float]) -> RuleRun:
    spec = rule_spec(rule_id)
    column = IAM_RULES.index(rule_id)
    sandbox.reset_counts()
    waits.clear()
    event = periodic_event(spec.config_rule_name, deployed_rule_parameters(rule_id))
    started = time.perf_counter()
    invoke_rule(sandbox, rule_id, event)
    seconds = time.perf_counter() - started
    stored = sandbox.config.compliance(spec.config_rule_name)
    results = collections.Counter(compliance for compliance, _ in stored.values())
    mismatches = [
        f"{user_id}: {stored.get(user_id, ('missing', ''))[0]}, expected {verdicts[column]}"
        for user_id, verdicts in expected.items()
        if stored.get(user_id, ("missing", ""))[0] != verdicts[column]
    ]
    mismatches += [f"{resource_id}: evaluated, not a bench user" for resource_id in stored if resource_id not in expected]
    return RuleRun(
        sandbox.calls_by(lambda_principal(spec.config_rule_name)),
        sandbox.config.put_evaluations_calls,
        seconds,
        results,
        mismatches,
        list(waits),
    )


def per_user_baseline(iam: Any) -> tuple[int, int]:
    """What a rule without the credential report does: every user's MFA devices, login
    profile, access keys and each key's last use, one call each. (Users flagged by the
    console-MFA check, users with a stale active key); no exemption or deny-policy look-up."""
    now = datetime.datetime.now(datetime.UTC)
    console = stale = 0
    for page in iam.get_paginator("list_users").paginate(PaginationConfig={"PageSize": USERS_PER_LIST_PAGE}):
        for user in page["Users"]:
            name = user["UserName"]
            mfa = bool(iam.list_mfa_devices(UserName=name)["MFADevices"])
            try:
                iam.get_login_profile(UserName=name)
                password = True
            except botocore.exceptions.ClientError as error:
                if error.response["Error"]["Code"] not in ("NoSuchEntity", "NoSuchEntityException"):
                    raise
                password = False
            if password and not mfa and now - user["CreateDate"] >= BASELINE_GRACE:
                console += 1
            has_stale = False
            for key in iam.list_access_keys(UserName=name)["AccessKeyMetadata"]:
                used = iam.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])["AccessKeyLastUsed"].get("LastUsedDate")
                if key["Status"] == "Active" and now - (used or key["CreateDate"]) >= BASELINE_MAX_UNUSED:
                    has_stale = True
            stale += has_stale
    return console, stale


def run_baseline(sandbox: Sandbox) -> BaselineRun:
    sandbox.reset_counts()
    iam = boto3.client("iam")
    started = time.perf_counter()
    with sandbox.acting_as(BASELINE, BASELINE_ACTIONS):
        console, stale = per_user_baseline(iam)
    seconds = time.perf_counter() - started
    return BaselineRun(sandbox.calls_by(BASELINE), seconds, console, stale)


def evaluate_iam(sizes: Sequence[int], seed: int, setup: str) -> list[IamSize]:
    fake_credentials()
    measured = []
    waits: list[float] = []
    with moto.mock_aws(), no_report_sleep(waits), iam_list_users_pages():
        sandbox = Sandbox()
        deny_policy_arn = create_managed_policy(template()["Resources"]["DenyWithoutMfaPolicy"])
        population = IamPopulation(setup, deny_policy_arn, random.Random(seed))
        backend = iam_backends[ACCOUNT]["aws"]
        for size in sizes:
            setup_seconds = population.grow_to(size)
            # Yesterday's run, not measured: on any day but the first, Config holds each user's
            # evaluation, which rdklib reads back (GetComplianceDetailsByConfigRule) to mark
            # users that are gone NOT_APPLICABLE.
            sandbox.config.evaluations.clear()
            backend.credential_report = None
            for rule_id in IAM_RULES:
                run_iam_rule(sandbox, rule_id, population.expected, waits)
            # Today's run, measured, with no fresh credential report (IAM keeps one four hours,
            # the rules run daily): the first rule generates it and polls, the second finds it ready.
            backend.credential_report = None
            rules = {rule_id: run_iam_rule(sandbox, rule_id, population.expected, waits) for rule_id in IAM_RULES}
            measured.append(IamSize(size, setup_seconds, rules, run_baseline(sandbox)))
    return measured


def iam_call_total(calls: collections.Counter[str]) -> int:
    return sum(n for action, n in calls.items() if action.startswith("iam:"))


def iam_tables(sizes: list[IamSize]) -> str:
    rows = []
    for size in sizes:
        console, stale = (size.rules[rule_id] for rule_id in IAM_RULES)
        rows.append(
            [
                f"{size.users:,}",
                f"{iam_call_total(console.calls):,}",
                f"{iam_call_total(stale.calls):,}",
                f"{console.put_evaluations:,} + {stale.put_evaluations:,}",
                f"{console.seconds:.2f} + {stale.seconds:.2f}",
                f"{iam_call_total(size.baseline.calls):,}",
                f"{size.baseline.seconds:.2f}",
                f"{size.setup_seconds:.2f}",
            ]
        )
    summary = table(
        [
            "users",
            "console-mfa IAM calls",
            "stale-keys IAM calls",
            "PutEvaluations",
            "time s",
            "per-user baseline IAM calls",
            "baseline time s",
            "setup s",
        ],
        rows,
    )
    principals = [*((IAM_SHORT[rule_id], rule_id) for rule_id in IAM_RULES), (BASELINE, BASELINE)]
    action_rows = []
    for label, key in principals:
        actions = sorted(
            {action for size in sizes for action in (size.baseline.calls if key == BASELINE else size.rules[key].calls)}
        )
        for action in actions:
            counts = [(size.baseline.calls if key == BASELINE else size.rules[key].calls)[action] for size in sizes]
            action_rows.append([f"{label}  {action}", *(f"{n:,}" for n in counts)])
    by_action = table(["calls by action", *(f"{size.users:,} users" for size in sizes)], action_rows)
    return summary + "\n\n" + by_action


def iam_budget_lines(sizes: list[IamSize]) -> tuple[list[str], bool]:
    lines = []
    first, last = f"{sizes[0].users:,}", f"{sizes[-1].users:,}"
    problems = []
    constant = []
    for rule_id in IAM_RULES:
        besides = [
            +collections.Counter({a: n for a, n in size.rules[rule_id].calls.items() if a.startswith("iam:") and a != LIST_USERS})
            for size in sizes
        ]
        if any(counter != besides[0] for counter in besides):
            seen = ", ".join(f"{size.users:,}: {iam_call_total(counter)}" for size, counter in zip(sizes, besides, strict=True))
            problems.append(f"{IAM_SHORT[rule_id]} makes {seen} IAM calls besides ListUsers")
        else:
            constant.append(f"{IAM_SHORT[rule_id]} {iam_call_total(besides[0])}")
        for size in sizes:
            pages, allowed = size.rules[rule_id].calls[LIST_USERS], math.ceil(size.users / USERS_PER_LIST_PAGE)
            if pages != allowed:
                problems.append(f"{IAM_SHORT[rule_id]} makes {pages} ListUsers calls for {size.users:,} users, not {allowed}")
    label = f"IAM calls constant from {first} to {last} users (apart from ListUsers pages, 1 per 1,000 users)"
    if problems:
        lines.append(f"budget: {label}: NOT MET ({'; '.join(problems)})")
    else:
        lines.append(f"budget: {label}: MET ({' and '.join(constant)} IAM calls besides ListUsers at every size)")
    met = not problems

    wrong_puts = [
        f"{IAM_SHORT[rule_id]} {size.rules[rule_id].put_evaluations} for {size.users:,} users"
        for size in sizes
        for rule_id in IAM_RULES
        if size.rules[rule_id].put_evaluations != math.ceil(size.users / EVALUATIONS_PER_PUT)
        or size.rules[rule_id].calls["config:PutEvaluations"] != size.rules[rule_id].put_evaluations
    ]
    if wrong_puts:
        met = False
        lines.append(f"PutEvaluations = ceil(users / 100) per rule: NOT AS EXPECTED ({'; '.join(wrong_puts)})")
    else:
        lines.append("PutEvaluations = ceil(users / 100) per rule: as expected at every size")

    wrong = [(size, rule_id, run.mismatches) for size in sizes for rule_id, run in size.rules.items() if run.mismatches]
    if wrong:
        met = False
        for size, rule_id, mismatches in wrong:
            lines.append(
                f"results: {IAM_SHORT[rule_id]}, {size.users:,} users: NOT AS EXPECTED for {len(mismatches):,}, "
                f"e.g. {'; '.join(mismatches[:3])}"
            )
    else:
        flagged = ", ".join(f"{IAM_SHORT[r]} {sizes[0].rules[r].results[NON_COMPLIANT]}" for r in IAM_RULES)
        lines.append(f"results: every user as the generator expects at every size (NON_COMPLIANT: {flagged})")
    return lines, met


def print_iam(sizes: list[IamSize], seed: int, setup: str) -> bool:
    print(
        f"mamori bench: iam-user-console-mfa and stale-access-keys, {', '.join(f'{s.users:,}' for s in sizes)} IAM users "
        f"(seed {seed}; users made {'through the IAM API' if setup == 'api' else 'in moto backend, special ones by the API'})"
    )
    print()
    print(iam_tables(sizes))
    print(
        "IAM calls: per periodic run of each rule Lambda, counted for its principal; PutEvaluations and time: "
        "console-mfa + stale-keys; baseline: both rules' data, per user (no PutEvaluations); setup: creating the users "
        "added for this size"
    )
    waits = [wait for size in sizes for run in size.rules.values() for wait in run.waits]
    last = sizes[-1].baseline
    print(
        f"credential report: the first rule of each size generated it and asked to wait {sum(waits):.0f} s in all "
        f"(recorded, not slept); baseline flags console-mfa {last.console_flagged}, stale-keys {last.stale_flagged} "
        "(it reads no exemption tag or attached policy)"
    )
    lines, met = iam_budget_lines(sizes)
    print("\n".join(lines))
    return met


def iam_user_counts(text: str) -> tuple[int, ...]:
    try:
        counts = tuple(sorted({int(part.replace("_", "")) for part in text.split(",") if part.strip()}))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of user counts: {text!r}") from None
    if not counts or counts[0] < len(SPECIAL):
        raise argparse.ArgumentTypeError(f"every user count must be at least {len(SPECIAL)} (the special users)")
    return counts


# --- main ----------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--items", type=int, default=MINIMUM_ITEMS, help="security-group configuration items (default 10000)")
    parser.add_argument(
        "--iam-users",
        type=iam_user_counts,
        default=DEFAULT_IAM_USERS,
        help="comma-separated IAM user counts (default 10,100,1000,5000; 5,000 is the IAM quota)",
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
    print(f"mamori bench: {', '.join(sections)}; each section prints its tables when it is done", flush=True)
    if args.only in (None, "openproxy"):
        progress(f"open-proxy-ports: {args.items:,} configuration items, then the artifact sizes")
        ok = open_proxy_section(args.items, args.seed) and ok
    if args.only == "artifacts":
        ok = artifacts_section() and ok
    if args.only in (None, "iam"):
        if args.only is None:
            print()
        section = time.perf_counter()
        progress(f"IAM rules: {', '.join(f'{n:,}' for n in args.iam_users)} users")
        sizes = evaluate_iam(args.iam_users, args.seed, args.iam_setup)
        ok = print_iam(sizes, args.seed, args.iam_setup) and ok
        print(f"IAM section took {time.perf_counter() - section:.1f} s")
    if args.only in (None, "regions"):
        if args.only is None:
            print()
        progress(f"region scan: {args.instances:,} instances, {args.latency_ms:g} ms per call")
        ok = regions_section(args.instances, args.seed, args.latency_ms) and ok
    if args.only in (None, "incidents"):
        print()
        ok = incidents_section() and ok  # bench/incidents.py
    print()
    print(f"bench took {time.perf_counter() - started:.1f} s")
    return 0 if ok else 1


def progress(what: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] running {what} …", flush=True)


def open_proxy_section(items: int, seed: int) -> bool:
    section = time.perf_counter()
    run = evaluate(items, seed)
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
    print()
    artifacts_ok = artifacts_section()
    print(f"open-proxy-ports section took {time.perf_counter() - section:.1f} s")
    return budget_met and artifacts_ok and not run.mismatches and run.stored == items


if __name__ == "__main__":
    sys.exit(main())
