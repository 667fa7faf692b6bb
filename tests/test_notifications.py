"""The notifier: real-shaped EventBridge events in, a message a person can act on out,
published to SNS (moto) and read back through an SQS subscription. The clock is fixed
(mamori.automation.utc_now) so that the reply deadlines read the same on any day."""

import datetime
import json
from typing import Any

import boto3
import pytest
import yaml

from harness.aws import ACCOUNT, REGION, Sandbox
from harness.config_events import change_event, security_group_item
from harness.pack import (
    deployed_rule_parameters,
    invoke_rule,
    lambda_principal,
    make_deduplication_table,
    resolved_environment,
    role_grants,
    template,
)
from mamori import automation
from mamori.catalog import ROOT
from tests.conftest import make_group, tcp
from tests.exempt import SOON

NOW = datetime.datetime(2026, 11, 21, 10, 0, tzinfo=datetime.UTC)
RULE = "mamori-open-proxy-ports"

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
    # The environment template.yaml gives the notifier, with the topic and the table made here.
    environment = resolved_environment(
        template()["Resources"]["NotifierFunction"],
        NotificationTopic=topic,
        DeduplicationTable=make_deduplication_table(),
        MaxExemptionDays=str(template()["Parameters"]["MaxExemptionDays"]["Default"]),
    )
    for key, value in environment.items():  # ABUSE_RESPONSE (an Fn::If) is the clock fixture's
        monkeypatch.setenv(key, value)

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
    assert (
        'Why: "Proxy port open to the internet: tcp 3128 from 0.0.0.0/0; remediation revokes it." '
        f"(as reported by account {ACCOUNT})"
    ) in body
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
    another = json.loads(json.dumps(ABUSE_EVENT))
    another["detail"]["communicationId"] = "abc-2"  # another message: the same one would be told once
    deliver(sandbox, another)

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


# --- what others wrote, copies, forgeries, failures (issues 10 and 11) --------------------------------

MEMBER = "210987654321"


def test_an_annotation_is_the_reporting_accounts_words_not_mamoris(sandbox: Sandbox, topic_queue: Any) -> None:
    """Whoever may call config:PutEvaluations writes the annotation and the resource id: one
    quoted line, cut, links unclickable, marked with the account EventBridge says sent it."""
    event = json.loads(json.dumps(COMPLIANCE_CHANGE))
    event["account"] = MEMBER
    event["detail"]["resourceId"] = "sg-1\nURGENT: wire money"
    event["detail"]["newEvaluationResult"]["annotation"] = "Fixed.\nWhat to do: sign in at https://evil.example/aws " + "x" * 300

    deliver(sandbox, event)

    [message] = topic_queue()
    assert message["Subject"] == "[mamori] NON_COMPLIANT: mamori-open-proxy-ports sg-1 URGENT: wire money"
    lines = message["Message"].splitlines()
    [why] = [line for line in lines if line.startswith("Why:")]
    assert why.startswith('Why: "Fixed. What to do: sign in at https[:]//evil.example/aws xxx')
    assert why.endswith(f'..." (as reported by account {MEMBER})') and len(why) < 260
    assert not [line for line in lines if line.startswith("What to do: sign in")]
    assert "https://evil" not in message["Message"]


def test_every_message_says_how_to_tell_it_from_a_forgery(sandbox: Sandbox, topic_queue: Any) -> None:
    deliver(sandbox, COMPLIANCE_CHANGE)
    deliver(sandbox, ABUSE_EVENT)

    topic = boto3.client("sns").list_topics()["Topics"][0]["TopicArn"]
    for message in topic_queue():
        last = message["Message"].splitlines()[-1]
        assert last.startswith(f"Is this from mamori? Only if it came through the topic {topic}: Amazon SNS delivers it from ")
        assert "no-reply@sns.amazonaws.com" in last and "never asks for passwords, keys or a sign-in through a link" in last


