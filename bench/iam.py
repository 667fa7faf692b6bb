"""The IAM rules at scale (`make bench`, section `iam`).

What is measured
* The real mamori-iam-user-console-mfa and mamori-stale-access-keys Lambda handlers, invoked
  with a periodic event each, as Config invokes them, on IAM users in moto.
* The peers' comparison (issue 12), at 1,000 and 5,000 users (5,000 is the IAM user quota), on
  four states: the one the Prowler and Cloud Custodian figures were measured on (every user
  with a console password and an access key, half with MFA, every fourth key 400 days old and
  unused for 200 days, every user past the grace period), and states where 0 %, 50 % and
  100 % of the users are flagged by both rules. The peers' figures are their published ones
  (issue 12), not measured here.
* A realistic mix at 10, 100, 1,000 and 5,000 users (--iam-users): people with password and
  MFA, service accounts with keys in use, rotating and deactivated keys, users with no
  credentials, new hires within the grace period, plus the same ten special users at every
  size (5 NON_COMPLIANT for each rule, one exempt, one limited by the deny policy); every
  user's verdict is checked against what the generator expects. Beside it, up to 1,000
  users, a per-user baseline: what a rule without the credential report does (ListUsers,
  then per user ListMFADevices, GetLoginProfile, ListAccessKeys and per key
  GetAccessKeyLastUsed), counted by the same sandbox.
* Every run starts from yesterday's dashboard: Config holds each user's earlier COMPLIANT or
  NON_COMPLIANT result, which the clean-up reads back (GetComplianceDetailsByConfigRule, 100
  a call) to mark users that are gone. The Config stand-in is filled with them directly.
* The credential report: the first rule of each run generates it (GenerateCredentialReport
  answers STARTED, then COMPLETE; the waits are recorded, not slept), the second finds it.
* rdklib's clean-up of old evaluations against mamori's (mamori.rule_runtime), on their own:
  rdklib's looks each earlier result's id up in a list, mamori's in a set. Their work is
  counted in comparisons and hashes of resource ids (harness.comparisons; the same on any
  machine) at 500, 5,000 and 50,000 earlier results, with CPU seconds at 5,000 beside them.

moto pages neither ListUsers nor GetAccountAuthorizationDetails: harness.aws pages
GetAccountAuthorizationDetails as IAM does (MaxItems up to 1,000), and iam_list_users_pages
below pages ListUsers for the baseline.
"""

import argparse
import collections
import contextlib
import datetime
import hashlib
import math
import random
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import boto3
import botocore.exceptions
import moto
from moto.core.responses import ActionResult
from moto.iam.exceptions import ValidationError as IamValidationError
from moto.iam.models import iam_backends
from moto.iam.responses import IamResponse

from bench.report import progress, table, target
from harness.aws import ACCOUNT, REGION, Sandbox, fake_credentials
from harness.comparisons import CleanUp, EarlierResults, id_comparisons, usual_day
from harness.config_events import periodic_event
from harness.iam_state import (
    create_managed_policy,
    key_created_ago,
    key_used_ago,
    make_user,
    make_users_in_backend,
    user_created_ago,
)
from harness.pack import deployed_rule_parameters, invoke_rule, lambda_principal, rule_spec, template
from mamori import rule_runtime
from mamori.catalog import load_unit_module
from mamori.compliance import COMPLIANT, NON_COMPLIANT, NOT_APPLICABLE
from mamori.exemption import EXEMPT_TAG

# An exemption must end, at most MaxExemptionDays (90 by default) ahead (mamori.exemption).
EXEMPT_UNTIL = (datetime.datetime.now(datetime.UTC).date() + datetime.timedelta(days=60)).isoformat()

