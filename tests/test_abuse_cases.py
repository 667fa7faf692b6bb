"""An AWS abuse report tracked until it is answered (mamori.abuse_cases, run by
mamori-abuse-responder): one OpsItem per report, what mamori found (read-only) and did, the
deadline, a reply draft in the OpsItem and the message, and reminders at 50 % and 90 % of the
time to the deadline, one schedule per open case, deleted once the case is resolved.

The world, the events and the responder are tests/test_abuse_response.py's (real handler, the
environment template.yaml gives it, only its role's actions). Stood in: OpsCenter
(tests/incident_helpers.CaseCenter: moto has no OpsItems); EventBridge Scheduler keeps its
schedules in moto, which fires none: a test invokes the responder with the schedule's Input at
the schedule's time, as Scheduler would.
"""

import datetime
import json
from typing import Any

import boto3
import pytest

from harness.aws import ACCOUNT
from harness.incident_events import proxy_report
from harness.responders import responder_environment
from mamori import automation
from mamori.abuse_cases import DRAFT_KEY, SCHEDULE_GROUP
from mamori.records import REMEDIATED_TAG
from tests.conftest import make_group, tcp
from tests.incident_helpers import unsigned
from tests.test_abuse_response import PRINCIPAL, World, world

__all__ = ["world"]  # the fixture, used by name below

RECEIVED = datetime.datetime(2026, 11, 21, 9, 30, tzinfo=datetime.UTC)  # the reports' startTime
DUE = RECEIVED + datetime.timedelta(hours=24)


def schedules() -> list[dict[str, Any]]:
    scheduler = boto3.client("scheduler")
    names = [s["Name"] for s in scheduler.list_schedules(GroupName=SCHEDULE_GROUP)["Schedules"]]
    return [scheduler.get_schedule(Name=name, GroupName=SCHEDULE_GROUP) for name in names]