def test_the_topic_refuses_publishing_without_tls() -> None:
    statements = template()["Resources"]["NotificationTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert {
        "Sid": "TlsOnly",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "sns:Publish",
        "Resource": {"Ref": "NotificationTopic"},
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    } in statements


def _copy(region: str, event_id: str) -> dict[str, Any]:
    """The same AWS Health message as delivered in another region (AWS Health's backup copy)."""
    event: dict[str, Any] = json.loads(json.dumps(ABUSE_EVENT))
    event.update(region=region, id=event_id)
    return event


def test_an_abuse_report_from_two_regions_is_told_once(sandbox: Sandbox, topic_queue: Any) -> None:
    """The Health forwarder brings the us-east-1 copy and the us-west-2 backup copy home."""
    first = deliver(sandbox, _copy("us-east-1", "7bf73129-0000-0000-0000-000000000001"))
    second = deliver(sandbox, _copy("us-west-2", "7bf73129-0000-0000-0000-000000000002"))

    assert (first["published"], second) == (True, {"published": False, "duplicate": True, "subject": first["subject"]})
    assert len(topic_queue()) == 1
    # Another message of AWS Health (an update, another page) is told.
    update = _copy("us-east-1", "7bf73129-0000-0000-0000-000000000003")
    update["detail"]["communicationId"] = "def-2"
    assert deliver(sandbox, update)["published"] is True
    assert len(topic_queue()) == 1


def test_a_message_that_did_not_go_out_is_told_by_the_retry(sandbox: Sandbox, topic_queue: Any) -> None:
    sandbox.answer_next("sns:Publish", "Throttled")

    with pytest.raises(boto3.client("sns").exceptions.ClientError, match="Throttled"):
        deliver(sandbox, ABUSE_EVENT)

    assert deliver(sandbox, ABUSE_EVENT)["published"] is True  # Lambda's retry: the claim was released
    assert len(topic_queue()) == 1
    assert sandbox.calls_by(lambda_principal("mamori-notifier"))["dynamodb:DeleteItem"] == 1


FORWARDER_ALARM = {
    "version": "0",
    "id": "c4c1c1c9-0000-0000-0000-000000000000",
    "detail-type": "CloudWatch Alarm State Change",
    "source": "aws.cloudwatch",
    "account": ACCOUNT,
    "time": "2026-11-21T10:00:00Z",
    "region": "us-west-2",
    "resources": [f"arn:aws:cloudwatch:us-west-2:{ACCOUNT}:alarm:mamori-forwarder-dead-letters"],
    "detail": {
        "alarmName": "mamori-forwarder-dead-letters",
        "state": {"value": "ALARM", "reason": "Threshold Crossed", "timestamp": "2026-11-21T10:00:00.000+0000"},
        "previousState": {"value": "OK", "timestamp": "2026-11-20T10:00:00.000+0000"},
        "configuration": {"metrics": []},
    },
}


def test_a_forwarders_dead_letters_reach_the_topic_as_one_message(sandbox: Sandbox, topic_queue: Any) -> None:
    """CloudWatch alarms tell only topics of their own region: the forwarder in us-west-2 sends
    its alarm home as an event (template/abuse-event-forwarder.yaml), the notifier tells once."""
    assert deliver(sandbox, FORWARDER_ALARM)["published"] is True
    assert deliver(sandbox, FORWARDER_ALARM)["published"] is False  # delivered twice: told once
    [message] = topic_queue()
    assert message["Subject"] == "[mamori] FAILED to forward AWS Health events from us-west-2"
    assert "mamori-forwarder-dead-letters" in message["Message"] and "redrive or purge" in message["Message"]
    back_to_ok = json.loads(json.dumps(FORWARDER_ALARM))
    back_to_ok["detail"]["state"]["value"] = "OK"
    assert deliver(sandbox, back_to_ok) == {"published": False}
    # The notifier's rule takes exactly the alarm the forwarder template makes and forwards.
    pattern = template()["Resources"]["NotifierFunction"]["Properties"]["Events"]["ForwarderAlarm"]["Properties"]["Pattern"]
    forwarder = yaml.safe_load((ROOT / "template" / "abuse-event-forwarder.yaml").read_text())["Resources"]
    assert pattern["detail"]["alarmName"] == [forwarder["ForwarderDeadLetterAlarm"]["Properties"]["AlarmName"]]
    assert pattern["detail"] == forwarder["AlarmForwarder"]["Properties"]["EventPattern"]["detail"]


