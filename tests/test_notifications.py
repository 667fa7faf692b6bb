"""The notifier: real-shaped EventBridge events in, a message a person can act on out,
published to SNS (moto) and read back through an SQS subscription."""

import json
from typing import Any

import boto3
import pytest

from harness.aws import ACCOUNT, REGION, Sandbox
from harness.pack import NOT_CALLED_BY_CODE, granted_actions, lambda_principal

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

    spec = importlib.util.spec_from_file_location("mamori_notifier", ROOT / "notifications" / "handler.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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
    with sandbox.acting_as(lambda_principal("mamori-notifier"), granted_actions("NotifierRole") - NOT_CALLED_BY_CODE):
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


def test_abuse_event_without_entities_still_reads(sandbox: Sandbox, topic_queue: Any) -> None:
    event = json.loads(json.dumps(ABUSE_EVENT))
    event["resources"] = []
    del event["detail"]["affectedEntities"]
    event["detail"]["eventTypeCode"] = "AWS_ABUSE_SOMETHING_NEW"

    deliver(sandbox, event)

    [message] = topic_queue()
    assert "AWS_ABUSE_SOMETHING_NEW" in message["Subject"]
    assert "Affected resources: not named in the event" in message["Message"]


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
