"""The abuse-event path that acts: mamori.abuse_events reads real-shaped AWS Health abuse
events, and mamori-abuse-responder starts mamori-open-proxy-ports on the reported instances'
security groups.

Stood in: moto for EC2, SNS and SSM; harness.pack.run_automations for SSM Automation (moto runs
none: the sandbox answers StartAutomationExecution by running the document from template.yaml
under its role's actions); two DescribeNetworkInterfaces filters moto lacks (see
`interface_address_filters`); AWS Health itself (the events are built from AWS's published
samples). The responder runs with only the actions template.yaml grants its role, from the
environment template.yaml gives it. Every remediation is checked on the live group.
"""

import datetime
import email.utils
import importlib.util
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.exceptions
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.authorization import role_policy
from harness.aws import ACCOUNT, REGION, Sandbox
from harness.incident_events import proxy_report
from harness.pack import (
    AutomationRun,
    deploy_rule,
    granted_actions,
    lambda_principal,
    make_deduplication_table,
    remediation_parameters,
    resolver,
    role_grants,
    run_automations,
    run_document,
    template,
)
from harness.responders import responder_environment
from mamori import abuse_events, automation
from mamori.abuse_cases import SCHEDULE_GROUP
from mamori.abuse_events import EntityKind, NotAnAbuseReport, is_open_proxy_report, parse_abuse_event
from mamori.catalog import ROOT, load_rules
from tests.conftest import inbound, make_group, tcp
from tests.exempt import SOON
from tests.incident_helpers import CaseCenter, SchedulerGaps

FUNCTION = "mamori-abuse-responder"
PRINCIPAL = lambda_principal(FUNCTION)
ROLE = "AbuseResponderRole"
DOCUMENT = "mamori-open-proxy-ports"
NOW = datetime.datetime(2026, 11, 21, 10, 0, tzinfo=datetime.UTC)
MEMBER = "210987654321"
OTHER_REGION = "eu-west-1"
IMAGE = "ami-12c6146b"

# AWS's published sample of an abuse event (AWS Health EventBridge schema), as delivered.
DOS_SAMPLE: dict[str, Any] = {
    "version": "0",
    "id": "7bf73129-1428-4cd3-a780-95db273d1602",
    "detail-type": "AWS Health Abuse Event",
    "source": "aws.health",
    "account": "123456789012",
    "time": "2018-08-01T06:27:57Z",
    "region": "global",
    "resources": [
        "arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111",
        "arn:aws:ec2:us-east-1:123456789012:instance/i-abcd2222",
    ],
    "detail": {
        "eventArn": "arn:aws:health:global::event/AWS_ABUSE_DOS_REPORT_92387492375_4498_2018_08_01_02_33_00",
        "service": "ABUSE",
        "eventTypeCode": "AWS_ABUSE_DOS_REPORT",
        "eventTypeCategory": "issue",
        "startTime": "Wed, 01 Aug 2018 06:27:57 GMT",
        "eventDescription": [{"language": "en_US", "latestDescription": "A description of the event will be provided here"}],
        "affectedEntities": [
            {"entityValue": "arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"},
            {"entityValue": "arn:aws:ec2:us-east-1:123456789012:instance/i-abcd2222"},
        ],
    },
}


def copy(event: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(event))  # type: ignore[no-any-return]


# The eventArn proxy_report() gives the report (its default code).
REPORT_ARN = "arn:aws:health:global::event/AWS_ABUSE_OPEN_PROXY_REPORT_92387492375_4498_2026_11_21_09_30_00"


def instance_arn(instance_id: str, region: str = REGION, account: str = ACCOUNT) -> str:
    return f"arn:aws:ec2:{region}:{account}:instance/{instance_id}"


# --- mamori.abuse_events: reading events --------------------------------------------------


def test_published_sample_reads_as_a_report() -> None:
    report = parse_abuse_event(DOS_SAMPLE)

    assert report.code == "AWS_ABUSE_DOS_REPORT"
    assert report.affected_account == report.delivered_to_account == "123456789012"  # no affectedAccount: the account itself
    assert report.event_region is None  # "global", and no detail.eventRegion
    assert report.received == datetime.datetime(2018, 8, 1, 6, 27, 57, tzinfo=datetime.UTC)
    assert report.reply_by == datetime.datetime(2018, 8, 2, 6, 27, 57, tzinfo=datetime.UTC)
    assert report.descriptions == ("A description of the event will be provided here",)
    # The same two ARNs in `resources` and in the entities are two entities, with the ARN's region.
    assert [(e.value, e.kind, e.region, e.account, e.instance_id) for e in report.entities] == [
        (instance_arn("i-abcd1111"), EntityKind.INSTANCE_ARN, "us-east-1", "123456789012", "i-abcd1111"),
        (instance_arn("i-abcd2222"), EntityKind.INSTANCE_ARN, "us-east-1", "123456789012", "i-abcd2222"),
    ]
    assert report.problems == ()
    assert not is_open_proxy_report(report)


