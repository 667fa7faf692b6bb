"""Shared fixtures: moto for AWS, plus harness.aws.Sandbox for what moto lacks (Config
evaluations, oversized-item history) and for enforcing each role's IAM actions.

The hooks below serve the catalog-wide meta-tests (tests/meta/): every principal's calls are
added up over the session, tests marked `whole_session` run last (and only mean something when
every test was selected), and a test marked `closed_loop` must run that remediation's loop.
Under pytest-xdist (`-n`), each worker sends what it saw to the controller, which runs the
`whole_session` tests itself once every worker is done (tests/meta/session.py)."""

from collections.abc import Generator, Iterator, Sequence
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from harness.aws import Sandbox, fake_credentials
from tests import closed_loop
from tests.meta import session as whole
from tests.meta.session import CLOSED_LOOP, SESSION, WHOLE_SESSION, why_incomplete


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{WHOLE_SESSION}: checks what the whole session did; runs after every other test")
    config.addinivalue_line(
        "markers", f"{CLOSED_LOOP}(remediation_id): the test runs tests.closed_loop.assert_closed_loop for that remediation"
    )
    Sandbox.session_calls = SESSION.calls


def pytest_deselected(items: Sequence[pytest.Item]) -> None:
    SESSION.deselected += len(items)


@pytest.hookimpl(trylast=True)  # after -k, -m and --deselect have taken their tests away
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    SESSION.incomplete_because = why_incomplete(list(config.args), {Path(item.path) for item in items}, SESSION.deselected)
    SESSION.closed_loops = {}
    for item in items:
        for marker in item.iter_markers(CLOSED_LOOP):
            SESSION.closed_loops.setdefault(str(marker.args[0]), []).append(item.nodeid)
    items.sort(key=lambda item: item.get_closest_marker(WHOLE_SESSION) is not None)  # stable: the rest keep their order
    if whole.is_worker(config):  # the controller runs them, with every worker's calls
        last = [item for item in items if item.get_closest_marker(WHOLE_SESSION)]
        SESSION.whole_session_tests = [whole.WholeSessionTest.of(item) for item in last]
        items[:] = [item for item in items if item not in last]


@pytest.hookimpl(tryfirst=True)  # before the terminal's summary, so that the controller's reports are in it
def pytest_sessionfinish(session: pytest.Session) -> None:
    if whole.is_worker(session.config):
        whole.send_to_controller(session.config, SESSION)
    elif whole.is_controller(session.config):
        whole.run_on_controller(session, SESSION)


def pytest_testnodedown(node: Any, error: object) -> None:
    """xdist's controller: a worker has finished; add up what it saw."""
    whole.receive_from_worker(node, SESSION)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed:
        SESSION.failed.append(report.nodeid)
    if report.when == "call":
        item.stash[_passed] = report.passed
    return report


_passed = pytest.StashKey[bool]()


@pytest.fixture(autouse=True)
def _closed_loop_is_run(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test marked closed_loop(<id>) that passed must have run that remediation's loop."""
    marker = request.node.get_closest_marker(CLOSED_LOOP)
    if marker is None:
        yield
        return
    closed_loop.RUN.clear()
    yield
    problem = closed_loop.mark_problem(str(marker.args[0]), closed_loop.RUN)
    if problem and request.node.stash.get(_passed, False):
        pytest.fail(problem)


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    fake_credentials()
    with mock_aws():
        yield Sandbox()


@pytest.fixture
def ec2(sandbox: Sandbox) -> Any:
    return boto3.client("ec2")


@pytest.fixture
def vpc_id(ec2: Any) -> str:
    return str(ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"])


_names = iter(range(10**6))


def make_group(ec2: Any, vpc_id: str, permissions: Sequence[dict[str, Any]] = (), tags: dict[str, str] | None = None) -> str:
    group_id = str(ec2.create_security_group(GroupName=f"group-{next(_names)}", Description="test", VpcId=vpc_id)["GroupId"])
    if permissions:
        ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=list(permissions))
    if tags:
        ec2.create_tags(Resources=[group_id], Tags=[{"Key": k, "Value": v} for k, v in tags.items()])
    return group_id


def tcp(port: int, *cidrs: str, to_port: int | None = None, description: str = "") -> dict[str, Any]:
    """An IpPermission for tcp port (..to_port) from IPv4/IPv6 cidrs."""
    extra = {"Description": description} if description else {}
    return {
        "IpProtocol": "tcp",
        "FromPort": port,
        "ToPort": to_port if to_port is not None else port,
        "IpRanges": [{"CidrIp": c, **extra} for c in cidrs if ":" not in c],
        "Ipv6Ranges": [{"CidrIpv6": c, **extra} for c in cidrs if ":" in c],
    }


def inbound(ec2: Any, group_id: str) -> set[tuple[str, int, int, str]]:
    """(protocol, from, to, source) of every inbound rule, re-read from the live group."""
    rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [group_id]}])["SecurityGroupRules"]
    return {
        (
            r["IpProtocol"],
            r.get("FromPort", -1),
            r.get("ToPort", -1),
            r.get("CidrIpv4") or r.get("CidrIpv6") or r.get("PrefixListId") or r["ReferencedGroupInfo"]["GroupId"],
        )
        for r in rules
        if not r["IsEgress"]
    }


def write_mamori_record(remediation_id: str, resource_id: str, changed: dict[str, Any], at: str = "2026-01-02T03:04:05Z") -> str:
    """A record as mamori's remediation writes it (signed with the record key): for the states a
    test cannot reach by running the remediation (a run stopped half-way). Its path."""
    from mamori.records import Record, save_record

    record = Record(remediation_id, resource_id, f"mamori-{remediation_id}", at, changed)
    return save_record(boto3.client("ssm"), record)
