"""What the acts add on AWS's own signals: Act 1 ends with the abuse report as a tracked case (the
OpsItem, its reply draft, the reminders); Act 2 ends with the leaked-key event (the key deactivated
within the same second) and a GuardDuty mining finding in ap-southeast-1 (the instance stopped,
its volume snapshotted).

The responders are the real handlers with their roles' actions and template.yaml's environment
(harness/responders.py). Stand-ins from the tests (tests/incident_helpers.py): OpsCenter with
GetOpsItem, CloudTrail's LookupEvents, and moto's Scheduler gap; Scheduler fires nothing in moto,
so the demo invokes the responder with a schedule's Input at the schedule's time, as Scheduler
would. Each stand-in this module installs is removed when its part ends, so the acts after it see
the account as before.
"""

import datetime
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import boto3

from demo.kit import Demo, say, step
from harness.aws import REGION
from harness.iam_state import key_ids, key_used_ago, make_user
from harness.incident_events import MINING_REGION, exposed, finding, proxy_report
from harness.pack import make_deduplication_table, run_automations
from harness.responders import invoke_responder, responder_environment
from mamori import automation
from mamori.abuse_cases import DRAFT_KEY, SCHEDULE_GROUP
from mamori.records import REMEDIATED_TAG, load_record
from tests.incident_helpers import CaseCenter, CloudTrailHistory, SchedulerGaps, unsigned
from tests.root_helpers import OpsCenter

IMAGE = "ami-12c6146b"


@contextmanager
def environment(responder_id: str, topic: str, **extra: str) -> Iterator[None]:
    """The responder's environment as deployed (plus `extra`), for as long as it runs."""
    saved = dict(os.environ)
    # As `sam deploy --config-env enforce` deploys it: the demo shows what enforcement does.
    os.environ.update(responder_environment(responder_id, topic, AutoRemediation="true"))
    os.environ.update(extra)
    if "DEDUPLICATION_TABLE" in os.environ:
        make_deduplication_table()
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextmanager
def stand_ins(*made: Any) -> Iterator[None]:
    """Remove the stand-ins' botocore hooks afterwards (the next act installs its own)."""
    try:
        yield
    finally:
        events = boto3.DEFAULT_SESSION.events if boto3.DEFAULT_SESSION else None
        for stand_in in made:
            for name, handler in getattr(stand_in, "hooks", lambda: [])():
                if events is not None:
                    events.unregister(name, handler)


def inbox(topic: str, name: str) -> tuple[Callable[[], list[dict[str, Any]]], Callable[[], None]]:
    """(messages since, unsubscribe) through an SQS queue of its own on the topic."""
    sns, sqs = boto3.client("sns", region_name=topic.split(":")[3]), boto3.client("sqs", region_name=topic.split(":")[3])
    queue = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    subscription = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)["SubscriptionArn"]

    def received() -> list[dict[str, Any]]:
        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        for message in messages:
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
        return [json.loads(m["Body"]) for m in messages]

    return received, lambda: sns.unsubscribe(SubscriptionArn=subscription)


def show(message: dict[str, Any], lines: int = 0) -> None:
    say(f"Subject: {message['Subject']}", indent=6, hang=9)
    body = str(message["Message"]).splitlines()
    for line in body[:lines] if lines else body:
        say(line, indent=9, hang=2)


# --- Act 1: the abuse report, tracked until answered ---------------------------------------------