def test_entity_kinds_and_regions() -> None:
    event = proxy_report(
        "i-0abc1234def567890", "203.0.113.7", "2001:DB8::1", "arn:ec2-1-101002929", "AWS_ACCOUNT", event_region=OTHER_REGION
    )

    entities = {e.value: e for e in parse_abuse_event(event).entities}

    assert {value: (e.kind, e.region) for value, e in entities.items()} == {
        "i-0abc1234def567890": (EntityKind.INSTANCE_ID, OTHER_REGION),
        "203.0.113.7": (EntityKind.IP_ADDRESS, OTHER_REGION),
        "2001:db8::1": (EntityKind.IP_ADDRESS, OTHER_REGION),  # normalized
        "arn:ec2-1-101002929": (EntityKind.OTHER, OTHER_REGION),  # as in AWS's own samples
        "AWS_ACCOUNT": (EntityKind.OTHER, OTHER_REGION),
    }


def test_an_instance_named_twice_is_one_entity_with_its_arn() -> None:
    event = proxy_report("i-0abc1234def567890", resources=[instance_arn("i-0abc1234def567890")], event_region=None)

    [entity] = parse_abuse_event(event).entities

    assert (entity.kind, entity.region, entity.instance_id) == (EntityKind.INSTANCE_ARN, REGION, "i-0abc1234def567890")


@pytest.mark.parametrize(
    ("region", "event_region", "expected"),
    [("global", OTHER_REGION, OTHER_REGION), ("global", None, None), ("global", "global", None), (REGION, None, REGION)],
)
def test_event_region(region: str, event_region: str | None, expected: str | None) -> None:
    event = proxy_report("i-0abc1234def567890", event_region=event_region)
    event["region"] = region

    report = parse_abuse_event(event)

    assert report.event_region == expected
    assert report.entities[0].region == expected  # None: the responder looks for a bare id in its own region


def test_no_affected_entities() -> None:
    event = proxy_report()
    del event["detail"]["affectedEntities"]

    report = parse_abuse_event(event)

    assert report.entities == () and report.problems == ()
    assert abuse_events.entities_text(report) == "not named in the event (see the report)"


def test_organizational_view_names_the_member_account() -> None:
    report = parse_abuse_event(proxy_report("i-0abc1234def567890", account="111122223333", affected_account=MEMBER))

    assert (report.affected_account, report.delivered_to_account) == (MEMBER, "111122223333")


def test_the_reply_clock_runs_from_the_earliest_time() -> None:
    event = proxy_report()
    event["time"] = "2026-11-23T08:00:00Z"  # an update delivered two days later

    report = parse_abuse_event(event)

    assert report.received == datetime.datetime(2026, 11, 21, 9, 30, tzinfo=datetime.UTC)  # startTime, RFC 1123
    assert abuse_events.deadline_text(report, NOW) == "reply by 2026-11-22 09:30 UTC"
    late = NOW + datetime.timedelta(days=2)
    assert abuse_events.deadline_text(report, late) == "reply by 2026-11-22 09:30 UTC - passed 24 hours ago: reply now"


@pytest.mark.parametrize("moment", ["Fri, 31 Dec 9999 23:00:00 GMT", "0001-01-01T00:30:00+05:00"])
def test_a_time_out_of_range_reads_as_no_time(moment: str) -> None:
    event = proxy_report()
    event["time"] = event["detail"]["startTime"] = moment

    report = parse_abuse_event(event)

    assert report.reply_by is None
    assert abuse_events.deadline_text(report, NOW) == "reply within 24 hours of the report (the event gives no time)"


@pytest.mark.parametrize(
    ("code", "description", "open_proxy"),
    [
        ("AWS_ABUSE_OPEN_PROXY_REPORT", "", True),
        ("AWS_ABUSE_PROXY_REPORT", "", True),
        ("AWS_ABUSE_SOMETHING_NEW", "Your EC2 instance is acting as an Open-Proxy for third parties.", True),
        ("AWS_ABUSE_SOMETHING_NEW", "Reports of an OPEN PROXY on 203.0.113.7", True),
        ("AWS_ABUSE_DOS_REPORT", "A denial of service attack was reported.", False),
        ("AWS_ABUSE_COPYRIGHT_DMCA_REPORT", "A copyright complaint about a proxy-cache.", False),
        ("AWS_ABUSE_SOMETHING_NEW", "", False),
    ],
)
def test_open_proxy_heuristic(code: str, description: str, open_proxy: bool) -> None:
    assert is_open_proxy_report(parse_abuse_event(proxy_report(code=code, description=description))) is open_proxy


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ("not an event", "the event is a str, not a JSON object"),
        ([DOS_SAMPLE], "the event is a list, not a JSON object"),
        ({**DOS_SAMPLE, "source": "aws.config"}, "source 'aws.config'"),
        ({**DOS_SAMPLE, "detail-type": "AWS Health Event"}, "detail-type 'AWS Health Event'"),
        ({k: v for k, v in DOS_SAMPLE.items() if k != "detail"}, "the event has no detail object"),
        ({**DOS_SAMPLE, "detail": "AWS_ABUSE_OPEN_PROXY_REPORT"}, "the event has no detail object"),
    ],
    ids=["string", "list", "other-source", "ordinary-health-event", "detail-missing", "detail-not-an-object"],
)
def test_what_is_not_an_abuse_event_is_rejected_with_its_reason(event: Any, reason: str) -> None:
    with pytest.raises(NotAnAbuseReport, match=reason):
        parse_abuse_event(event)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (
            lambda e: e["detail"].update(affectedEntities={"entityValue": "i-0abc1234def567890"}),
            "detail.affectedEntities is not a list",
        ),
        (lambda e: e.update(resources="i-0abc1234def567890"), "resources is not a list"),
        (lambda e: e["detail"].update(affectedEntities=[{"entityValue": 42}]), "detail.affectedEntities holds 42"),
        (lambda e: e["detail"].update(eventDescription="open proxy"), "detail.eventDescription is not a list"),
        (lambda e: e["detail"].update(affectedAccount="member"), "the affected account 'member' is not an account id"),
        (lambda e: e["detail"].pop("eventTypeCode"), "detail.eventTypeCode is missing or not text"),
        (lambda e: e["detail"].update(startTime="soon") or e.pop("time"), "neither detail.startTime nor time is a date"),
    ],
    ids=["entities-not-a-list", "resources-not-a-list", "entity-not-a-string", "descriptions", "account", "code", "times"],
)
def test_broken_parts_are_named_not_raised(change: Callable[[dict[str, Any]], Any], problem: str) -> None:
    event = proxy_report("i-0abc1234def567890", resources=[])
    change(event)

    report = parse_abuse_event(event)

    assert any(problem in text for text in report.problems), report.problems
    assert problem in (abuse_events.problems_text(report) or "")


