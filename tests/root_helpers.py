"""Test helpers of the root-credential rules: what moto 5.2.5 lacks for them, stood in at
the thinnest layer, here and not in harness/ (only these tests need it).

* OpsCenter: moto has no OpsItems. `OpsCenter` answers ssm:CreateOpsItem, ssm:UpdateOpsItem
  (operational data) and ssm:DescribeOpsItems in a botocore before-call hook registered after the sandbox's, so the
  sandbox still counts every call and refuses ungranted ones first; it keeps the
  documented `/aws/dedup` behaviour (a duplicate of an Open or InProgress OpsItem is refused
  with OpsItemAlreadyExistsException naming it).
* A virtual MFA device assigned to root: no API can assign one (only the root user can),
  so `assign_root_virtual_mfa` creates the device through moto, marks it assigned in moto's
  backend, and an after-call hook adds the `User` (the root ARN) that IAM reports for it.
* The notification topic, read back through an SQS subscription as tests/test_notifications.py does.
"""

import datetime
import itertools
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.exceptions
from moto.iam.models import iam_backends

from harness.aws import ACCOUNT

ROOT_ARN = f"arn:aws:iam::{ACCOUNT}:root"
_RESERVED_PREFIXES = ("amazon", "aws", "amzn", "ssm", "/amazon", "/aws", "/amzn", "/ssm")
_DOCUMENTED_AWS_KEYS = ("/aws/dedup", "/aws/resources", "/aws/automations")


@dataclass
class _Response:
    status_code: int = 200
    headers: dict[str, str] = field(default_factory=dict)


def _error(code: str, message: str, operation: str, **extra: str) -> botocore.exceptions.ClientError:
    response: dict[str, Any] = {"Error": {"Code": code, "Message": message}, **extra}
    return botocore.exceptions.ClientError(response, operation)  # type: ignore[arg-type]


