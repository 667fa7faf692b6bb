"""Test helpers of the incident responders: what moto 5.2.5 lacks for them, stood in at the
thinnest layer, each a botocore before-call hook registered after the sandbox's (so the sandbox
still counts every call and refuses ungranted ones first).

* CloudTrail event history: moto has no LookupEvents. `CloudTrailHistory` answers it from
  events a test records per region, as CloudTrail does: filtered by the one lookup attribute
  (AccessKeyId here), StartTime and EndTime, newest first, MaxResults 1-50 with a NextToken
  when more are left (CloudTrail API Reference, LookupEvents). Each event's CloudTrailEvent is the
  JSON record CloudTrail keeps (eventName, awsRegion, sourceIPAddress, userIdentity.accessKeyId,
  errorCode on a refused call).
* OpsCenter: tests/root_helpers.OpsCenter (CreateOpsItem with /aws/dedup, DescribeOpsItems), and
  `CaseCenter`, which adds GetOpsItem for the abuse cases' reminders.
* EventBridge Scheduler needs none: moto keeps schedules (create, get, update, delete); it fires
  none, so a test invokes the target with the schedule's Input at the schedule's time, as
  Scheduler would.
"""

import datetime
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.exceptions

from harness.aws import ACCOUNT
from tests.root_helpers import OpsCenter

MAX_RESULTS = 50


@dataclass
class _Response:
    status_code: int = 200
    headers: dict[str, str] = field(default_factory=dict)


class CloudTrailHistory:
    """What CloudTrail's event history would hold, per region."""

    def __init__(self) -> None:
        self.events: dict[str, list[dict[str, Any]]] = {}
        assert boto3.DEFAULT_SESSION is not None, "create the Sandbox first"
        # On "before-call" itself, after the sandbox: a handler of the more specific event name
        # would be asked first (botocore's emitter), and the sandbox would not count the call.
        boto3.DEFAULT_SESSION.events.register_last("before-call", self._before_call)

    def hooks(self) -> list[tuple[str, Any]]:
        """The botocore hooks it installed (the demo removes them when its part ends)."""
        return [("before-call", self._before_call)]

    def record(
        self,
        region: str,
        key_id: str,
        name: str,
        at: datetime.datetime,
        source_ip: str = "198.51.100.23",
        error: str | None = None,
        service: str = "ec2.amazonaws.com",
    ) -> None:
        record = {
            "eventVersion": "1.10",
            "userIdentity": {"type": "IAMUser", "accountId": ACCOUNT, "accessKeyId": key_id},
            "eventTime": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "eventSource": service,
            "eventName": name,
            "awsRegion": region,
            "sourceIPAddress": source_ip,
            "recipientAccountId": ACCOUNT,
        }
        if error:
            record["errorCode"] = error
        self.events.setdefault(region, []).append(
            {
                "EventId": str(uuid.uuid4()),
                "EventName": name,
                "ReadOnly": "false",
                "AccessKeyId": key_id,
                "EventTime": at,
                "EventSource": service,
                "Username": "",
                "Resources": [],
                "CloudTrailEvent": json.dumps(record),
            }
        )

    def _before_call(self, model: Any, params: Mapping[str, Any], context: Mapping[str, Any], **_: Any) -> Any:
        if model.service_model.signing_name != "cloudtrail" or model.name != "LookupEvents":
            return None
        request = json.loads(params.get("body") or b"{}")
        maximum = int(request.get("MaxResults", MAX_RESULTS))
        if not 1 <= maximum <= MAX_RESULTS:
            raise botocore.exceptions.ClientError(
                {"Error": {"Code": "InvalidMaxResultsException", "Message": "MaxResults must be 1-50"}}, "LookupEvents"
            )
        attributes = request.get("LookupAttributes") or []
        if len(attributes) > 1:
            raise botocore.exceptions.ClientError(
                {"Error": {"Code": "InvalidLookupAttributesException", "Message": "one attribute"}}, "LookupEvents"
            )
        start = _when(request.get("StartTime"), datetime.datetime.min.replace(tzinfo=datetime.UTC))
        end = _when(request.get("EndTime"), datetime.datetime.max.replace(tzinfo=datetime.UTC))
        found = [
            event
            for event in self.events.get(str(context.get("client_region")), [])
            if start <= event["EventTime"] <= end
            and all(event.get(item["AttributeKey"]) == item["AttributeValue"] for item in attributes)
        ]
        found.sort(key=lambda event: event["EventTime"], reverse=True)
        offset = int(request.get("NextToken") or 0)
        answer: dict[str, Any] = {"Events": found[offset : offset + maximum]}
        if offset + maximum < len(found):
            answer["NextToken"] = str(offset + maximum)
        return _Response(), answer


