"""OpsCenter work items for findings only a person can fix, opened once per finding.

One finding (a rule and a resource) has at most one open OpsItem: before creating one,
look for an open OpsItem carrying the finding's key in its operational data
(`mamori:finding`); the same key is the OpsItem's `/aws/dedup` string, so that two runs
racing each other still open one item (Systems Manager refuses a duplicate of an Open or
InProgress OpsItem with OpsItemAlreadyExistsException). A resolved OpsItem does not count:
if the finding comes back, a new one is opened. Whether its notification was delivered is
recorded on the OpsItem (`mamori:notified`, "false" until the topic took the message): a run
that finds the OpsItem open but the message undelivered sends it again. NotifyOnce runs this as
a remediation on the kernel (mamori.remediation). Remediation scripts inline this module.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.exceptions

from mamori.account_unit import AccountScoped
from mamori.automation import required_input
from mamori.messages import signed
from mamori.remediation import Nothing, Plan, Remediation, Target
from mamori.status import NOTHING_TO_DO, NOTIFIED

FINDING_DATA_KEY = "mamori:finding"
NOTIFIED_DATA_KEY = "mamori:notified"
OPS_ITEM_SOURCE = "mamori"
OPEN_STATUSES = frozenset({"Open", "InProgress"})
DESCRIPTION_LIMIT = 2048
TITLE_LIMIT = 1024
TOPIC_ARN_PATTERN = r"arn:aws[a-z0-9-]*:sns:[a-z0-9-]+:\d{12}:[\w-]{1,256}"


def finding_key(rule_id: str, resource_id: str) -> str:
    return f"mamori/{rule_id}/{resource_id}"


@dataclass(frozen=True)
class OpenOpsItem:
    ops_item_id: str
    notified: bool  # whether the topic took its notification (an OpsItem without the record: yes)


def find_open_ops_item(ssm: Any, key: str) -> OpenOpsItem | None:
    """The Open or InProgress OpsItem for this finding, or None."""
    wanted = json.dumps({"key": FINDING_DATA_KEY, "value": key}, separators=(",", ":"))
    for page in ssm.get_paginator("describe_ops_items").paginate(
        OpsItemFilters=[{"Key": "OperationalData", "Values": [wanted], "Operator": "Equal"}]
    ):
        for summary in page.get("OpsItemSummaries", []):
            if summary.get("Status") in OPEN_STATUSES:
                notified = (summary.get("OperationalData") or {}).get(NOTIFIED_DATA_KEY, {}).get("Value", "true")
                return OpenOpsItem(str(summary["OpsItemId"]), notified != "false")
    return None


def record_notified(ssm: Any, ops_item_id: str) -> None:
    """Record on the OpsItem that its notification was delivered."""
    ssm.update_ops_item(OpsItemId=ops_item_id, OperationalData={NOTIFIED_DATA_KEY: {"Type": "String", "Value": "true"}})


def open_ops_item(
    ssm: Any,
    key: str,
    title: str,
    description: str,
    extra_data: Mapping[str, str] | None = None,
    severity: str = "1",
    priority: int = 1,
) -> tuple[str, bool]:
    """(OpsItem id, whether this call created it). Creates an OpsItem for the finding unless
    Systems Manager already holds an open one with the same dedup string."""
    data = {
        "/aws/dedup": {"Type": "SearchableString", "Value": json.dumps({"dedupString": key})},
        FINDING_DATA_KEY: {"Type": "SearchableString", "Value": key},
        NOTIFIED_DATA_KEY: {"Type": "String", "Value": "false"},  # until the topic takes the message
    }
    for name, value in (extra_data or {}).items():
        data[name] = {"Type": "String", "Value": value}
    try:
        created = ssm.create_ops_item(
            Title=title[:TITLE_LIMIT],
            Description=description[:DESCRIPTION_LIMIT],
            Source=OPS_ITEM_SOURCE,
            Category="Security",
            Severity=severity,
            Priority=priority,
            OperationalData=data,
        )
    except botocore.exceptions.ClientError as error:
        response: Mapping[str, Any] = error.response  # the modelled error's OpsItemId sits beside "Error"
        if response["Error"]["Code"] == "OpsItemAlreadyExistsException" and response.get("OpsItemId"):
            return str(response["OpsItemId"]), False
        raise
    return str(created["OpsItemId"]), True


@dataclass(frozen=True)
class Notified:
    """What open_and_notify did: NOTIFIED (opened and told the topic) or NOTHING_TO_DO (another
    run had opened the finding's OpsItem first), the Message and the OpsItem's id."""

    status: str
    message: str
    ops_item_id: str


def open_and_notify(
    ssm: Any,
    sns: Any,
    topic_arn: str,
    key: str,
    title: str,
    description: str,
    extra_data: Mapping[str, str] | None = None,
) -> Notified:
    """Open the finding's OpsItem and notify the topic, once: an OpsItem Systems Manager
    deduplicates (another run opened it after this one looked) means a person was told
    already, so nothing is sent again.

    The OpsItem comes first, so the notification can name it; if publishing then fails, the
    automation fails loudly and the OpsItem records the message as not delivered (the next run,
    Config's retry or the next evaluation, sends it again)."""
    ops_item_id, created = open_ops_item(ssm, key, title, description, extra_data)
    if not created:
        message = f"OpsItem {ops_item_id} is already open for {key} (Systems Manager deduplicated it); notified nothing."
        return Notified(NOTHING_TO_DO, message, ops_item_id)
    notify(ssm, sns, topic_arn, ops_item_id, key, title, description, f"Opened OpsItem {ops_item_id} for {key}")
    return Notified(NOTIFIED, f"Opened OpsItem {ops_item_id} for {key} and notified {topic_arn}.", ops_item_id)


def notify(ssm: Any, sns: Any, topic_arn: str, ops_item_id: str, key: str, title: str, description: str, done: str) -> None:
    """Publish the OpsItem's notification and record that it was delivered; a publish that
    fails raises (the OpsItem keeps mamori:notified "false", so the next run sends it again)."""
    subject = f"[mamori] ACTION NEEDED: {title}"
    if len(subject) > 99 or not subject.isascii():
        subject = subject.encode("ascii", "replace").decode("ascii")[:96] + "..."
    try:
        sns.publish(TopicArn=topic_arn, Subject=subject, Message=signed(f"{description}\n\nOpsItem: {ops_item_id}", topic_arn))
    except botocore.exceptions.ClientError as error:
        raise RuntimeError(
            f"{done}, but could not notify {topic_arn}: {error}. The next run sends the notification again."
        ) from error
    record_notified(ssm, ops_item_id)


@dataclass(frozen=True)
class Notice:
    """What a person must be told about a finding: the OpsItem's title and description, its
    extra operational data, and outputs the run returns (in dry runs and second runs too)."""

    title: str
    description: str
    outputs: dict[str, Any] = field(default_factory=dict)
    extra_data: dict[str, str] = field(default_factory=dict)


class NotifyOnce(AccountScoped, Remediation[Target]):
    """A remediation that can only tell a person (root credentials): one OpsItem per finding
    and one notification, NOTIFIED; a second run while the OpsItem is open is NOTHING_TO_DO.
    Nothing is changed, so there is no record, no tag and no restore document. A unit supplies
    find() (the rule's decision on live state) and notice()."""

    keeps_record = False
    text_outputs = ("OpsItemId",)

    def read_parameters(self) -> None:
        self.topic_arn = required_input(self.events, "TopicArn", TOPIC_ARN_PATTERN)
        self.notified: Notified | None = None
        self.undelivered: str | None = None  # an open OpsItem whose notification did not go out

    @property
    def restore_document(self) -> str | None:
        return None

    @property
    def finding_key(self) -> str:
        return finding_key(self.remediation_id, self.resource_id)

    def notice(self, target: Target) -> Notice | Nothing:
        """What to tell a person about the live finding, or why there is nothing to tell."""
        raise NotImplementedError

    def plan(self, target: Target) -> Plan | Nothing:
        notice = self.notice(target)
        if isinstance(notice, Nothing):
            return notice
        self.outputs.update(notice.outputs)
        existing = find_open_ops_item(self.ssm, self.finding_key)
        if existing is not None:
            self.outputs["OpsItemId"] = existing.ops_item_id
            if existing.notified:
                return Nothing(
                    f"OpsItem {existing.ops_item_id} is already open for {self.finding_key}; opened and notified nothing new."
                )
            self.undelivered = existing.ops_item_id
            return Plan(
                [f"notify {self.topic_arn} of OpsItem {existing.ops_item_id} again (its notification was not delivered)"],
                data=notice,
            )
        return Plan([f"open an OpsItem for {self.finding_key} and notify {self.topic_arn}: {notice.title}"], data=notice)

    def dry_run_message(self, target: Target, plan: Plan) -> str:
        return f"Would {plan.changes[0]}. Changed nothing."

    def apply(self, target: Target, plan: Plan) -> None:
        notice: Notice = plan.data
        if self.undelivered is not None:
            ops_item_id = self.undelivered
            notify(
                self.ssm,
                boto3.client("sns"),
                self.topic_arn,
                ops_item_id,
                self.finding_key,
                notice.title,
                notice.description,
                f"OpsItem {ops_item_id} is open for {self.finding_key}",
            )
            message = f"OpsItem {ops_item_id} was open for {self.finding_key}; notified {self.topic_arn}, which it had not been."
            self.notified = Notified(NOTIFIED, message, ops_item_id)
            self.outputs["OpsItemId"] = ops_item_id
            return
        self.notified = open_and_notify(
            self.ssm,
            boto3.client("sns"),
            self.topic_arn,
            self.finding_key,
            notice.title,
            notice.description,
            notice.extra_data,
        )
        self.outputs["OpsItemId"] = self.notified.ops_item_id

    def still_wrong(self, target: Target, plan: Plan) -> str | None:
        # The finding stays until a person acts: telling them is all this run can do.
        return None

    def done_message(self, target: Target, plan: Plan) -> str:
        return self.notified.message if self.notified else ""

    def done_status(self, target: Target, plan: Plan) -> str:
        # Told a person (NOTIFIED), or found that another run had just done so (NOTHING_TO_DO).
        return self.notified.status if self.notified is not None else NOTIFIED