class OpsCenter:
    """What Systems Manager OpsCenter would hold: OpsItems by id."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(0xA11CE)
        assert boto3.DEFAULT_SESSION is not None, "create the Sandbox first"
        boto3.DEFAULT_SESSION.events.register_last("before-call", self._before_call)

    def resolve(self, ops_item_id: str) -> None:
        """What a person does in the console once the finding is fixed."""
        self.items[ops_item_id]["Status"] = "Resolved"

    def open_items(self) -> list[dict[str, Any]]:
        return [item for item in self.items.values() if item["Status"] in ("Open", "InProgress")]

    def _before_call(self, model: Any, params: Mapping[str, Any], **_: Any) -> Any:
        if model.service_model.signing_name != "ssm" or model.name not in ("CreateOpsItem", "UpdateOpsItem", "DescribeOpsItems"):
            return None
        request = json.loads(params.get("body") or b"{}")
        if model.name == "CreateOpsItem":
            return _Response(), self._create(request)
        if model.name == "UpdateOpsItem":
            item = self.items.get(request["OpsItemId"])
            if item is None:
                raise _error("OpsItemNotFoundException", "no such OpsItem", "UpdateOpsItem")
            item["OperationalData"] = {**item["OperationalData"], **(request.get("OperationalData") or {})}
            return _Response(), {}
        return _Response(), self._describe(request)

    def _create(self, request: Mapping[str, Any]) -> dict[str, Any]:
        for name, limit in (("Title", 1024), ("Description", 2048), ("Source", 128)):
            value = request.get(name)
            if not isinstance(value, str) or not value.strip() or len(value) > limit:
                raise _error("ValidationException", f"{name} must be 1-{limit} characters", "CreateOpsItem")
        if str(request.get("Severity", "1")) not in ("1", "2", "3", "4") or not 1 <= int(request.get("Priority", 1)) <= 5:
            raise _error("OpsItemInvalidParameterException", "Severity 1-4, Priority 1-5", "CreateOpsItem")
        data = request.get("OperationalData") or {}
        for key in data:
            if key.lower().startswith(_RESERVED_PREFIXES) and key not in _DOCUMENTED_AWS_KEYS:
                raise _error("OpsItemInvalidParameterException", f"reserved operational data key {key}", "CreateOpsItem")
        dedup = json.loads(data["/aws/dedup"]["Value"])["dedupString"] if "/aws/dedup" in data else None
        for item in self.open_items():
            if dedup is not None and item["dedup"] == dedup:
                raise _error("OpsItemAlreadyExistsException", "duplicate", "CreateOpsItem", OpsItemId=item["OpsItemId"])
        ops_item_id = f"oi-{next(self._ids):012x}"
        self.items[ops_item_id] = {
            "OpsItemId": ops_item_id,
            "Title": request["Title"],
            "Description": request["Description"],
            "Source": request["Source"],
            "Category": request.get("Category"),
            "Severity": request.get("Severity"),
            "Priority": request.get("Priority"),
            "Status": "Open",
            "OperationalData": data,
            "CreatedTime": datetime.datetime.now(datetime.UTC),
            "dedup": dedup,
        }
        return {"OpsItemId": ops_item_id, "OpsItemArn": f"arn:aws:ssm:us-east-1:{ACCOUNT}:opsitem/{ops_item_id}"}

    def _describe(self, request: Mapping[str, Any]) -> dict[str, Any]:
        matches = list(self.items.values())
        for item_filter in request.get("OpsItemFilters") or []:
            key, operator, values = item_filter["Key"], item_filter["Operator"], item_filter["Values"]
            if key == "OperationalData" and operator == "Equal":
                wanted = [json.loads(value) for value in values]
                matches = [
                    item
                    for item in matches
                    if any(item["OperationalData"].get(w["key"], {}).get("Value") == w["value"] for w in wanted)
                ]
            elif key in ("Status", "Title", "Source") and operator == "Equal":
                matches = [item for item in matches if item[key] in values]
            else:
                raise NotImplementedError(f"this stand-in does not filter OpsItems by {key} {operator}")
        summaries = [{k: v for k, v in item.items() if k not in ("Description", "dedup")} for item in matches]
        return {"OpsItemSummaries": summaries}


def assign_root_virtual_mfa(name: str = "root-account-mfa-device", report_user: bool = True) -> str:
    """A virtual MFA device assigned to root, as IAM lists it; returns its serial number.
    report_user=False leaves out the User (the serial number alone then tells)."""
    serial = str(boto3.client("iam").create_virtual_mfa_device(VirtualMFADeviceName=name)["VirtualMFADevice"]["SerialNumber"])
    iam_backends[ACCOUNT]["global"].virtual_mfa_devices[serial].enable_date = datetime.datetime.now(datetime.UTC)
    if report_user:

        def add_root_user(model: Any, parsed: dict[str, Any], **_: Any) -> None:
            for device in parsed.get("VirtualMFADevices", []):
                if device["SerialNumber"] == serial:
                    device["User"] = {
                        "Path": "/",
                        "UserName": "",
                        "UserId": ACCOUNT,
                        "Arn": ROOT_ARN,
                        "CreateDate": datetime.datetime(2018, 1, 15, tzinfo=datetime.UTC),
                    }

        assert boto3.DEFAULT_SESSION is not None
        boto3.DEFAULT_SESSION.events.register("after-call.iam.ListVirtualMFADevices", add_root_user)
    return serial


def assign_user_virtual_mfa(user_name: str) -> str:
    """A virtual MFA device of an IAM user (not root), through moto's own API."""
    iam = boto3.client("iam")
    iam.create_user(UserName=user_name)
    serial = str(iam.create_virtual_mfa_device(VirtualMFADeviceName=user_name)["VirtualMFADevice"]["SerialNumber"])
    iam.enable_mfa_device(UserName=user_name, SerialNumber=serial, AuthenticationCode1="123456", AuthenticationCode2="654321")
    return serial


def subscribe_inbox(region: str | None = None, name: str = "root-inbox") -> tuple[str, Callable[[], list[dict[str, Any]]]]:
    """(the mamori-notifications topic ARN of `region` (the default one unless given), a function
    returning the messages it received since): each region's stack has its own topic."""
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
