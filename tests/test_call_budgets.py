"""The performance budgets of issue 12, as API call counts (not times, which a shared test
machine cannot promise; `make bench` measures those): what a rule may call, at a size the
suite can afford."""

import collections
import math
import threading
import time
from collections.abc import Iterator

import boto3
import pytest
from moto.ec2.models import ec2_backends

from harness.aws import ACCOUNT, DEFAULT_REGIONS, REGION, Sandbox
from harness.comparisons import id_comparisons
from harness.config_events import change_event, periodic_event, security_group_item
from harness.iam_state import make_users_in_backend
from harness.pack import deployed_rule_parameters, invoke_rule, lambda_principal, rule_spec
from mamori import open_proxy, rule_runtime, workers

DAY = 86400.0
IAM_RULES = ("iam-user-console-mfa", "stale-access-keys")


@pytest.fixture
def no_report_waits(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The rules wait between polls of the credential report: don't."""
    monkeypatch.setattr(time, "sleep", lambda seconds: None)
    yield


def iam_calls(sandbox: Sandbox, rule_id: str) -> dict[str, int]:
    calls = sandbox.calls_by(lambda_principal(rule_spec(rule_id).config_rule_name))
    return {action: n for action, n in calls.items() if action.startswith("iam:")}


@pytest.mark.parametrize("rule_id", IAM_RULES)
def test_iam_rule_calls_at_2000_users_half_flagged(sandbox: Sandbox, no_report_waits: None, rule_id: str) -> None:
    """At most 3 + ceil(N / 1,000) IAM calls (the credential report in 2 or 3, one
    GetAccountAuthorizationDetails page per 1,000 users), however many users are flagged:
    here half of 2,000 users fail each rule (no MFA; a key unused for 200 days)."""
    import datetime

    days = datetime.timedelta(days=1)
    settled = {"password": True, "keys": 1, "created": 500 * days, "key_created": 400 * days}
    flagged = make_users_in_backend("flagged", 1000, mfa=False, key_used=200 * days, **settled)  # type: ignore[arg-type]
    fine = make_users_in_backend("fine", 1000, mfa=True, key_used=1 * days, **settled)  # type: ignore[arg-type]
    name = rule_spec(rule_id).config_rule_name

    invoke_rule(sandbox, rule_id, periodic_event(name, deployed_rule_parameters(rule_id)))

    stored = sandbox.config.compliance(name)
    assert {stored[user][0] for user in flagged} == {"NON_COMPLIANT"}
    assert {stored[user][0] for user in fine} == {"COMPLIANT"}
    calls = iam_calls(sandbox, rule_id)
    assert sum(calls.values()) <= 3 + math.ceil(2000 / 1000), calls
    assert calls["iam:GetAccountAuthorizationDetails"] == 2
    assert sandbox.config.put_evaluations_calls == 20


def test_open_proxy_sweep_calls_for_1000_groups(sandbox: Sandbox) -> None:
    """The periodic sweep of 1,000 security groups: at most 15 calls all told
    (DescribeSecurityGroups pages, each referenced prefix list once, ceil(1,000 / 100)
    PutEvaluations), where the change trigger alone would take 1,000 invocations."""
    ec2 = boto3.client("ec2")
    office = ec2.create_managed_prefix_list(
        PrefixListName="office", MaxEntries=5, AddressFamily="IPv4", Entries=[{"Cidr": "203.0.113.0/24"}]
    )["PrefixList"]["PrefixListId"]
    anywhere = ec2.create_managed_prefix_list(
        PrefixListName="anywhere", MaxEntries=5, AddressFamily="IPv4", Entries=[{"Cidr": "0.0.0.0/0"}]
    )["PrefixList"]["PrefixListId"]
    aws_list = next(pl["PrefixListId"] for pl in ec2.describe_managed_prefix_lists()["PrefixLists"] if pl["OwnerId"] == "AWS")
    vpc = next(vpc["VpcId"] for vpc in ec2.describe_vpcs()["Vpcs"] if vpc["IsDefault"])
    default_groups = len(ec2.describe_security_groups()["SecurityGroups"])
    # Straight into moto's backend: 1,000 groups through the API take ~20 s.
    backend = ec2_backends[ACCOUNT][REGION]
    expected: dict[str, str] = {}
    for index in range(1000 - default_groups):
        group = backend.create_security_group(f"sweep-{index}", "sweep", vpc)
        kind = index % 20
        if kind == 0:  # open proxy
            backend.authorize_security_group_ingress(group.id, "tcp", "3128", "3128", [{"CidrIp": "0.0.0.0/0"}])
        elif kind == 1:  # a customer list holding 0.0.0.0/0
            backend.authorize_security_group_ingress(
                group.id, "tcp", "8080", "8080", [], prefix_list_ids=[{"PrefixListId": anywhere}]
            )
        elif kind == 2:  # the office's list, and an AWS-managed one
            backend.authorize_security_group_ingress(
                group.id, "tcp", "3128", "3128", [], prefix_list_ids=[{"PrefixListId": office}]
            )
            backend.authorize_security_group_ingress(
                group.id, "tcp", "9050", "9050", [], prefix_list_ids=[{"PrefixListId": aws_list}]
            )
        else:  # a web server
            backend.authorize_security_group_ingress(group.id, "tcp", "443", "443", [{"CidrIp": "0.0.0.0/0"}])
        expected[group.id] = "NON_COMPLIANT" if kind in (0, 1) else "COMPLIANT"
    name = rule_spec("open-proxy-ports").config_rule_name
    sandbox.reset_counts()

    invoke_rule(sandbox, "open-proxy-ports", periodic_event(name, deployed_rule_parameters("open-proxy-ports")))

    stored = sandbox.config.compliance(name)
    assert len(stored) == 1000
    assert {group: stored[group][0] for group in expected} == expected
    calls = sandbox.calls_by(lambda_principal(name))
    assert calls == {
        "ec2:DescribeSecurityGroups": 1,
        "ec2:DescribeManagedPrefixLists": 1,  # the three lists at once
        "ec2:GetManagedPrefixListEntries": 2,  # the two customer-managed lists, once each
        "config:PutEvaluations": 10,
    }
    assert sum(calls.values()) <= 15


@pytest.fixture
def clients_made() -> Iterator[list[str]]:
    """Every boto3 client made from here on, by service: botocore emits creating-client-class
    once per client it makes (on the default session and on the sessions the region workers
    copy from it)."""
    made: list[str] = []

    def count(event_name: str, **_: object) -> None:
        made.append(event_name.rsplit(".", 1)[-1])

    assert boto3.DEFAULT_SESSION is not None
    boto3.DEFAULT_SESSION.events.register("creating-client-class", count)
    yield made
    boto3.DEFAULT_SESSION.events.unregister("creating-client-class", count)


@pytest.fixture
def threads_started(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The name of every thread started from here on."""
    started: list[str] = []
    start = threading.Thread.start

    def counted(thread: threading.Thread) -> None:
        started.append(thread.name)
        start(thread)

    monkeypatch.setattr(threading.Thread, "start", counted)
    return started


def test_no_client_is_made_and_no_thread_started_after_the_first_event(
    sandbox: Sandbox, clients_made: list[str], threads_started: list[str], no_report_waits: None
) -> None:
    """A container makes its clients once (mamori.clients): the open-proxy rule's change events
    and sweep, an IAM rule and the region scan make none on their second run (rdklib alone made
    new clients for every event: 70 % of a change event's time). Its worker threads are kept
    too (mamori.workers): a pool grows to the most work it has had at once, one thread per
    region at most, and no further however many runs follow (a pool made per run started the
    region scan's threads anew every time)."""
    ec2 = boto3.client("ec2")
    listed = ec2.create_managed_prefix_list(
        PrefixListName="partners", MaxEntries=5, AddressFamily="IPv4", Entries=[{"Cidr": "198.51.100.0/24"}]
    )["PrefixList"]["PrefixListId"]
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    group = ec2.create_security_group(GroupName="proxy", Description="test", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=group,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 3128, "ToPort": 3128, "PrefixListIds": [{"PrefixListId": listed}]}],
    )
    item = security_group_item(ec2, group)
    runs = {
        "open-proxy-ports (change)": lambda: change_event(
            "mamori-open-proxy-ports", item, deployed_rule_parameters("open-proxy-ports")
        ),
        "open-proxy-ports (sweep)": lambda: periodic_event(
            "mamori-open-proxy-ports", deployed_rule_parameters("open-proxy-ports")
        ),
        "stale-access-keys": lambda: periodic_event("mamori-stale-access-keys", deployed_rule_parameters("stale-access-keys")),
        "unapproved-regions": lambda: periodic_event(
            "mamori-unapproved-regions", deployed_rule_parameters("unapproved-regions", ApprovedRegions="us-east-1")
        ),
    }
    workers.clear()  # a new container
    clients_made.clear()
    threads_started.clear()
    for label, event in runs.items():
        invoke_rule(sandbox, label.split(" ")[0], event())
    first = list(clients_made)
    clients_made.clear()

    for _ in range(5):
        for label, event in runs.items():
            invoke_rule(sandbox, label.split(" ")[0], event())
            assert clients_made == [], f"{label}: made {clients_made} after the first events"

    scanned = len(DEFAULT_REGIONS) - 1  # every enabled region but the approved one, each its own client
    assert sorted(set(first)) == ["config-service", "ec2", "iam"] and first.count("ec2") == 1 + scanned, first
    kept = collections.Counter(name.rsplit("_", 1)[0] for name in threads_started)
    assert 1 <= kept["mamori-regions"] <= scanned and kept["mamori-earlier-results"] == 1, kept
    assert kept["mamori-put-evaluations"] <= rule_runtime.PUT_CONCURRENCY and sum(kept.values()) == len(threads_started), kept


def test_a_burst_of_changes_reads_a_prefix_list_once(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    """Groups that use the same customer-managed list, changed one after another: one look-up
    of the list (kept PREFIX_LIST_SECONDS per container), then a fresh one after that."""
    ec2 = boto3.client("ec2")
    listed = ec2.create_managed_prefix_list(
        PrefixListName="world", MaxEntries=5, AddressFamily="IPv4", Entries=[{"Cidr": "0.0.0.0/0"}]
    )["PrefixList"]["PrefixListId"]
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    items = []
    for index in range(5):
        group = ec2.create_security_group(GroupName=f"g{index}", Description="test", VpcId=vpc)["GroupId"]
        ec2.authorize_security_group_ingress(
            GroupId=group,
            IpPermissions=[{"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080, "PrefixListIds": [{"PrefixListId": listed}]}],
        )
        items.append(security_group_item(ec2, group))
    now = [1000.0]
    monkeypatch.setattr(open_proxy.PREFIX_LISTS, "clock", lambda: now[0])
    name, parameters = "mamori-open-proxy-ports", deployed_rule_parameters("open-proxy-ports")
    sandbox.reset_counts()

    for item in items:
        invoke_rule(sandbox, "open-proxy-ports", change_event(name, item, parameters))

    looked_up = ("ec2:DescribeManagedPrefixLists", "ec2:GetManagedPrefixListEntries")
    assert {a: n for a, n in sandbox.calls_by(lambda_principal(name)).items() if a in looked_up} == dict.fromkeys(looked_up, 1)
    assert {sandbox.config.compliance(name)[item["resourceId"]][0] for item in items} == {"NON_COMPLIANT"}
    now[0] += open_proxy.PREFIX_LIST_SECONDS
    invoke_rule(sandbox, "open-proxy-ports", change_event(name, items[0], parameters))
    assert {a: n for a, n in sandbox.calls_by(lambda_principal(name)).items() if a in looked_up} == dict.fromkeys(looked_up, 2)


def test_the_clean_up_of_old_evaluations_grows_linearly() -> None:
    """mamori's clean-up (mamori.rule_runtime) compares or hashes a resource id a few times per
    earlier result: 10 times the results, 10 times the work. Counted, not timed. rdklib's own,
    which it replaces, looks each id up in a list: 10 times the results, 100 times the work
    (the same count tells them apart)."""
    mamori = {n: id_comparisons(rule_runtime.clean_up_old_evaluations, n) for n in (500, 5_000)}
    assert mamori[5_000] <= 10 * mamori[500] <= 10 * 4 * 500, mamori

    rule_runtime.install()  # keeps rdklib's own in rule_runtime.RDKLIB
    rdklib = {n: id_comparisons(rule_runtime.RDKLIB["clean_up_old_evaluations"], n) for n in (50, 500)}
    assert rdklib[500] >= 90 * rdklib[50], rdklib