def change_to(resource_id: str, compliance: str, annotation: str, was: str = "NON_COMPLIANT") -> dict[str, Any]:
    """COMPLIANCE_CHANGE for another group, compliance and annotation."""
    event = json.loads(json.dumps(COMPLIANCE_CHANGE))
    event["detail"]["resourceId"] = resource_id
    event["detail"]["newEvaluationResult"]["evaluationResultIdentifier"]["evaluationResultQualifier"]["resourceId"] = resource_id
    event["detail"]["newEvaluationResult"]["complianceType"] = compliance
    event["detail"]["newEvaluationResult"]["annotation"] = annotation
    event["detail"]["oldEvaluationResult"]["complianceType"] = was
    return event


def rule_annotation(sandbox: Sandbox, ec2: Any, group: str) -> tuple[str, str]:
    """What the real mamori-open-proxy-ports puts for the group (the annotation the event carries)."""
    item = security_group_item(ec2, group)
    invoke_rule(sandbox, "open-proxy-ports", change_event(RULE, item, deployed_rule_parameters("open-proxy-ports")))
    return sandbox.config.compliance(RULE)[group]


def test_every_exemption_is_announced_with_its_reason_and_end(sandbox: Sandbox, topic_queue: Any, ec2: Any, vpc_id: str) -> None:
    """Anyone who may tag a resource can exempt it: people must see each exemption as it starts."""
    group = make_group(
        ec2, vpc_id, [tcp(3128, "0.0.0.0/0")], tags={"mamori:exempt": f"red-team proxy, ticket SEC-9 until={SOON}"}
    )
    compliance, annotation = rule_annotation(sandbox, ec2, group)

    deliver(sandbox, change_to(group, compliance, annotation))

    [message] = topic_queue()
    assert message["Subject"] == f"[mamori] EXEMPT: mamori-open-proxy-ports {group}"
    body = message["Message"]
    assert f"What: AWS::EC2::SecurityGroup {group} is now exempt from mamori-open-proxy-ports (was NON_COMPLIANT)" in body
    # The tag's text is whoever tagged it's, as the rule reported it: quoted, with the account.
    why = f'Why (the mamori:exempt tag): "red-team proxy, ticket SEC-9 (until {SOON})" (as reported by account {ACCOUNT})'
    assert why in body
    assert "CloudTrail shows who did" in body and "remove the tag" in body


def test_an_exemption_that_counts_for_nothing_is_said_with_its_reason(
    sandbox: Sandbox, topic_queue: Any, ec2: Any, vpc_id: str, monkeypatch: Any
) -> None:
    monkeypatch.setenv("MAX_EXEMPTION_DAYS", "90")
    group = make_group(ec2, vpc_id, [tcp(3128, "0.0.0.0/0")], tags={"mamori:exempt": "research honeypot"})
    compliance, annotation = rule_annotation(sandbox, ec2, group)

    deliver(sandbox, change_to(group, compliance, annotation, was="NOT_APPLICABLE"))

    [message] = topic_queue()
    assert message["Subject"] == f"[mamori] NON_COMPLIANT: mamori-open-proxy-ports {group}"
    body = message["Message"]
    assert (
        "Exemption: the resource's mamori:exempt tag counts for nothing: \"mamori:exempt ignored: it has no end; "
        f"add ' until=YYYY-MM-DD', at most 90 days ahead\" (as reported by account {ACCOUNT})."
    ) in body
    assert "a reason and ' until=YYYY-MM-DD', at most 90 days ahead" in body