DATES = st.datetimes(timezones=st.just(datetime.UTC)).flatmap(
    lambda moment: st.sampled_from([moment.isoformat(), email.utils.format_datetime(moment, usegmt=True)])
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=30) | DATES,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)
FIELDS = st.sampled_from(
    ["eventTypeCode", "affectedAccount", "eventRegion", "startTime", "eventDescription", "affectedEntities", "page", "totalPages"]
)


@settings(max_examples=300, deadline=None)
@given(
    detail=st.dictionaries(FIELDS, JSON, max_size=8),
    top=st.dictionaries(st.sampled_from(["time", "region", "resources", "account"]), JSON),
)
def test_any_detail_reads_and_formats_without_raising(detail: dict[str, Any], top: dict[str, Any]) -> None:
    """Whatever the fields hold, a report comes out, and both messages can be written."""
    event = {"source": "aws.health", "detail-type": "AWS Health Abuse Event", **top, "detail": detail}

    report = parse_abuse_event(event)

    is_open_proxy_report(report)
    assert len(notifier().format_abuse_report(report, NOW, True)[0]) <= 100
    environ = {"DOCUMENT_NAME": DOCUMENT, "DOCUMENT_PARAMETER_ProxyPorts": "3128"}
    assert len(responder().format_message(report, REGION, responder().Lookup(), responder().Starts(), environ)[0]) <= 100


# --- the responder ------------------------------------------------------------------------


def _load(name: str, path: Any) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_modules: dict[str, Any] = {}


def responder() -> Any:
    if "responder" not in _modules:
        _modules["responder"] = _load("mamori_responder_abuse_events", ROOT / "responders" / "abuse-events" / "handler.py")
    return _modules["responder"]


def notifier() -> Any:
    if "notifier" not in _modules:
        _modules["notifier"] = _load("mamori_notifier_for_abuse_tests", ROOT / "responders" / "notifications" / "handler.py")
    return _modules["notifier"]


@dataclass
class LambdaContext:
    function_name: str = FUNCTION
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{FUNCTION}"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"


def deployed_environment(topic_arn: str, **pack_values: str) -> dict[str, str]:
    """The function's environment as CloudFormation would resolve template.yaml's (harness.responders),
    deployed as `sam deploy --config-env enforce` does (AutoRemediation "true") unless told otherwise."""
    return responder_environment("abuse-events", topic_arn, **{"AutoRemediation": "true", **pack_values})


@pytest.fixture(autouse=True)
def interface_address_filters(monkeypatch: Any) -> None:
    """moto 5 lacks the DescribeNetworkInterfaces filters association.public-ip and
    ipv6-addresses.ipv6-address (FilterNotImplementedError): filter as EC2 does, any value of
    the interface matching any value of the filter, and leave the other filters to moto."""
    from moto.ec2.models.elastic_network_interfaces import NetworkInterfaceBackend

    original = NetworkInterfaceBackend.get_all_network_interfaces

    def get_all_network_interfaces(self: Any, eni_ids: Any = None, filters: Any = None) -> Any:
        filters = dict(filters or {})
        public, ipv6 = filters.pop("association.public-ip", None), filters.pop("ipv6-addresses.ipv6-address", None)
        interfaces = original(self, eni_ids, filters)
        if public is not None:
            interfaces = [i for i in interfaces if i.public_ip in public]
        if ipv6 is not None:
            interfaces = [i for i in interfaces if set(i.ipv6_addresses) & set(ipv6)]
        return interfaces

    monkeypatch.setattr(NetworkInterfaceBackend, "get_all_network_interfaces", get_all_network_interfaces)


@dataclass
class World:
    sandbox: Sandbox
    ec2: Any
    vpc: str
    subnet: str
    runs: list[AutomationRun]
    inbox: Callable[[], list[dict[str, Any]]]
    topic: str
    ops: Any = None

    def deliver(self, event: Any) -> Any:
        with self.sandbox.acting_as(PRINCIPAL, role_grants(ROLE)):
            return responder().lambda_handler(event, LambdaContext())

    def launch(self, *groups: str, public: bool = False) -> dict[str, Any]:
        interface = {"DeviceIndex": 0, "SubnetId": self.subnet, "Groups": list(groups), "AssociatePublicIpAddress": public}
        instance: dict[str, Any] = self.ec2.run_instances(ImageId=IMAGE, MinCount=1, MaxCount=1, NetworkInterfaces=[interface])[
            "Instances"
        ][0]
        return instance