def play_abuse_case(demo: Demo) -> None:
    step("AWS's abuse report arrives: mamori-abuse-responder makes it a case")
    topic = boto3.client("sns").create_topic(Name="mamori-notifications")["TopicArn"]
    ops, gaps = CaseCenter(), SchedulerGaps()
    received, unsubscribe = inbox(topic, "abuse-case-inbox")
    boto3.client("scheduler").create_schedule_group(Name=SCHEDULE_GROUP)  # as the stack creates it
    runs = run_automations(demo.sandbox)
    ec2 = demo.ec2
    vpc = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    group = ec2.create_security_group(GroupName="squid-test", Description="a quick test", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=group,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 3128, "ToPort": 3128, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
        ],
    )
    instance = ec2.run_instances(ImageId=IMAGE, MinCount=1, MaxCount=1, SecurityGroupIds=[group])["Instances"][0]["InstanceId"]
    now = automation.utc_now()
    event = proxy_report(instance)
    event["detail"]["startTime"] = now.strftime("%a, %d %b %Y %H:%M:%S GMT")
    event["time"] = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    say(
        f"Another proxy: squid-test {group} opens 3128 (and 22) to the world on {instance}. AWS Trust & Safety sends "
        "the report the incident's inbox never read (an AWS Health Abuse Event, AWS_ABUSE_OPEN_PROXY_REPORT).",
        indent=2,
    )
    with stand_ins(ops, gaps), environment("abuse-events", topic):
        result = invoke_responder(demo.sandbox, "abuse-events", event)
        [item] = ops.open_items()
        say(f"OpsItem {item['OpsItemId']}: {item['Title']}", indent=2)
        for line in item["Description"].splitlines():
            say(line, indent=6, hang=2)
        demo.check(
            "proxy ports open to the internet: tcp 3128 from 0.0.0.0/0; other entries open to the internet: tcp 22"
            in item["Description"]
            and [run.result.outputs.get("Remediate.Status") for run in runs] == ["REMEDIATED"],
            "the case holds what was open (read before the change) and the remediation that closed 3128, with its execution",
        )
        draft = item["OperationalData"][DRAFT_KEY]["Value"]
        say("The reply draft (in the OpsItem and in the message), for a person to check and send:", indent=2)
        for line in draft.splitlines():
            say(line, indent=6, hang=2)
        [message] = received()
        demo.check(unsigned(message["Message"]).endswith(draft), "the topic message carries the same draft")
        scheduler = boto3.client("scheduler")
        [name] = [s["Name"] for s in scheduler.list_schedules(GroupName=SCHEDULE_GROUP)["Schedules"]]
        first = scheduler.get_schedule(Name=name, GroupName=SCHEDULE_GROUP)
        say(f"Reminder schedule {name}: {first['ScheduleExpression']} UTC (50 % of the time to the deadline)", indent=2)
        demo.check(result["schedule"] == name, "one EventBridge Scheduler schedule for the open case")

        step("12 hours later, nobody has answered: Scheduler invokes the responder")
        fired = invoke_at(demo, scheduled_at(first), json.loads(first["Target"]["Input"]))
        [reminder] = received()
        show(reminder, lines=3)
        second = scheduler.get_schedule(Name=name, GroupName=SCHEDULE_GROUP)
        demo.check(
            fired.get("next") == 1 and "12 h 00 min left" in reminder["Subject"],
            f"reminded with the time left; the same schedule moved to 90 %: {second['ScheduleExpression']}",
        )
        ops.resolve(item["OpsItemId"])
        say(f"The team replies to AWS with the draft and resolves {item['OpsItemId']}.", indent=2)
        invoke_at(demo, scheduled_at(second), json.loads(second["Target"]["Input"]))
        demo.check(
            received() == [] and scheduler.list_schedules(GroupName=SCHEDULE_GROUP)["Schedules"] == [],
            "at 90 % the case is resolved: no reminder, the schedule is deleted",
        )
    unsubscribe()
    demo.sandbox.automation_runner = None


def scheduled_at(schedule: dict[str, Any]) -> datetime.datetime:
    """When an at() schedule fires (its expression is in UTC)."""
    text = str(schedule["ScheduleExpression"]).removeprefix("at(").removesuffix(")")
    return datetime.datetime.fromisoformat(text).replace(tzinfo=datetime.UTC)


def invoke_at(demo: Demo, at: datetime.datetime, payload: dict[str, Any]) -> Any:
    original = automation.utc_now
    automation.utc_now = lambda: at  # type: ignore[assignment]  # the clock Scheduler fires at
    try:
        return invoke_responder(demo.sandbox, "abuse-events", payload)
    finally:
        automation.utc_now = original  # type: ignore[assignment]


# --- Act 2: the leaked key and the miner ------------------------------------------------------------