IAM_RULES = ("iam-user-console-mfa", "stale-access-keys")
IAM_SHORT = {"iam-user-console-mfa": "console-mfa", "stale-access-keys": "stale-keys"}
DEFAULT_IAM_USERS = (10, 100, 1_000, 5_000)
LIST_USERS = "iam:ListUsers"
DETAILS = "iam:GetAccountAuthorizationDetails"
USERS_PER_LIST_PAGE = 1_000
# The baseline reads every user one call at a time: ~20,000 moto calls at 5,000 users. Above
# this, the peers' published figures stand in for it.
BASELINE_UP_TO = 1_000
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
        tags=((EXEMPT_TAG, f"break-glass user until={EXEMPT_UNTIL}"),),
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
    baseline: BaselineRun | None  # None above BASELINE_UP_TO users


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


def yesterdays_dashboard(sandbox: Sandbox, expected: dict[str, tuple[str, str]]) -> None:
    """What Config holds on any day but the first: each user's COMPLIANT or NON_COMPLIANT result
    of yesterday's run (NOT_APPLICABLE ones are not read back), as PutEvaluations stored them."""
    sandbox.config.evaluations.clear()
    for column, rule_id in enumerate(IAM_RULES):
        sandbox.config.evaluations[rule_spec(rule_id).config_rule_name] = {
            ("AWS::IAM::User", user_id): {
                "ComplianceResourceType": "AWS::IAM::User",
                "ComplianceResourceId": user_id,
                "ComplianceType": verdicts[column],
                "OrderingTimestamp": "2026-01-01T00:00:00.000Z",
            }
            for user_id, verdicts in expected.items()
            if verdicts[column] in (COMPLIANT, NON_COMPLIANT)
        }


def run_both(sandbox: Sandbox, expected: dict[str, tuple[str, str]], waits: list[float]) -> dict[str, RuleRun]:
    """Today's run of both rules on yesterday's dashboard, with no fresh credential report (IAM
    keeps one four hours, the rules run daily): the first rule generates it and polls, the
    second finds it ready."""
    yesterdays_dashboard(sandbox, expected)
    iam_backends[ACCOUNT]["aws"].credential_report = None
    return {rule_id: run_iam_rule(sandbox, rule_id, expected, waits) for rule_id in IAM_RULES}


def evaluate_iam(sizes: Sequence[int], seed: int, setup: str) -> list[IamSize]:
    fake_credentials()
    measured = []
    waits: list[float] = []
    with moto.mock_aws(), no_report_sleep(waits), iam_list_users_pages():
        sandbox = Sandbox()
        deny_policy_arn = create_managed_policy(template()["Resources"]["DenyWithoutMfaPolicy"])
        population = IamPopulation(setup, deny_policy_arn, random.Random(seed))
        for size in sizes:
            progress(f"iam: realistic mix, {size:,} users")
            setup_seconds = population.grow_to(size)
            rules = run_both(sandbox, population.expected, waits)
            baseline = run_baseline(sandbox) if size <= BASELINE_UP_TO else None
            measured.append(IamSize(size, setup_seconds, rules, baseline))
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
                f"{iam_call_total(size.baseline.calls):,}" if size.baseline else "-",
                f"{size.baseline.seconds:.2f}" if size.baseline else "-",
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

    def calls(size: IamSize, key: str) -> collections.Counter[str]:
        if key != BASELINE:
            return size.rules[key].calls
        return size.baseline.calls if size.baseline else collections.Counter()

    action_rows = []
    for label, key in principals:
        actions = sorted({action for size in sizes for action in calls(size, key)})
        for action in actions:
            counts = ["-" if key == BASELINE and size.baseline is None else f"{calls(size, key)[action]:,}" for size in sizes]
            action_rows.append([f"{label}  {action}", *counts])
    by_action = table(["calls by action", *(f"{size.users:,} users" for size in sizes)], action_rows)
    return summary + "\n\n" + by_action