@pytest.fixture
def world(sandbox: Sandbox, ec2: Any, vpc_id: str, monkeypatch: Any) -> Iterator[World]:
    monkeypatch.setattr(automation, "utc_now", lambda: NOW)
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    topic = sns.create_topic(Name="mamori-notifications")["TopicArn"]
    queue = sqs.create_queue(QueueName="inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    make_deduplication_table()
    for key, value in deployed_environment(topic).items():
        monkeypatch.setenv(key, value)

    def inbox() -> list[dict[str, Any]]:
        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        for message in messages:
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
        return [json.loads(m["Body"]) for m in messages]

    subnet = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    runs = run_automations(sandbox)
    ops = CaseCenter()  # moto has no OpsItems (tests/incident_helpers.py)
    SchedulerGaps()
    boto3.client("scheduler").create_schedule_group(Name=SCHEDULE_GROUP)  # as the stack creates it
    deploy_rule(sandbox, "open-proxy-ports")  # the responder judges what it finds with the rule's parameters
    sandbox.reset_counts()
    yield World(sandbox, ec2, vpc_id, subnet, runs, inbox, topic, ops)


def passed_as_config_would(group: str, **pack_values: str) -> dict[str, list[str]]:
    """What the rule's RemediationConfiguration passes for this group, as StartAutomationExecution
    takes it, and the report it answers (AbuseReport: it overrides mamori:exempt)."""
    passed = {name: [value] for name, value in remediation_parameters("open-proxy-ports", group, pack_values).items()}
    return passed | {"AbuseReport": [REPORT_ARN]}


def test_open_proxy_report_closes_the_port_and_says_so(world: World) -> None:
    """The incident: tcp 3128 open to the internet on a shared group; the report names the instance."""
    shared = make_group(world.ec2, world.vpc, [tcp(3128, "0.0.0.0/0", "::/0"), tcp(22, "203.0.113.0/24")])
    web = make_group(world.ec2, world.vpc, [tcp(443, "0.0.0.0/0")])
    instance = world.launch(shared, web)["InstanceId"]
    event = proxy_report(instance_arn(instance))

    result = world.deliver(event)

    assert result["acted"] is True
    runs = {run.parameters["GroupId"][0]: run for run in world.runs}
    assert sorted(runs) == sorted([shared, web]) and len(world.runs) == 2
    for group, run in runs.items():
        assert (run.document, run.parameters) == (DOCUMENT, passed_as_config_would(group))
    assert runs[shared].result.outputs["Remediate.Status"] == "REMEDIATED"
    assert runs[web].result.outputs["Remediate.Status"] == "NOTHING_TO_DO"  # the document re-checks every group
    assert inbound(world.ec2, shared) == {("tcp", 22, 22, "203.0.113.0/24")}
    assert inbound(world.ec2, web) == {("tcp", 443, 443, "0.0.0.0/0")}
    [message] = world.inbox()
    assert message["Subject"] == "[mamori] Open proxy report: remediation started on 2 groups - reply by 2026-11-22 09:30 UTC"
    body = message["Message"]
    assert f"reported an open proxy in account {ACCOUNT} (AWS_ABUSE_OPEN_PROXY_REPORT), received 2026-11-21 09:30 UTC" in body
    assert f"Remediation started in {REGION} ({DOCUMENT}, MaxExemptionDays=90) on:" in body
    for group, run in runs.items():
        assert f"- {group} (via {instance_arn(instance)}): execution {run.execution_id}" in body
    assert "Deadline: reply by 2026-11-22 09:30 UTC." in body
    assert "What you must still do: answer the report" in body
    assert "Not acted on" not in body
    assert world.sandbox.calls_by(PRINCIPAL) == {
        "ec2:DescribeInstances": 1,
        # One read of the groups: what was open (the case) and which are exempt (the report overrides it).
        "ec2:DescribeSecurityGroups": 1,
        "ssm:StartAutomationExecution": 2,
        "dynamodb:PutItem": 1,
        "sns:Publish": 1,
        # The case (tests/test_abuse_cases.py): the OpsItem, its reminders.
        "ssm:CreateOpsItem": 1,
        "scheduler:CreateSchedule": 1,
    }

    world.sandbox.reset_counts()
    again = world.deliver(event)  # the same report again (the backup region's copy, or delivered twice)

    assert (again["acted"], again["told"]) == (True, False)
    assert [run.result.outputs["Remediate.Status"] for run in world.runs[2:]] == ["NOTHING_TO_DO", "NOTHING_TO_DO"]
    assert inbound(world.ec2, shared) == {("tcp", 22, 22, "203.0.113.0/24")}
    assert world.inbox() == []  # told once
    assert world.sandbox.calls_by(PRINCIPAL)["ssm:StartAutomationExecution"] == 2


def test_report_by_public_addresses(world: World) -> None:
    """Reports often name the address that was seen: an auto-assigned public IPv4 address, an
    Elastic IP on a second interface, and an IPv6 address on an interface of its own."""
    first = make_group(world.ec2, world.vpc, [tcp(8080, "0.0.0.0/0")])
    second = make_group(world.ec2, world.vpc, [tcp(1080, "0.0.0.0/0")])
    third = make_group(world.ec2, world.vpc, [tcp(3128, "::/0")])
    instance = world.launch(first, public=True)
    extra = world.ec2.create_network_interface(SubnetId=world.subnet, Groups=[second])["NetworkInterface"]["NetworkInterfaceId"]
    world.ec2.attach_network_interface(NetworkInterfaceId=extra, InstanceId=instance["InstanceId"], DeviceIndex=1)
    elastic = world.ec2.allocate_address(Domain="vpc")
    world.ec2.associate_address(AllocationId=elastic["AllocationId"], NetworkInterfaceId=extra)
    world.ec2.associate_vpc_cidr_block(VpcId=world.vpc, AmazonProvidedIpv6CidrBlock=True)
    ipv6_cidr = world.ec2.describe_vpcs(VpcIds=[world.vpc])["Vpcs"][0]["Ipv6CidrBlockAssociationSet"][0]["Ipv6CidrBlock"]
    subnet6 = world.ec2.create_subnet(VpcId=world.vpc, CidrBlock="10.0.2.0/24", Ipv6CidrBlock=ipv6_cidr.replace("/56", "/64"))[
        "Subnet"
    ]["SubnetId"]
    address6 = world.ec2.create_network_interface(SubnetId=subnet6, Groups=[third], Ipv6AddressCount=1)["NetworkInterface"][
        "Ipv6Addresses"
    ][0]["Ipv6Address"]
    event = proxy_report(instance["PublicIpAddress"], elastic["PublicIp"], address6, "198.51.100.1", resources=[])

    world.deliver(event)

    assert {run.parameters["GroupId"][0] for run in world.runs} == {first, second, third}
    assert all(run.result.outputs["Remediate.Status"] == "REMEDIATED" for run in world.runs)
    assert inbound(world.ec2, first) == inbound(world.ec2, second) == inbound(world.ec2, third) == set()
    [message] = world.inbox()
    assert f"- {first} (via {instance['PublicIpAddress']}): execution" in message["Message"]
    assert f"- {second} (via {elastic['PublicIp']}): execution" in message["Message"]
    assert f"- {third} (via {address6}): execution" in message["Message"]
    assert f"- 198.51.100.1: no network interface in {REGION} has this address" in message["Message"]
    assert world.sandbox.calls_by(PRINCIPAL) == {
        "ec2:DescribeNetworkInterfaces": 2,  # one for the IPv4 addresses, one for the IPv6 address
        "ec2:DescribeSecurityGroups": 1,
        "ssm:StartAutomationExecution": 3,
        "dynamodb:PutItem": 1,
        "sns:Publish": 1,
        "ssm:CreateOpsItem": 1,
        "scheduler:CreateSchedule": 1,
    }


def test_entities_elsewhere_or_gone_are_reported_not_acted_on(world: World) -> None:
    exposed = make_group(world.ec2, world.vpc, [tcp(3128, "0.0.0.0/0")])
    here = world.launch(exposed)["InstanceId"]
    gone = "i-0000000000000dead"
    ec2_there = boto3.client("ec2", region_name=OTHER_REGION)
    vpc_there = ec2_there.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    exposed_there = make_group(ec2_there, vpc_there, [tcp(3128, "0.0.0.0/0")])
    subnet_there = ec2_there.create_subnet(VpcId=vpc_there, CidrBlock="10.1.1.0/24")["Subnet"]["SubnetId"]
    there = ec2_there.run_instances(
        ImageId=IMAGE, MinCount=1, MaxCount=1, SubnetId=subnet_there, SecurityGroupIds=[exposed_there]
    )["Instances"][0]["InstanceId"]
    event = proxy_report(here, gone, instance_arn(there, OTHER_REGION), "customer-vpn", event_region=None)

    result = world.deliver(event)

    assert [run.parameters["GroupId"] for run in world.runs] == [[exposed]]
    assert inbound(ec2_there, exposed_there) == {("tcp", 3128, 3128, "0.0.0.0/0")}  # not touched
    assert set(result["not_acted"]) == {gone, instance_arn(there, OTHER_REGION), "customer-vpn"}
    [message] = world.inbox()
    body = message["Message"]
    assert f"- {gone}: no such instance in {REGION} (terminated, or in another region)" in body
    assert f"- {instance_arn(there, OTHER_REGION)}: in {OTHER_REGION}; this responder acts in {REGION} only" in body
    assert f"deploy mamori in {OTHER_REGION} and run {DOCUMENT} there" in body
    assert "- customer-vpn: not an instance or an IP address" in body
    assert world.sandbox.calls_by(PRINCIPAL)["ec2:DescribeInstances"] == 1


def test_report_that_names_nothing_still_tells_people_nothing_was_done(world: World) -> None:
    event = proxy_report()

    result = world.deliver(event)

    assert result["acted"] is False and result["executions"] == {}
    [message] = world.inbox()
    assert message["Subject"] == "[mamori] Open proxy report: nothing remediated automatically - reply by 2026-11-22 09:30 UTC"
    assert "the report names no instance or address; find the proxy yourself" in message["Message"]
    assert world.sandbox.calls_by(PRINCIPAL) == {
        "ssm:CreateOpsItem": 1,
        "scheduler:CreateSchedule": 1,
        "dynamodb:PutItem": 1,
        "sns:Publish": 1,
    }


def test_an_abuse_report_overrides_an_exemption_and_says_so(world: World) -> None:
    """Anyone who can tag a group can exempt it; once AWS reports abuse from it, the account is
    at stake (the open-proxy account was blocked): the port is closed all the same, and both the
    automation's Message and the responder's mail say that the exemption was overridden."""
    tag = {"mamori:exempt": f"load test proxy until={SOON}"}
    exempt = make_group(world.ec2, world.vpc, [tcp(3128, "0.0.0.0/0")], tags=tag)
    expired = make_group(world.ec2, world.vpc, [tcp(8080, "0.0.0.0/0")], tags={"mamori:exempt": "old until=2020-01-01"})
    event = proxy_report(world.launch(exempt, expired)["InstanceId"])

    world.deliver(event)

    runs = {run.parameters["GroupId"][0]: run for run in world.runs}
    assert runs[exempt].parameters["AbuseReport"] == [REPORT_ARN]
    assert runs[exempt].result.outputs["Remediate.Status"] == "REMEDIATED"
    assert inbound(world.ec2, exempt) == inbound(world.ec2, expired) == set()
    assert (
        runs[exempt]
        .result.outputs["Remediate.Message"]
        .endswith(
            f" Exempt by mamori:exempt: load test proxy (until {SOON}) - overridden: AWS reported abuse ({REPORT_ARN}) and "
            "the account is at stake, so the exemption does not hold."
        )
    )
    [message] = world.inbox()
    assert (
        "Exemptions overridden: an AWS abuse report puts the account at stake, so these groups are remediated although "
        f"they are tagged mamori:exempt:\n- {exempt}: Exempt by mamori:exempt: load test proxy (until {SOON})"
    ) in message["Message"]
    assert expired not in message["Message"].split("Exemptions overridden")[1].split("\n\n")[0].split("Deadline")[0]


def test_an_exempt_group_is_still_skipped_without_an_abuse_report(sandbox: Sandbox, ec2: Any, vpc_id: str) -> None:
    group = make_group(ec2, vpc_id, [tcp(3128, "0.0.0.0/0")], tags={"mamori:exempt": f"lab until={SOON}"})

    result = run_document(sandbox, DOCUMENT, remediation_parameters("open-proxy-ports", group))
    forged = run_document(sandbox, DOCUMENT, {**remediation_parameters("open-proxy-ports", group), "AbuseReport": "soon"})

    assert result.outputs["Remediate.Status"] == "SKIPPED_EXEMPT"
    assert forged.status == "Failed" and "AbuseReport" in forged.failure
    assert inbound(ec2, group) == {("tcp", 3128, 3128, "0.0.0.0/0")}


def test_the_automation_uses_the_deployed_rules_ports_and_trusted_cidrs(world: World) -> None:
    """The responder passes what the RemediationConfiguration passes (no list parameter: the
    document reads ProxyPorts and TrustedCidrs back from the deployed rule)."""
    deploy_rule(world.sandbox, "open-proxy-ports", TrustedCidrs="198.51.100.0/24", ProxyPorts="3128,8080")
    group = make_group(world.ec2, world.vpc, [tcp(3128, "0.0.0.0/0", "198.51.100.0/24")])

    world.deliver(proxy_report(world.launch(group)["InstanceId"]))

    [run] = world.runs
    assert run.parameters == passed_as_config_would(group)
    # Short values only: the role, the group, how far an exemption may reach, and the report.
    assert set(run.parameters) == {"AutomationAssumeRole", "GroupId", "MaxExemptionDays", "AbuseReport"}
    assert inbound(world.ec2, group) == {("tcp", 3128, 3128, "198.51.100.0/24")}


def test_a_failed_start_is_said_and_raised(world: World) -> None:
    first, second = (make_group(world.ec2, world.vpc, [tcp(3128, "0.0.0.0/0")]) for _ in range(2))
    event = proxy_report(world.launch(first, second)["InstanceId"])
    world.sandbox.answer_next("ssm:StartAutomationExecution", "ThrottlingException")

    with pytest.raises(RuntimeError, match="ThrottlingException"):
        world.deliver(event)

    [run] = world.runs  # the other group was still started
    [started] = run.parameters["GroupId"]
    [failed] = {first, second} - {started}
    assert inbound(world.ec2, failed) == {("tcp", 3128, 3128, "0.0.0.0/0")}
    assert inbound(world.ec2, started) == set()
    [message] = world.inbox()
    assert message["Subject"].startswith("[mamori] Open proxy report: remediation FAILED on 1 of 2 groups - reply by")
    assert f"FAILED to start {DOCUMENT} on:\n- {failed} (via " in message["Message"]
    assert "ThrottlingException: injected ThrottlingException" in message["Message"]
    assert "Lambda retries this event up to twice" in message["Message"]
    assert f"- {started} (via " in message["Message"] and run.execution_id in message["Message"]


def test_a_failed_look_up_is_said_and_raised(world: World) -> None:
    group = make_group(world.ec2, world.vpc, [tcp(3128, "0.0.0.0/0")])
    event = proxy_report(world.launch(group)["InstanceId"])
    world.sandbox.answer_next("ec2:DescribeInstances", "RequestLimitExceeded")

    with pytest.raises(RuntimeError, match="RequestLimitExceeded"):
        world.deliver(event)

    assert world.runs == []
    [message] = world.inbox()
    assert message["Subject"].startswith("[mamori] Open proxy report: look-up FAILED - reply by")
    assert "FAILED to look up: DescribeInstances failed: RequestLimitExceeded" in message["Message"]


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        (proxy_report("i-0abc1234def567890", account="111122223333", affected_account=MEMBER), f"about account {MEMBER}"),
        (proxy_report("i-0abc1234def567890", affected_account="not-an-account"), "about an unknown account"),
        ({**proxy_report("i-0abc1234def567890"), "detail-type": "AWS Health Event"}, "detail-type 'AWS Health Event'"),
        ({**proxy_report("i-0abc1234def567890"), "source": "aws.config"}, "source 'aws.config'"),
        ({k: v for k, v in proxy_report("i-0abc1234def567890").items() if k != "detail"}, "no detail object"),
        ("not an event", "not a JSON object"),
    ],
    ids=[
        "other-account",
        "unknown-account",
        "ordinary-health-event",
        "other-source",
        "malformed",
        "string",
    ],
)
def test_what_the_responder_ignores(world: World, event: Any, reason: str) -> None:
    """Nothing looked up, nothing started, nothing published (the notifier tells people)."""
    make_group(world.ec2, world.vpc, [tcp(3128, "0.0.0.0/0")])

    result = world.deliver(event)

    assert result["acted"] is False and reason in result["ignored"]
    assert world.runs == [] and world.inbox() == []
    assert world.sandbox.calls_by(PRINCIPAL) == {}


