"""The notifier: real-shaped EventBridge events in, a message a person can act on out,
published to SNS (moto) and read back through an SQS subscription. The clock is fixed
(mamori.automation.utc_now) so that the reply deadlines read the same on any day."""

import datetime
import json
from typing import Any

import boto3
import pytest

from harness.aws import ACCOUNT, REGION, Sandbox
from harness.pack import lambda_principal, role_grants, template
from mamori import automation

NOW = datetime.datetime(2026, 11, 21, 10, 0, tzinfo=datetime.UTC)

COMPLIANCE_CHANGE = {
    "version": "0",
    "id": "5e0a5e1c-0000-0000-0000-000000000000",
    "detail-type": "Config Rules Compliance Change",
    "source": "aws.config",
    "account": ACCOUNT,
    "time": "2026-11-21T06:00:00Z",
    "region": REGION,
    "resources": [],
    "detail": {
        "resourceId": "sg-0123456789abcdef0",
        "awsRegion": REGION,
        "awsAccountId": ACCOUNT,
        "configRuleName": "mamori-open-proxy-ports",
        "recordVersion": "1.0",
        "configRuleARN": f"arn:aws:config:{REGION}:{ACCOUNT}:config-rule/config-rule-abc123",
        "messageType": "ComplianceChangeNotification",
        "newEvaluationResult": {
            "evaluationResultIdentifier": {
                "evaluationResultQualifier": {
                    "configRuleName": "mamori-open-proxy-ports",
                    "resourceType": "AWS::EC2::SecurityGroup",
                    "resourceId": "sg-0123456789abcdef0",
                },
                "orderingTimestamp": "2026-11-21T05:59:58.000Z",
            },
            "complianceType": "NON_COMPLIANT",
            "resultRecordedTime": "2026-11-21T06:00:00.000Z",
            "configRuleInvokedTime": "2026-11-21T05:59:59.000Z",
            "annotation": "Proxy port open to the internet: tcp 3128 from 0.0.0.0/0; remediation revokes it.",
        },
        "oldEvaluationResult": {"complianceType": "COMPLIANT"},
        "notificationCreationTime": "2026-11-21T06:00:00.000Z",
        "resourceType": "AWS::EC2::SecurityGroup",
    },
}

ABUSE_EVENT = {
    "version": "0",
    "id": "7bf73129-0000-0000-0000-000000000000",
    "detail-type": "AWS Health Abuse Event",
    "source": "aws.health",
    "account": ACCOUNT,
    "time": "2026-11-21T09:30:00Z",
    "region": REGION,
    "resources": ["i-0abcdef0123456789"],
    "detail": {
        "eventArn": f"arn:aws:health:global::event/AWS_ABUSE_OPEN_PROXY_REPORT_{ACCOUNT}",
        "service": "ABUSE",
        "eventTypeCode": "AWS_ABUSE_OPEN_PROXY_REPORT",
        "eventTypeCategory": "issue",
        "eventScopeCode": "ACCOUNT_SPECIFIC",
        "communicationId": "abc",
        "startTime": "Sat, 21 Nov 2026 09:30:00 GMT",
        "eventRegion": REGION,
        "eventDescription": [
            {"language": "en_US", "latestDescription": "We have received a report of an open proxy on your instance."}
        ],
        "affectedEntities": [{"entityValue": "i-0abcdef0123456789"}],
        "affectedAccount": ACCOUNT,
    },
}


def notifier() -> Any:
    import importlib.util

    from mamori.catalog import ROOT

    spec = importlib.util.spec_from_file_location("mamori_notifier", ROOT / "responders" / "notifications" / "handler.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def clock(monkeypatch: Any) -> None:
    monkeypatch.setattr(automation, "utc_now", lambda: NOW)
    monkeypatch.setenv("ABUSE_RESPONSE", "on")


@pytest.fixture
def topic_queue(sandbox: Sandbox, monkeypatch: Any) -> Any:
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    topic = sns.create_topic(Name="mamori-notifications")["TopicArn"]
    queue = sqs.create_queue(QueueName="inbox")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    monkeypatch.setenv("TOPIC_ARN", topic)

    def received() -> list[dict[str, Any]]:
        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(m["Body"]) for m in messages]

    return received


def deliver(sandbox: Sandbox, event: Any) -> Any:
    with sandbox.acting_as(lambda_principal("mamori-notifier"), role_grants("NotifierRole")):
        return notifier().lambda_handler(event, None)


def test_compliance_change_says_what_where_and_what_to_do(sandbox: Sandbox, topic_queue: Any) -> None:
    assert deliver(sandbox, COMPLIANCE_CHANGE)["published"] is True

    [message] = topic_queue()
    assert message["Subject"] == "[mamori] NON_COMPLIANT: mamori-open-proxy-ports sg-0123456789abcdef0"
    body = message["Message"]
    assert (
        "What: mamori-open-proxy-ports now finds AWS::EC2::SecurityGroup sg-0123456789abcdef0 NON_COMPLIANT (was COMPLIANT)."
        in body
    )
    assert "Why: Proxy port open to the internet: tcp 3128 from 0.0.0.0/0; remediation revokes it." in body
    assert f"Where: account {ACCOUNT}, region {REGION}." in body
    assert "mamori:exempt" in body
    assert "configRuleName=mamori-open-proxy-ports" in body


def test_abuse_event_names_the_deadline_and_the_resources(sandbox: Sandbox, topic_queue: Any) -> None:
    assert deliver(sandbox, ABUSE_EVENT)["published"] is True

    [message] = topic_queue()
    assert message["Subject"] == "[mamori] URGENT AWS abuse report AWS_ABUSE_OPEN_PROXY_REPORT - reply by 2026-11-22 09:30 UTC"
    body = message["Message"]
    assert "Affected resources: i-0abcdef0123456789" in body
    assert "We have received a report of an open proxy" in body
    assert "Deadline: reply by 2026-11-22 09:30 UTC." in body
    assert len(message["Subject"]) <= 100