def iam_budget_lines(sizes: list[IamSize]) -> tuple[list[str], bool]:
    lines = []
    first, last = f"{sizes[0].users:,}", f"{sizes[-1].users:,}"
    problems = []
    constant = []
    for rule_id in IAM_RULES:
        besides = [
            +collections.Counter({a: n for a, n in size.rules[rule_id].calls.items() if a.startswith("iam:") and a != DETAILS})
            for size in sizes
        ]
        if any(counter != besides[0] for counter in besides):
            seen = ", ".join(f"{size.users:,}: {iam_call_total(counter)}" for size, counter in zip(sizes, besides, strict=True))
            problems.append(f"{IAM_SHORT[rule_id]} makes {seen} IAM calls besides GetAccountAuthorizationDetails")
        else:
            constant.append(f"{IAM_SHORT[rule_id]} {iam_call_total(besides[0])}")
        for size in sizes:
            pages, allowed = size.rules[rule_id].calls[DETAILS], math.ceil(size.users / USERS_PER_LIST_PAGE)
            if pages != allowed:
                problems.append(
                    f"{IAM_SHORT[rule_id]} makes {pages} GetAccountAuthorizationDetails calls for {size.users:,} users, "
                    f"not {allowed}"
                )
    label = f"IAM calls constant from {first} to {last} users (apart from the user listing's pages, 1 per 1,000 users)"
    if problems:
        lines.append(f"budget: {label}: NOT MET ({'; '.join(problems)})")
    else:
        lines.append(f"budget: {label}: MET ({' and '.join(constant)} IAM calls besides those pages at every size)")
    met = not problems
    target(
        "iam",
        "realistic mix: IAM calls constant in the number of users (but for 1 listing page per 1,000)",
        "constant",
        "; ".join(problems) if problems else " and ".join(constant) + " besides the pages",
        not problems,
    )

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
    target(
        "iam",
        "realistic mix: PutEvaluations = ceil(users / 100) per rule",
        "exact",
        "; ".join(wrong_puts) or "as expected",
        not wrong_puts,
    )

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
    target("iam", "realistic mix: every user's verdict as expected", "all", f"{len(wrong)} runs with mismatches", not wrong)
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
    last = next((size for size in reversed(sizes) if size.baseline), None)
    flags = (
        f"; baseline at {last.users:,} users flags console-mfa {last.baseline.console_flagged}, stale-keys "
        f"{last.baseline.stale_flagged} (it reads no exemption tag or attached policy); not run above "
        f"{BASELINE_UP_TO:,} users (see the peers' figures above)"
        if last and last.baseline
        else ""
    )
    print(
        f"credential report: the first rule of each size generated it and asked to wait {sum(waits):.0f} s in all "
        f"(recorded, not slept){flags}"
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


# --- beside the peers: 1,000 and 5,000 users, 0 %, 50 % and 100 % flagged --------------------------

# Issue 12: both IAM checks, all API calls, on the peer state, as published for each tool.
PEERS = {1_000: {"Prowler": 7_025, "Cloud Custodian": 4_007}, 5_000: {"Prowler": 35_045, "Cloud Custodian": 20_007}}
PEER_SIZES = (1_000, 5_000)
SETTLED = datetime.timedelta(days=500)  # every user past the grace period


@dataclass(frozen=True)
class Cohort:
    share: float  # of the users
    mfa: bool
    stale_key: bool  # the key 400 days old and unused for 200, else created 30 days ago and used yesterday


# Every user has a console password and one access key.
STATES: dict[str, tuple[Cohort, ...]] = {
    # Half with MFA, every fourth key stale (the state the peers' figures were measured on).
    "peer state": (Cohort(0.25, True, True), Cohort(0.25, True, False), Cohort(0.5, False, False)),
    "0 % flagged": (Cohort(1.0, True, False),),
    "50 % flagged": (Cohort(0.5, False, True), Cohort(0.5, True, False)),
    "100 % flagged": (Cohort(1.0, False, True),),
}


@dataclass
class PeerRun:
    state: str
    users: int
    rules: dict[str, RuleRun]

    def iam(self, rule_id: str) -> int:
        return iam_call_total(self.rules[rule_id].calls)

    def all_calls(self) -> int:
        return sum(sum(run.calls.values()) for run in self.rules.values())


def build_state(state: str, users: int) -> dict[str, tuple[str, str]]:
    """The users of the state, straight into moto's backend; their expected verdicts by id."""
    expected: dict[str, tuple[str, str]] = {}
    for index, cohort in enumerate(STATES[state]):
        count = round(users * cohort.share)
        ids = make_users_in_backend(
            f"{state.split()[0]}-{index}",
            count,
            password=True,
            mfa=cohort.mfa,
            keys=1,
            created=SETTLED,
            key_created=400 * DAY if cohort.stale_key else 30 * DAY,
            key_used=200 * DAY if cohort.stale_key else 1 * DAY,
        )
        verdicts = (COMPLIANT if cohort.mfa else NON_COMPLIANT, NON_COMPLIANT if cohort.stale_key else COMPLIANT)
        expected.update(dict.fromkeys(ids, verdicts))
    return expected


def evaluate_peers() -> list[PeerRun]:
    fake_credentials()
    runs = []
    waits: list[float] = []
    with no_report_sleep(waits):
        for users in PEER_SIZES:
            for state in STATES:
                progress(f"iam: {state}, {users:,} users")
                with moto.mock_aws():
                    sandbox = Sandbox()
                    expected = build_state(state, users)
                    runs.append(PeerRun(state, users, run_both(sandbox, expected, waits)))
    return runs


def print_peers(runs: list[PeerRun]) -> bool:
    print("mamori bench: the IAM rules beside Prowler and Cloud Custodian (peers' figures as published, issue 12)")
    print()
    rows = []
    for run in runs:
        console, stale = (run.rules[rule_id] for rule_id in IAM_RULES)
        rows.append(
            [
                run.state,
                f"{run.users:,}",
                f"{console.results[NON_COMPLIANT]:,} / {stale.results[NON_COMPLIANT]:,}",
                f"{run.iam(IAM_RULES[0])}",
                f"{run.iam(IAM_RULES[1])}",
                f"{run.iam(IAM_RULES[0]) + run.iam(IAM_RULES[1])}",
                f"{run.all_calls():,}",
                f"{console.seconds:.1f} + {stale.seconds:.1f}",
                "ok"
                if not (console.mismatches or stale.mismatches)
                else f"{len(console.mismatches) + len(stale.mismatches)} WRONG",
            ]
        )
    for users in PEER_SIZES:
        for peer, calls in PEERS[users].items():
            rows.append([f"{peer} (published)", f"{users:,}", "peer state", "-", "-", f"{calls:,}", f"{calls:,}", "-", "-"])
    print(
        table(
            [
                "",
                "users",
                "NON_COMPLIANT mfa / keys",
                "console-mfa IAM calls",
                "stale-keys IAM calls",
                "both, IAM calls",
                "both, all calls",
                "time s",
                "verdicts",
            ],
            rows,
        )
    )
    print(
        "all calls: IAM, and Config's (PutEvaluations, 100 a call, and the clean-up's read-back of yesterday's "
        "results, 100 a call); the peers make IAM calls only. The first rule generates the credential report "
        "(3 calls), the second finds it (2)."
    )
    ok = True
    at_most = 5_000
    largest = [run for run in runs if run.users == at_most]
    for rule_id in IAM_RULES:
        worst = max(run.iam(rule_id) for run in largest)
        seen = ", ".join(f"{run.state} {run.iam(rule_id)}" for run in largest)
        ok &= target(
            "iam", f"{IAM_SHORT[rule_id]}: IAM calls at 5,000 users, whatever share is flagged", "<= 8", seen, worst <= 8
        )
    measured = next(run for run in largest if run.state == "peer state")
    prowler = PEERS[at_most]["Prowler"]
    both_iam = measured.iam(IAM_RULES[0]) + measured.iam(IAM_RULES[1])
    ok &= target(
        "iam",
        "both rules, all calls (Config's included), 5,000 users, peer state",
        "<= 250",
        f"{measured.all_calls()}",
        measured.all_calls() <= 250,
    )
    ok &= target(
        "iam",
        "both rules, all calls: fewer than Prowler's 35,045",
        ">= 140x",
        f"{prowler / measured.all_calls():,.0f}x",
        prowler / measured.all_calls() >= 140,
    )
    ok &= target(
        "iam",
        "both rules, IAM calls: fewer than Prowler's",
        ">= 2,000x",
        f"{both_iam} calls, {prowler / both_iam:,.0f}x",
        prowler / both_iam >= 2000,
    )
    wrong = [f"{run.state} {run.users:,}" for run in runs if any(r.mismatches for r in run.rules.values())]
    ok &= target("iam", "peer-table states: every user's verdict as expected", "all", ", ".join(wrong) or "all", not wrong)
    return ok


# --- rdklib's clean-up of old evaluations ---------------------------------------------------------


def clean_ups() -> dict[str, CleanUp]:
    rule_runtime.install()  # keeps rdklib's own in rule_runtime.RDKLIB
    return {"rdklib": rule_runtime.RDKLIB["clean_up_old_evaluations"], "mamori": rule_runtime.clean_up_old_evaluations}


def clean_up_seconds(results: int, which: Sequence[str] = ("rdklib", "mamori")) -> dict[str, float]:
    """CPU seconds (of this thread: a busy machine inflates them less than wall time) each
    clean-up takes on a usual day of `results` earlier results, best of three."""
    earlier, reported = usual_day(results)
    event = periodic_event("mamori-stale-access-keys")
    timed = {}
    for name in which:
        best = math.inf
        for _ in range(3):
            started = time.thread_time()
            clean_ups()[name](event, EarlierResults(earlier), list(reported))
            best = min(best, time.thread_time() - started)
        timed[name] = best
    return timed


def print_clean_up() -> bool:
    """How each clean-up's work grows: resource-id comparisons (== and hashes, counted by
    harness.comparisons) at 500 and 5,000 earlier results (5,000 is the IAM user quota), and
    mamori's at 50,000; CPU seconds at 5,000 beside them."""
    progress("iam: rdklib's clean-up against mamori's, in id comparisons")
    sizes = {"rdklib": (500, 5_000), "mamori": (500, 5_000, 50_000)}
    counts = {name: {n: id_comparisons(clean_ups()[name], n) for n in ns} for name, ns in sizes.items()}
    seconds = clean_up_seconds(5_000)
    growth = {name: counts[name][5_000] / counts[name][500] for name in counts}
    print(
        table(
            [
                "clean-up of old evaluations, a usual day",
                "id comparisons at 500",
                "at 5,000",
                "at 50,000",
                "5,000 / 500",
                "CPU s at 5,000",
            ],
            [
                [
                    f"{name} ({how})",
                    f"{counts[name][500]:,}",
                    f"{counts[name][5_000]:,}",
                    f"{counts[name][50_000]:,}" if 50_000 in counts[name] else "-",
                    f"{growth[name]:.1f}x",
                    f"{seconds[name]:.4f}",
                ]
                for name, how in (("rdklib", "each id looked up in a list"), ("mamori", "in a set"))
            ],
        )
    )
    print(
        "id comparisons: == and hash() of the resource ids, counted (harness.comparisons), the same on any machine; "
        "every earlier result still reported. Linear work grows 10x for 10x the results, quadratic 100x. "
        "CPU s: of the thread, best of 3."
    )
    linear = growth["mamori"] <= 11 and counts["mamori"][50_000] <= 11 * counts["mamori"][5_000]
    return target(
        "iam",
        "rdklib's clean-up linear: id comparisons for 10x the results (500 to 5,000; 5,000 to 50,000)",
        "<= 11x (linear: 10x; quadratic: 100x)",
        f"mamori {growth['mamori']:.1f}x and {counts['mamori'][50_000] / counts['mamori'][5_000]:.1f}x "
        f"({counts['mamori'][5_000]:,} at 5,000); rdklib {growth['rdklib']:.1f}x ({counts['rdklib'][5_000]:,})",
        linear,
    )


def iam_section(sizes: Sequence[int], seed: int, setup: str) -> bool:
    section = time.perf_counter()
    ok = print_peers(evaluate_peers())
    print()
    ok = print_iam(evaluate_iam(sizes, seed, setup), seed, setup) and ok
    print()
    ok = print_clean_up() and ok
    print(f"IAM section took {time.perf_counter() - section:.1f} s")
    return ok