# --- the template -------------------------------------------------------------------------

RESOURCES = template()["Resources"]
RESPONDER_RESOURCES = sorted(logical_id for logical_id in RESOURCES if logical_id.startswith("AbuseResponder"))


def test_responder_resources_exist_only_when_abuse_response_is_on() -> None:
    assert RESPONDER_RESOURCES == ["AbuseResponderFunction", "AbuseResponderLogGroup", "AbuseResponderRole"]
    cases = [*RESPONDER_RESOURCES, "AbuseReminderRole", "AbuseCaseSchedules"]
    assert all(RESOURCES[logical_id]["Condition"] == "AbuseCasesOn" for logical_id in cases)
    assert template()["Conditions"]["AbuseCasesOn"] == {"Fn::Equals": [{"Ref": "AbuseResponse"}, "true"]}
    # It remediates only when AbuseResponseOn (AbuseResponse and AutoRemediation): CONTAIN.
    variables = RESOURCES["AbuseResponderFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["CONTAIN"] == {"Fn::If": ["AbuseResponseOn", "true", "false"]}
    assert template()["Conditions"]["AbuseResponseOn"] == {
        "Fn::And": [{"Fn::Equals": [{"Ref": "AbuseResponse"}, "true"]}, {"Condition": "AutoRemediationOn"}]
    }
    parameter = template()["Parameters"]["AbuseResponse"]
    assert (parameter["Default"], parameter["AllowedValues"]) == ("true", ["true", "false"])
    # The notifier does not depend on it: it still notifies when the responder is off.
    assert "Condition" not in RESOURCES["NotifierFunction"]


def test_responder_function_is_triggered_by_abuse_events() -> None:
    function = RESOURCES["AbuseResponderFunction"]["Properties"]
    assert (function["FunctionName"], function["CodeUri"], function["Runtime"], function["Architectures"]) == (
        FUNCTION,
        "responders/abuse-events/",
        "python3.12",
        ["arm64"],
    )
    assert function["Layers"] == [{"Ref": "MamoriLibrary"}]
    assert function["Role"] == {"Fn::GetAtt": [ROLE, "Arn"]}
    [event] = function["Events"].values()
    assert event["Type"] == "EventBridgeRule"
    assert event["Properties"]["Pattern"] == {"source": ["aws.health"], "detail-type": ["AWS Health Abuse Event"]}
    # Retried, then left in the dead-letter queue, whose alarm tells the topic (issue 11, item 5).
    assert event["Properties"]["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}}
    assert function["EventInvokeConfig"]["DestinationConfig"]["OnFailure"]["Destination"] == {
        "Fn::GetAtt": ["DeadLetterQueue", "Arn"]
    }


def test_environment_carries_what_the_remediation_configuration_passes() -> None:
    """One source: the open-proxy RemediationLink. A parameter added to it reaches the responder."""
    [rule] = [rule for rule in load_rules() if rule.id == "open-proxy-ports"]
    assert rule.remediation is not None
    variables = RESOURCES["AbuseResponderFunction"]["Properties"]["Environment"]["Variables"]
    passed = RESOURCES["OpenProxyPortsRemediation"]["Properties"]["Parameters"]
    static = set(passed) - {"AutomationAssumeRole", rule.remediation.resource_id_parameter}

    assert {key.removeprefix("DOCUMENT_PARAMETER_") for key in variables if key.startswith("DOCUMENT_PARAMETER_")} == static
    for name in static:
        value = passed[name]["Fn::If"][1] if "Fn::If" in passed[name] else passed[name]
        assert variables[f"DOCUMENT_PARAMETER_{name}"] == value["StaticValue"]["Values"][0]
    assert variables["RESOURCE_ID_PARAMETER"] == rule.remediation.resource_id_parameter
    assert variables["DOCUMENT_NAME"] == {"Ref": "OpenProxyPortsDocument"}
    assert variables["AUTOMATION_ASSUME_ROLE"] == passed["AutomationAssumeRole"]["StaticValue"]["Values"][0]


def test_role_grants_its_calls_on_their_narrowest_resources() -> None:
    """That the responder calls exactly what its role is granted is checked for the whole session
    (tests/meta/test_grants.py); iam:PassRole is checked by SSM on the caller's behalf, not called."""
    assert "iam:PassRole" in granted_actions(ROLE)
    statements = RESOURCES[ROLE]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    by_action = {action: statement for statement in statements for action in statement["Action"]}
    assert by_action["iam:PassRole"]["Resource"] == {"Fn::Sub": "${OpenProxyPortsAutomationRole.Arn}"}
    assert by_action["iam:PassRole"]["Condition"] == {"StringEquals": {"iam:PassedToService": "ssm.amazonaws.com"}}
    starts = [statement["Resource"] for statement in statements if "ssm:StartAutomationExecution" in statement["Action"]]
    ssm = "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}"
    # Both resource types the Service Authorization Reference requires: this document, and any execution.
    assert starts == [{"Fn::Sub": f"{ssm}:document/{DOCUMENT}"}, {"Fn::Sub": f"{ssm}:automation-execution/*"}]
    assert by_action["sns:Publish"]["Resource"] == {"Fn::Sub": "${NotificationTopic}"}
    assert (
        by_action["kms:GenerateDataKey"]["Resource"]
        == by_action["kms:Decrypt"]["Resource"]
        == {"Fn::Sub": "${NotificationKey.Arn}"}
    )


# Issue 11, item 1: the grant this role had, on the automation definition only, is refused in a
# real account (the reference requires the document and automation-execution resource types).
OLD_START_GRANT = {
    "Effect": "Allow",
    "Action": ["ssm:StartAutomationExecution"],
    "Resource": {
        "Fn::Sub": f"arn:${{AWS::Partition}}:ssm:${{AWS::Region}}:${{AWS::AccountId}}:automation-definition/{DOCUMENT}:*"
    },
}


def _with_start_statements(*statements: dict[str, Any]) -> dict[str, Any]:
    role = copy(RESOURCES[ROLE])
    document = role["Properties"]["Policies"][0]["PolicyDocument"]
    kept = [s for s in document["Statement"] if "ssm:StartAutomationExecution" not in s["Action"]]
    document["Statement"] = kept + list(statements)
    return role


def test_the_old_start_grant_is_refused_as_iam_would_and_the_new_one_is_not(sandbox: Sandbox) -> None:
    ssm = boto3.client("ssm")
    old = role_policy(_with_start_statements(OLD_START_GRANT), resolver())

    with sandbox.acting_as(PRINCIPAL, old), pytest.raises(ssm.exceptions.ClientError) as refused:
        ssm.start_automation_execution(DocumentName=DOCUMENT, Parameters={"GroupId": ["sg-0123456789abcdef0"]})

    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    assert "resource type automation-execution, required by the Service Authorization Reference" in str(refused.value)
    # The statement on the document alone is refused too: both types are required.
    document_only = _with_start_statements({**OLD_START_GRANT, "Resource": f"arn:aws:ssm:{REGION}:{ACCOUNT}:document/{DOCUMENT}"})
    with sandbox.acting_as(PRINCIPAL, role_policy(document_only, resolver())), pytest.raises(ssm.exceptions.ClientError):
        ssm.start_automation_execution(DocumentName=DOCUMENT, Parameters={"GroupId": ["sg-0123456789abcdef0"]})
    # What the template grants now is accepted by the same check (the start itself stood in).
    started: list[str] = []

    def runner(document: str, parameters: dict[str, list[str]]) -> str:
        started.append(document)
        return "execution-1"

    sandbox.automation_runner = runner
    with sandbox.acting_as(PRINCIPAL, role_grants(ROLE)):
        answer = ssm.start_automation_execution(DocumentName=DOCUMENT, Parameters={"GroupId": ["sg-0123456789abcdef0"]})
    assert (answer["AutomationExecutionId"], started) == ("execution-1", [DOCUMENT])
    # ... and only for this document.
    with sandbox.acting_as(PRINCIPAL, role_grants(ROLE)), pytest.raises(ssm.exceptions.ClientError) as other:
        ssm.start_automation_execution(DocumentName="mamori-unapproved-regions", Parameters={})
    assert "document/mamori-unapproved-regions (resource type document" in str(other.value)


def test_a_failure_after_telling_is_told_once_and_a_lost_message_by_the_retry(world: World) -> None:
    """A report whose start failed is told once, however often Lambda retries; a message that did
    not go out (publishing throttled) is told by the retry: its claim was released."""
    group = make_group(world.ec2, world.vpc, [tcp(3128, "0.0.0.0/0")])
    event = proxy_report(world.launch(group)["InstanceId"])
    world.sandbox.answer_next("sns:Publish", "Throttled")

    with pytest.raises(botocore.exceptions.ClientError, match="Throttled"):
        world.deliver(event)
    assert world.inbox() == []

    retry = world.deliver(event)

    assert retry["told"] is True
    [message] = world.inbox()
    assert message["Subject"].startswith("[mamori] Open proxy report: remediation started on 1 group")
    assert message["Message"].splitlines()[-1].startswith(f"Is this from mamori? Only if it came through the topic {world.topic}")
    assert world.sandbox.calls_by(PRINCIPAL)["dynamodb:DeleteItem"] == 1