def test_open_proxy_report_says_whether_mamori_acts(sandbox: Sandbox, topic_queue: Any, monkeypatch: Any) -> None:
    deliver(sandbox, ABUSE_EVENT)
    monkeypatch.setenv("ABUSE_RESPONSE", "off")
    deliver(sandbox, ABUSE_EVENT)

    on, off = (message["Message"] for message in topic_queue())
    assert "mamori-abuse-responder is starting mamori-open-proxy-ports" in on
    assert "automatic abuse response is off" in off and "run mamori-open-proxy-ports" in off


def test_other_abuse_reports_do_not_promise_a_remediation(sandbox: Sandbox, topic_queue: Any) -> None:
    event = json.loads(json.dumps(ABUSE_EVENT))
    event["detail"]["eventTypeCode"] = "AWS_ABUSE_DOS_REPORT"
    event["detail"]["eventDescription"][0]["latestDescription"] = "Denial of service traffic from your instance."

    deliver(sandbox, event)

    [message] = topic_queue()
    assert "mamori-abuse-responder" not in message["Message"]
    assert "stop the abuse" in message["Message"]


def test_real_global_shape_of_an_organizational_view(sandbox: Sandbox, topic_queue: Any) -> None:
    """AWS's published sample: region "global", no eventRegion, RFC-1123 startTime an hour
    before delivery, instance ARNs; delivered to the management account for a member."""
    member = "210987654321"
    instance = f"arn:aws:ec2:eu-west-1:{member}:instance/i-abcd1111"
    event: dict[str, Any] = json.loads(json.dumps(ABUSE_EVENT))
    event.update(region="global", time="2026-11-20T12:15:00Z", resources=[instance])
    event["detail"].update(
        eventTypeCode="AWS_ABUSE_DOS_REPORT",
        startTime="Fri, 20 Nov 2026 11:15:00 GMT",
        affectedAccount=member,
        affectedEntities=[{"entityValue": instance}],
    )
    del event["detail"]["eventRegion"]

    deliver(sandbox, event)

    [message] = topic_queue()
    assert message["Subject"].endswith("reply by 2026-11-21 11:15 UTC")
    body = message["Message"]
    assert f"reported abuse from account {member} (AWS_ABUSE_DOS_REPORT)" in body
    assert "Region: not named in the event" in body
    assert "Deadline: reply by 2026-11-21 11:15 UTC." in body  # from startTime, the earlier of the two times


def test_a_late_event_says_the_deadline_has_passed(sandbox: Sandbox, topic_queue: Any) -> None:
    event: dict[str, Any] = json.loads(json.dumps(ABUSE_EVENT))
    event["time"] = "2026-11-19T07:00:00Z"
    del event["detail"]["startTime"]

    deliver(sandbox, event)

    [message] = topic_queue()
    assert "Deadline: reply by 2026-11-20 07:00 UTC - passed 27 hours ago: reply now." in message["Message"]


def test_abuse_event_without_entities_still_reads(sandbox: Sandbox, topic_queue: Any) -> None:
    event = json.loads(json.dumps(ABUSE_EVENT))
    event["resources"] = []
    del event["detail"]["affectedEntities"]
    event["detail"]["eventTypeCode"] = "AWS_ABUSE_SOMETHING_NEW"

    deliver(sandbox, event)

    [message] = topic_queue()
    assert "AWS_ABUSE_SOMETHING_NEW" in message["Subject"]
    assert "Affected resources: not named in the event" in message["Message"]


def test_abuse_event_with_broken_fields_still_reaches_people(sandbox: Sandbox, topic_queue: Any) -> None:
    event = json.loads(json.dumps(ABUSE_EVENT))
    event["detail"]["affectedEntities"] = "i-0abcdef0123456789"
    event["detail"]["eventTypeCode"] = "AWS_ABUSE_BAD\nCODE"
    event["time"] = event["detail"]["startTime"] = "yesterday"

    assert deliver(sandbox, event)["published"] is True

    [message] = topic_queue()
    assert message["Subject"] == "[mamori] URGENT AWS abuse report AWS_ABUSE_BAD CODE - reply within 24h"
    body = message["Message"]
    assert "Deadline: reply within 24 hours of the report (the event gives no time)." in body
    assert "Affected resources: i-0abcdef0123456789" in body  # still named by `resources`
    assert "Could not read: neither detail.startTime nor time is a date; detail.affectedEntities is not a list." in body


def test_notifier_reads_abuse_events_with_the_mamori_library() -> None:
    notifier_function = template()["Resources"]["NotifierFunction"]["Properties"]
    assert notifier_function["Layers"] == [{"Ref": "MamoriLibrary"}]
    assert notifier_function["Environment"]["Variables"]["ABUSE_RESPONSE"] == {"Fn::If": ["AbuseResponseOn", "on", "off"]}


@pytest.mark.parametrize(
    "event",
    [
        {**COMPLIANCE_CHANGE, "detail": {**COMPLIANCE_CHANGE["detail"], "configRuleName": "someone-elses-rule"}},  # type: ignore[dict-item]
        {**ABUSE_EVENT, "detail-type": "AWS Health Event"},
        {"hello": "world"},
        "not an event",
    ],
    ids=["other-rule", "ordinary-health-event", "junk", "string"],
)
def test_other_events_are_ignored_without_publishing(sandbox: Sandbox, topic_queue: Any, event: Any) -> None:
    assert deliver(sandbox, event) == {"published": False}
    assert topic_queue() == []