def fire(world: World, schedule: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Any:
    """What Scheduler does at the schedule's time: invoke its target with its Input."""
    expression = schedule["ScheduleExpression"]
    at = datetime.datetime.fromisoformat(expression.removeprefix("at(").removesuffix(")")).replace(tzinfo=datetime.UTC)
    monkeypatch.setattr(automation, "utc_now", lambda: at)
    world.sandbox.reset_counts()
    return world.deliver(json.loads(schedule["Target"]["Input"]))


def test_an_open_proxy_report_becomes_a_case_with_its_draft_and_reminders(world: World, monkeypatch: Any) -> None:
    shared = make_group(world.ec2, world.vpc, [tcp(3128, "0.0.0.0/0"), tcp(22, "0.0.0.0/0"), tcp(443, "10.0.0.0/8")])
    instance = world.launch(shared)["InstanceId"]

    result = world.deliver(proxy_report(instance))

    [run] = world.runs
    [item] = world.ops.open_items()
    assert result["case"] == item["OpsItemId"]
    assert item["Title"] == "AWS abuse report AWS_ABUSE_OPEN_PROXY_REPORT: reply by 2026-11-22 09:30 UTC"
    description = item["Description"]
    assert "Reply by: 2026-11-22 09:30 UTC (23 h 30 min left)." in description
    # Found before the remediation changed anything: the proxy port (the rule's decision) and the rest.
    assert (
        f"- {shared} (of {instance}): proxy ports open to the internet: tcp 3128 from 0.0.0.0/0; other entries open to "
        "the internet: tcp 22 from 0.0.0.0/0" in description
    )
    assert f"- 2026-11-21 10:00 UTC: started mamori-open-proxy-ports on {shared}: execution {run.execution_id}" in description
    draft = item["OperationalData"][DRAFT_KEY]["Value"]
    assert f"Cause: {shared} allowed tcp 3128 from 0.0.0.0/0, which made the instance an open proxy" in draft
    assert f"at 2026-11-21 10:00 UTC we revoked the inbound rules that exposed proxy ports to the internet on {shared} " in draft
    assert f"(execution {run.execution_id})" in draft
    assert f"Other exposure we are closing: {shared} also allows tcp 22 from 0.0.0.0/0." in draft
    assert "[name, role, contact]" in draft
    [message] = world.inbox()
    assert unsigned(message["Message"]).endswith(draft)  # the same draft, in the message
    assert f"Case: OpsItem {item['OpsItemId']}" in message["Message"]
    assert "Reminders until the OpsItem is resolved: 2026-11-21 21:30 UTC, 2026-11-22 07:06 UTC" in message["Message"]
    [schedule] = schedules()
    assert schedule["ScheduleExpression"] == "at(2026-11-21T21:30:00)"  # 50 % of the time to the deadline
    assert schedule["ActionAfterCompletion"] == "NONE"
    assert schedule["Target"]["Arn"] == f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:mamori-abuse-responder"
    assert schedule["Target"]["RoleArn"] == f"arn:aws:iam::{ACCOUNT}:role/AbuseReminderRole"

    # 50 %: the case is open: remind, with the time left, and move the one schedule to 90 %.
    reminded = fire(world, schedule, monkeypatch)

    assert reminded == {"acted": True, "reminded": 0, "next": 1}
    [reminder] = world.inbox()
    assert reminder["Subject"] == "[mamori] REMINDER: reply to AWS abuse report AWS_ABUSE_OPEN_PROXY_REPORT - 12 h 00 min left"
    assert "still Open: 50 % of the time to reply is gone. Deadline: 2026-11-22 09:30 UTC" in reminder["Message"]
    assert unsigned(reminder["Message"]).endswith(draft)
    [moved] = schedules()
    assert (moved["ScheduleExpression"], moved["ActionAfterCompletion"]) == ("at(2026-11-22T07:06:00)", "DELETE")
    assert world.sandbox.calls_by(PRINCIPAL) == {"ssm:GetOpsItem": 1, "sns:Publish": 1, "scheduler:UpdateSchedule": 1}

    # Someone replies and resolves the OpsItem: the 90 % invocation tells nobody and deletes the schedule.
    world.ops.resolve(item["OpsItemId"])
    closed = fire(world, moved, monkeypatch)

    assert closed == {"acted": False, "case": "Resolved", "schedule": "deleted"}
    assert world.inbox() == [] and schedules() == []


def test_the_last_reminder_deletes_nothing_itself_scheduler_does(world: World, monkeypatch: Any) -> None:
    world.deliver(proxy_report())  # names nothing: still a case
    [first] = schedules()
    fire(world, first, monkeypatch)
    world.inbox()
    [last] = schedules()

    result = fire(world, last, monkeypatch)

    assert result == {"acted": True, "reminded": 1, "next": None}
    [reminder] = world.inbox()
    assert "- 2 h 24 min left" in reminder["Subject"] and "90 % of the time to reply is gone" in reminder["Message"]
    assert "scheduler:UpdateSchedule" not in world.sandbox.calls_by(PRINCIPAL)
    assert last["ActionAfterCompletion"] == "DELETE"  # Scheduler deletes it once this invocation has run


def test_the_same_report_again_is_the_same_case(world: World) -> None:
    event = proxy_report(code="AWS_ABUSE_DOS_REPORT", description="A denial of service attack was reported.")
    world.deliver(event)
    world.inbox()
    world.sandbox.reset_counts()

    again = world.deliver(event)

    assert again["subject"] == "" and len(world.ops.items) == 1 and len(schedules()) == 1
    assert world.inbox() == []
    assert "scheduler:CreateSchedule" not in world.sandbox.calls_by(PRINCIPAL)


def test_any_abuse_report_is_a_case_but_only_an_open_proxy_is_acted_on(world: World) -> None:
    exposed = make_group(world.ec2, world.vpc, [tcp(3128, "0.0.0.0/0")])
    instance = world.launch(exposed)["InstanceId"]

    result = world.deliver(proxy_report(instance, code="AWS_ABUSE_DOS_REPORT", description="A denial of service attack."))

    assert result["acted"] is False and world.runs == []
    [item] = world.ops.open_items()
    assert f"- {exposed} (of {instance}): proxy ports open to the internet: tcp 3128 from 0.0.0.0/0" in item["Description"]
    assert "nothing changed: mamori acts by itself only on open-proxy reports (AWS_ABUSE_DOS_REPORT)" in item["Description"]
    assert "Corrective action: [what you did, and when]" in item["OperationalData"][DRAFT_KEY]["Value"]
    [message] = world.inbox()
    assert message["Subject"] == "[mamori] Abuse report AWS_ABUSE_DOS_REPORT: case opened - reply by 2026-11-22 09:30 UTC"


def test_with_auto_remediation_off_the_case_is_tracked_and_nothing_changed(world: World, monkeypatch: Any) -> None:
    monkeypatch.setenv("CONTAIN", "false")  # AbuseResponse "true", AutoRemediation "false"
    group = make_group(world.ec2, world.vpc, [tcp(3128, "0.0.0.0/0")])

    world.deliver(proxy_report(world.launch(group)["InstanceId"]))

    assert world.runs == [] and len(world.ops.open_items()) == 1


def test_the_notice_sets_its_own_deadline(world: World) -> None:
    world.deliver(proxy_report(description="Open proxy reported; please reply within 48 hours."))

    [item] = world.ops.open_items()
    assert item["Title"].endswith("reply by 2026-11-23 09:30 UTC")
    [schedule] = schedules()
    assert schedule["ScheduleExpression"] == "at(2026-11-22T09:30:00)"  # 50 % of 48 hours


def test_a_late_report_gets_the_reminders_still_ahead(world: World, monkeypatch: Any) -> None:
    monkeypatch.setattr(automation, "utc_now", lambda: RECEIVED + datetime.timedelta(hours=13))

    world.deliver(proxy_report())

    [schedule] = schedules()
    assert (schedule["ScheduleExpression"], schedule["ActionAfterCompletion"]) == ("at(2026-11-22T07:06:00)", "DELETE")


def test_a_report_past_its_deadline_gets_no_reminder(world: World, monkeypatch: Any) -> None:
    monkeypatch.setattr(automation, "utc_now", lambda: DUE + datetime.timedelta(hours=1))

    world.deliver(proxy_report())

    assert schedules() == []
    [message] = world.inbox()
    assert "Reminders: none (the deadline is near or passed)" in message["Message"]
    assert "the deadline passed 1 h ago: reply now" in world.ops.open_items()[0]["Description"]


def test_an_instance_mamori_already_stopped_is_named_not_acted_on_again(world: World) -> None:
    """A miner GuardDuty found and mamori stopped, then reported by AWS: handled once."""
    group = make_group(world.ec2, world.vpc, [tcp(22, "203.0.113.0/24")])
    instance = world.launch(group)["InstanceId"]
    world.ec2.stop_instances(InstanceIds=[instance])
    stopped_by = "2026-11-21T09:05:00Z mamori-miner-responder stopped it: CryptoCurrency:EC2/BitcoinTool.B"
    world.ec2.create_tags(Resources=[instance], Tags=[{"Key": REMEDIATED_TAG, "Value": stopped_by}])

    world.deliver(proxy_report(instance, code="AWS_ABUSE_MINING_REPORT", description="Your instance was mining."))

    [item] = world.ops.open_items()
    assert f"- {instance}: already changed by mamori (stopped; {stopped_by})" in item["Description"]
    assert f"Already contained: {instance} (stopped; {stopped_by})." in item["OperationalData"][DRAFT_KEY]["Value"]
    assert world.runs == []


@pytest.mark.parametrize(
    "reminder",
    [
        {"mamori-abuse-reminder": {"opsItemId": "oi-0000000a11ce", "schedule": "rm -rf", "start": "x", "due": "y", "step": 0}},
        {"mamori-abuse-reminder": "not an object"},
        {
            "mamori-abuse-reminder": {
                "opsItemId": "oi-0000000a11ce",
                "schedule": "mamori-abuse-" + "0" * 24,
                "start": "2026-11-21T09:30:00+00:00",
                "due": "2026-11-22T09:30:00+00:00",
                "step": 7,
            }
        },
    ],
    ids=["bad-schedule", "not-an-object", "bad-step"],
)
def test_a_reminder_mamori_did_not_schedule_is_ignored(world: World, reminder: dict[str, Any]) -> None:
    result = world.deliver(reminder)

    assert result["acted"] is False and "ignored" in result
    assert world.sandbox.calls_by(PRINCIPAL) == {} and world.inbox() == []


def test_a_failed_case_is_said_and_raised(world: World) -> None:
    world.sandbox.answer_next("ssm:CreateOpsItem", "ThrottlingException")

    with pytest.raises(RuntimeError, match="CreateOpsItem failed"):
        world.deliver(proxy_report())

    [message] = world.inbox()
    assert "Case: NOT opened (CreateOpsItem failed: ThrottlingException" in message["Message"]
    assert schedules() == []


def test_what_was_open_is_judged_with_the_packs_parameters(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    # The deployer's ports, not the defaults: the environment template.yaml gives for ProxyPorts=8080.
    monkeypatch.setenv("PROXY_PORTS", responder_environment("abuse-events", "topic", ProxyPorts="8080")["PROXY_PORTS"])
    group = make_group(world.ec2, world.vpc, [tcp(3128, "0.0.0.0/0")])
    instance = world.launch(group)["InstanceId"]

    world.deliver(proxy_report(instance, code="AWS_ABUSE_DOS_REPORT", description="A denial of service attack."))

    [item] = world.ops.open_items()
    assert (
        f"- {group} (of {instance}): no proxy port open; other entries open to the internet: tcp 3128 from 0.0.0.0/0"
        in item["Description"]
    )