def play_exposed_key(demo: Demo, ops: OpsCenter) -> None:
    step("The key leaks: AWS finds it in a public repository (AWS Health AWS_RISK_CREDENTIALS_EXPOSED)")
    topic = boto3.client("sns").create_topic(Name="mamori-notifications")["TopicArn"]
    trail = CloudTrailHistory()
    received, unsubscribe = inbox(topic, "leaked-key-inbox")
    iam = boto3.client("iam")
    user_id = make_user("deploy-bot", keys=1)
    [key] = key_ids("deploy-bot")
    key_used_ago("deploy-bot", 0, datetime.timedelta(minutes=3), service="ec2")
    now = datetime.datetime.now(datetime.UTC)
    for minutes, name in ((9, "GetCallerIdentity"), (8, "DescribeRegions"), (6, "RunInstances"), (5, "RunInstances")):
        trail.record(REGION, key, name, now - datetime.timedelta(minutes=minutes), source_ip="185.220.101.45")
    say(f"deploy-bot's key {key} was pushed to a public repository; someone already used it.", indent=2)
    with stand_ins(trail), environment("leaked-keys", topic):
        arrived = datetime.datetime.now(datetime.UTC)
        event = exposed(key)
        event["time"] = arrived.strftime("%Y-%m-%dT%H:%M:%SZ")
        event["detail"]["startTime"] = arrived.strftime("%a, %d %b %Y %H:%M:%S GMT")
        event["detail"]["eventDescription"][0]["latestDescription"] = (
            f"The access key {key} was found in a public code repository (illustrative text)."
        )
        started = time.perf_counter()
        result = invoke_responder(demo.sandbox, "leaked-keys", event)
        seconds = time.perf_counter() - started
        status = iam.list_access_keys(UserName="deploy-bot")["AccessKeyMetadata"][0]["Status"]
        record = load_record(demo.ssm, "stale-access-keys", user_id)
        deactivated_at = record.at if record else "(no record)"
        say(
            f"Event handled {arrived:%H:%M:%S.%f}"[:-3] + f" UTC; key {status} (recorded at {deactivated_at}), "
            f"{seconds * 1000:.0f} ms after the event reached the responder.",
            indent=2,
        )
        demo.check(
            status == "Inactive" and result["status"] == "REMEDIATED" and seconds < 1.0,
            "the exposed key is deactivated (never deleted) within the same second, recorded and restorable",
            f"key {status}, {result}, {seconds:.2f} s",
        )
        [item] = [item for item in ops.open_items() if item["dedup"] == f"mamori/leaked-key/{key}"]
        say(f"OpsItem {item['OpsItemId']}: {item['Title']}", indent=2)
        for line in item["OperationalData"]["mamori:key-activity"]["Value"].splitlines():
            say(line, indent=6, hang=2)
        [message] = received()
        show(message, lines=4)
        demo.check(REMEDIATED_TAG in {t["Key"] for t in iam.list_user_tags(UserName="deploy-bot")["Tags"]}, "the user is tagged")
    unsubscribe()


def play_mining_finding(demo: Demo) -> None:
    step("GuardDuty finds a miner in ap-southeast-1 (CryptoCurrency:EC2/BitcoinTool.B!DNS)")
    ec2 = boto3.client("ec2", region_name=MINING_REGION)
    topic = boto3.client("sns", region_name=MINING_REGION).create_topic(Name="mamori-notifications")["TopicArn"]
    received, unsubscribe = inbox(topic, "miner-inbox")
    miner = ec2.run_instances(ImageId=IMAGE, MinCount=1, MaxCount=1, InstanceType="c5.4xlarge")["Instances"][0]["InstanceId"]
    say(f"{miner}, c5.4xlarge, launched with the leaked credentials; mamori-miner-responder runs in every region.", indent=2)
    # As the organization StackSet deploys it in ap-southeast-1, with the records in the home region.
    with environment("guardduty-findings", topic, AWS_REGION=MINING_REGION, HOME_REGION=REGION):
        result = invoke_responder(demo.sandbox, "guardduty-findings", finding(miner), region=MINING_REGION)
    state = ec2.describe_instances(InstanceIds=[miner])["Reservations"][0]["Instances"][0]["State"]["Name"]
    snapshots = ec2.describe_snapshots(Filters=[{"Name": "tag-key", "Values": ["mamori:evidence"]}])["Snapshots"]
    [message] = received()
    show(message, lines=3)
    demo.check(
        result["status"] == "REMEDIATED" and state in ("stopping", "stopped") and len(snapshots) == 1,
        "the miner is stopped (not terminated) and its volume snapshotted first: "
        + (snapshots[0]["SnapshotId"] if snapshots else "no snapshot"),
        f"{result}, {state}, {snapshots}",
    )
    record = load_record(boto3.client("ssm", region_name=REGION), "unapproved-regions", miner)
    demo.check(
        record is not None and record.changed.get("region") == MINING_REGION,
        "recorded in the home region, where mamori-unapproved-regions-restore would start it again",
    )
    # The person keeps the snapshot and terminates the miner (so the next act's region scan does not see it).
    ec2.terminate_instances(InstanceIds=[miner])
    boto3.client("ssm", region_name=REGION).delete_parameter(Name=f"/mamori/unapproved-regions/{miner}")
    say("The team keeps the snapshot as evidence and terminates the miner itself.", indent=2)
    unsubscribe()


def play_leaked_key_and_miner(demo: Demo, ops: OpsCenter) -> None:
    """Act 2's end: ops is the act's OpsCenter stand-in (the first installed answers)."""
    play_exposed_key(demo, ops)
    play_mining_finding(demo)