def _when(value: Any, default: datetime.datetime) -> datetime.datetime:
    """A request timestamp as botocore serializes it for CloudTrail's JSON protocol (epoch seconds)."""
    if value is None:
        return default
    return datetime.datetime.fromtimestamp(float(value), datetime.UTC)


class CaseCenter(OpsCenter):
    """tests/root_helpers.OpsCenter, and GetOpsItem (what a reminder reads), as OpsCenter answers it:
    the OpsItem with its Status and OperationalData; OpsItemNotFoundException for an unknown id."""

    def hooks(self) -> list[tuple[str, Any]]:
        return [("before-call", self._before_call)]

    def _before_call(self, model: Any, params: Mapping[str, Any], **kwargs: Any) -> Any:
        if model.service_model.signing_name == "ssm" and model.name == "GetOpsItem":
            request = json.loads(params.get("body") or b"{}")
            item = self.items.get(str(request.get("OpsItemId")))
            if item is None:
                raise botocore.exceptions.ClientError(
                    {"Error": {"Code": "OpsItemNotFoundException", "Message": "not found"}}, "GetOpsItem"
                )
            return _Response(), {"OpsItem": {k: v for k, v in item.items() if k != "dedup"}}
        return super()._before_call(model, params, **kwargs)


class SchedulerGaps:
    """moto keeps EventBridge Scheduler's schedules, but its UpdateSchedule drops
    ActionAfterCompletion (the real API takes it: botocore's scheduler model). This sets it on
    moto's schedule after moto has updated the rest."""

    def __init__(self) -> None:
        self._pending: list[tuple[str, str, str]] = []
        assert boto3.DEFAULT_SESSION is not None, "create the Sandbox first"
        boto3.DEFAULT_SESSION.events.register_last("before-call", self._before_call)
        boto3.DEFAULT_SESSION.events.register("after-call.scheduler.UpdateSchedule", self._after_call)

    def hooks(self) -> list[tuple[str, Any]]:
        return [("before-call", self._before_call), ("after-call.scheduler.UpdateSchedule", self._after_call)]

    def _before_call(self, model: Any, params: Mapping[str, Any], **_: Any) -> None:
        if model.service_model.signing_name == "scheduler" and model.name == "UpdateSchedule":
            request = json.loads(params.get("body") or b"{}")
            name = str(params.get("url_path", "")).split("?")[0].rsplit("/", 1)[-1]
            self._pending.append(
                (str(request.get("GroupName", "default")), name, str(request.get("ActionAfterCompletion", "NONE")))
            )

    def _after_call(self, http_response: Any, **_: Any) -> None:
        from moto.scheduler.models import scheduler_backends

        if not self._pending:
            return
        group, name, action = self._pending.pop(0)
        if getattr(http_response, "status_code", 200) < 300:
            for backend in scheduler_backends[ACCOUNT].values():
                found = backend.schedule_groups.get(group)
                if found is not None and name in found.schedules:
                    found.schedules[name].action_after_completion = action


def regional_inbox(region: str, name: str = "inbox") -> tuple[str, Any]:
    """(the mamori-notifications topic of `region`, a function returning the messages it got since):
    each region's stack has its own topic, and a responder there publishes to it."""
    sns, sqs = boto3.client("sns", region_name=region), boto3.client("sqs", region_name=region)
    topic = str(sns.create_topic(Name="mamori-notifications")["TopicArn"])
    queue = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)

    def received() -> list[dict[str, Any]]:
        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        for message in messages:
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
        return [json.loads(m["Body"]) for m in messages]

    return topic, received


def unsigned(message: str) -> str:
    """A published message without mamori.messages' authenticity paragraph, which every one ends with."""
    body, separator, _ = message.rpartition("\n\n--\n")
    assert separator, "the message does not end with mamori's authenticity paragraph"
    return body
