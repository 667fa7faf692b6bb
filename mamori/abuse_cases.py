"""An AWS abuse report tracked as a case until someone answers it: one OpsItem per report (its
event ARN), what mamori found (read-only) and did, the deadline, a reply draft, and reminders at
50 % and 90 % of the time to the deadline until the OpsItem is resolved.

The open-proxy incident: four abuse mails in four days, none answered, until AWS blocked EC2 in
the region. mamori-abuse-responder runs this for every abuse report about its own account:

* the case: OpsCenter OpsItem, deduplicated by the report's event ARN (`/aws/dedup`: a report
  delivered twice, or updated, is one case); the description says what was reported, found,
  done and by when; the reply draft is in its operational data and in the topic message;
* the reminders: one EventBridge Scheduler schedule per open case (group mamori-abuse-cases),
  an `at()` schedule that invokes the responder at 50 % of the time to the deadline; that
  invocation reads the OpsItem, tells the topic how much time is left and moves the schedule to
  90 % (then Scheduler deletes it after it runs). Once the OpsItem is resolved (or closed), the
  next invocation deletes the schedule and tells no one. mamori learns of the resolution only
  then: OpsCenter sends no event for it without a CloudTrail trail.

Everything found is read-only: the reported instances' (or addresses') security groups, which
of their inbound entries mamori-open-proxy-ports flags (the rule's own decision) and which
other ports they open to the world.
"""

import datetime
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import botocore.exceptions

from mamori.abuse_events import REPLY_HOURS, AbuseReport, entities_text, format_time, reported_text
from mamori.aws_api import error_text
from mamori.exposure import (
    Entry,
    Trusted,
    describe_entry,
    describe_exposure,
    entries_from_rules,
    find_exposures,
    internet_range,
)
from mamori.ops_items import finding_key, open_ops_item
from mamori.records import REMEDIATED_TAG

CASE = "abuse-case"
SCHEDULE_GROUP = "mamori-abuse-cases"
REMINDER_KEY = "mamori-abuse-reminder"  # what a reminder invocation carries (the schedule's Input)
REMINDER_AT = (0.5, 0.9)  # of the time from the report to the deadline
OPEN = ("Open", "InProgress")
DRAFT_KEY = "mamori:reply-draft"
DESCRIPTION_LIMIT = 2048  # CreateOpsItem's Description
FILTER_VALUES = 200  # EC2 accepts at most 200 values per filter
OPS_ITEM_ID = re.compile(r"^oi-[0-9a-f]{12}$")
SCHEDULE_NAME = re.compile(r"^mamori-abuse-[0-9a-f]{24}$")
# "reply within 48 hours", "respond within 2 days": the notice's own deadline, when it gives one.
WITHIN = re.compile(r"within\s+(\d{1,3})\s*(hours?|h\b|business\s+days?|days?)", re.IGNORECASE)


# --- the deadline ---------------------------------------------------------------------------


def reply_hours(report: AbuseReport) -> int:
    """24 hours unless the notice says otherwise ("within 48 hours", "within 2 days")."""
    for text in report.descriptions:
        match = WITHIN.search(text)
        if match:
            amount = int(match.group(1))
            hours = amount if match.group(2).lower().startswith("h") else amount * 24
            if 1 <= hours <= 24 * 30:
                return hours
    return REPLY_HOURS


def deadline(report: AbuseReport, now: datetime.datetime) -> tuple[datetime.datetime, datetime.datetime]:
    """(when the clock started, the deadline): from the report's time, else from now."""
    start = report.received or now
    try:
        return start, start + datetime.timedelta(hours=reply_hours(report))
    except OverflowError:
        return now, now + datetime.timedelta(hours=REPLY_HOURS)


def hours_left(due: datetime.datetime, now: datetime.datetime) -> str:
    seconds = (due - now).total_seconds()
    if seconds <= 0:
        return f"the deadline passed {int(-seconds // 3600)} h ago: reply now"
    hours, minutes = int(seconds // 3600), int(seconds % 3600 // 60)
    return f"{hours} h {minutes:02d} min left"


# --- what mamori found (read-only) -------------------------------------------------------------


@dataclass
class GroupView:
    group_id: str
    via: list[str]  # the reported entities that lead to it
    proxy: list[str] = field(default_factory=list)  # what mamori-open-proxy-ports flags
    world: list[str] = field(default_factory=list)  # other entries open to the internet


def read_groups(
    ec2: Any, groups: Mapping[str, Sequence[str]], proxy_ports: Sequence[int], trusted: Trusted
) -> tuple[list[GroupView], str]:
    """Each group's inbound entries (DescribeSecurityGroupRules, one call per 200 groups), judged
    as mamori-open-proxy-ports judges them. Customer prefix lists are not resolved here (the rule
    and its remediation do): an entry from one is listed as it is. A failed read is said."""
    views = {group: GroupView(group, list(via)) for group, via in groups.items()}
    ids = list(views)
    rules: list[dict[str, Any]] = []
    try:
        paginator = ec2.get_paginator("describe_security_group_rules")
        for start in range(0, len(ids), FILTER_VALUES):
            for page in paginator.paginate(Filters=[{"Name": "group-id", "Values": ids[start : start + FILTER_VALUES]}]):
                rules.extend(page.get("SecurityGroupRules", []))
    except botocore.exceptions.ClientError as error:
        return list(views.values()), f"DescribeSecurityGroupRules failed: {error_text(error)}"
    by_group: dict[str, list[Entry]] = {}
    for rule in rules:
        by_group.setdefault(str(rule.get("GroupId")), []).extend(entries_from_rules([rule]))
    for group, view in views.items():
        entries = by_group.get(group, [])
        exposures = find_exposures(entries, proxy_ports, trusted)
        flagged = {exposure.entry for exposure in exposures}
        view.proxy = [describe_exposure(exposure) for exposure in exposures]
        view.world = [
            describe_entry(entry)
            for entry in entries
            if entry not in flagged and internet_range(entry.source, trusted, {}) is not None
        ]
    return list(views.values()), ""


def contained_before(instances: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """Reported instances mamori already changed (a miner stopped, say): their mamori:remediated
    tag, which says when, by what and how to undo. No call: DescribeInstances returned the tags."""
    found = {}
    for instance_id, instance in instances.items():
        for tag in instance.get("Tags") or []:
            if tag.get("Key") == REMEDIATED_TAG:
                state = (instance.get("State") or {}).get("Name", "unknown")
                found[instance_id] = f"{state}; {tag.get('Value', '')}"
    return found


# --- the case -------------------------------------------------------------------------------


@dataclass
class Case:
    """What one abuse report became: found, done, by when, and the case's ids."""

    report: AbuseReport
    account: str
    region: str
    now: datetime.datetime
    groups: list[GroupView] = field(default_factory=list)
    not_looked_at: list[tuple[str, str]] = field(default_factory=list)  # (entity, why)
    contained: dict[str, str] = field(default_factory=dict)  # instance -> its mamori:remediated tag
    started: dict[str, str] = field(default_factory=dict)  # group -> execution id
    failed: dict[str, str] = field(default_factory=dict)  # group -> error
    document: str = "mamori-open-proxy-ports"
    acting: bool = True  # whether this report's kind is one mamori acts on (an open proxy)
    errors: list[str] = field(default_factory=list)
    ops_item: str = ""
    opened: bool = False  # False: the case existed already (the same report again)
    schedule: str = ""

    @property
    def clock(self) -> tuple[datetime.datetime, datetime.datetime]:
        return deadline(self.report, self.now)

    @property
    def key(self) -> str:
        """One case per report: its event ARN (hashed: the dedup string stays short)."""
        identity = self.report.event_arn or f"{self.report.code_text}/{self.report.received}"
        return finding_key(CASE, hashlib.sha256(identity.encode()).hexdigest()[:24])

    @property
    def schedule_name(self) -> str:
        return "mamori-abuse-" + self.key.rsplit("/", 1)[1]

    def found_lines(self) -> list[str]:
        lines = []
        for view in self.groups:
            head = f"- {view.group_id} (of {', '.join(view.via)}): "
            proxy = "proxy ports open to the internet: " + "; ".join(view.proxy) if view.proxy else "no proxy port open"
            world = "; other entries open to the internet: " + "; ".join(view.world) if view.world else ""
            lines.append(head + proxy + world)
        lines += [f"- {instance}: already changed by mamori ({tag})" for instance, tag in self.contained.items()]
        lines += [f"- {entity}: not looked at: {why}" for entity, why in self.not_looked_at]
        return lines or ["- nothing: the report names no instance or address mamori can find here"]

    def done_lines(self) -> list[str]:
        at = format_time(self.now)
        lines = [f"- {at}: started {self.document} on {group}: execution {run}" for group, run in self.started.items()]
        lines += [f"- {at}: FAILED to start {self.document} on {group}: {why}" for group, why in self.failed.items()]
        if not self.acting:
            lines.append(f"- nothing changed: mamori acts by itself only on open-proxy reports ({self.report.code_text})")
        elif not self.started and not self.failed:
            lines.append("- nothing changed: no reported group to remediate")
        return lines

    def description(self) -> str:
        start, due = self.clock
        text = "\n".join(
            [
                f"AWS reported abuse from account {self.account} ({self.report.code_text}), received {format_time(start)}.",
                f"Reported: {reported_text(self.report)}",
                f"Affected: {entities_text(self.report)}",
                f"Reply by: {format_time(due)} ({hours_left(due, self.now)}).",
                f"What mamori found ({self.region}, read-only):",
                *self.found_lines(),
                "What mamori did:",
                *self.done_lines(),
                f"Reply draft: operational data {DRAFT_KEY} (and the topic message). Resolve this OpsItem once replied.",
            ]
        )
        return text if len(text) <= DESCRIPTION_LIMIT else text[: DESCRIPTION_LIMIT - 1] + "…"

    def draft(self) -> str:
        """A reply for a person to check, complete and send; it answers AWS's usual questions."""
        proxies = [f"{view.group_id} allowed {entry}" for view in self.groups for entry in view.proxy]
        world = [f"{view.group_id} also allows {entry}" for view in self.groups for entry in view.world]
        cause = (
            "Cause: " + "; ".join(proxies) + ", which made the instance an open proxy for anyone on the internet."
            if proxies
            else "Cause: [what you found: mamori found no proxy port open to the internet on the reported resources]"
        )
        if self.started:
            runs = ", ".join(f"{group} (execution {run})" for group, run in self.started.items())
            action = (
                f"Corrective action: at {format_time(self.now)} we revoked the inbound rules that exposed proxy ports "
                f"to the internet on {runs}."
            )
            check = (
                "Verification: each execution re-read the security group after the change and failed unless no proxy port "
                "was left open to the internet; [add: its status, REMEDIATED, and your own test from outside]."
            )
        else:
            action = "Corrective action: [what you did, and when]"
            check = "Verification: [how you checked that it stopped]"
        contained = [f"{instance} ({tag})" for instance, tag in self.contained.items()]
        lines = [
            f"Subject: Re: {self.report.code_text} - account {self.account}",
            "",
            "Hello AWS Trust & Safety,",
            "",
            f"Thank you for your report about {entities_text(self.report)} in account {self.account}.",
            "What ran: [which workload ran on the reported resources, and who owns it]",
            cause,
            action,
            *([f"Already contained: {'; '.join(contained)}."] if contained else []),
            check,
            *([f"Other exposure we are closing: {'; '.join(world)}."] if world else []),
            "Prevention: AWS Config evaluates every security group change in this account (rule mamori-open-proxy-ports) "
            "and removes proxy ports opened to the internet automatically; abuse notices now reach the security team at "
            "once and are tracked until answered.",
            "",
            "Please let us know if you see any further activity.",
            "[name, role, contact]",
        ]
        return "\n".join(lines)

    def title(self) -> str:
        _, due = self.clock
        return f"AWS abuse report {self.report.code_text}: reply by {format_time(due)}"


def open_case(ssm: Any, case: Case) -> None:
    """The OpsItem (or the one already open for this report). A failure is kept in case.errors."""
    data = {"mamori:event": case.report.event_arn or "(no event ARN)", DRAFT_KEY: case.draft()}
    try:
        case.ops_item, case.opened = open_ops_item(ssm, case.key, case.title(), case.description(), data)
    except botocore.exceptions.ClientError as error:
        case.errors.append(f"CreateOpsItem failed: {error_text(error)}")


# --- reminders --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reminder:
    """What a reminder invocation carries (the schedule's Input)."""

    ops_item: str
    schedule: str
    start: datetime.datetime
    due: datetime.datetime
    step: int  # index into REMINDER_AT
    code: str

    def at(self) -> datetime.datetime:
        return self.start + (self.due - self.start) * REMINDER_AT[self.step]

    def payload(self) -> str:
        return json.dumps(
            {
                REMINDER_KEY: {
                    "opsItemId": self.ops_item,
                    "schedule": self.schedule,
                    "start": self.start.isoformat(),
                    "due": self.due.isoformat(),
                    "step": self.step,
                    "code": self.code,
                }
            }
        )


class NotAReminder(ValueError):
    """The invocation is not a reminder mamori scheduled; str() says why."""


def is_reminder(event: object) -> bool:
    return isinstance(event, Mapping) and REMINDER_KEY in event


def read_reminder(event: Mapping[str, Any]) -> Reminder:
    body = event.get(REMINDER_KEY)
    if not isinstance(body, Mapping):
        raise NotAReminder("no reminder object")
    try:
        reminder = Reminder(
            ops_item=str(body["opsItemId"]),
            schedule=str(body["schedule"]),
            start=datetime.datetime.fromisoformat(str(body["start"])),
            due=datetime.datetime.fromisoformat(str(body["due"])),
            step=int(body["step"]),
            code=re.sub(r"[^A-Z0-9_]", "", str(body.get("code", "")))[:100],
        )
    except (KeyError, TypeError, ValueError) as error:
        raise NotAReminder(f"unreadable reminder: {error}") from None
    if not OPS_ITEM_ID.match(reminder.ops_item) or not SCHEDULE_NAME.match(reminder.schedule):
        raise NotAReminder(f"not a mamori case: {reminder.ops_item!r} / {reminder.schedule!r}")
    if reminder.step not in range(len(REMINDER_AT)) or reminder.start.tzinfo is None or reminder.due <= reminder.start:
        raise NotAReminder("the reminder's step or times are out of range")
    return reminder


def next_reminder(case: Case, now: datetime.datetime) -> Reminder | None:
    """The first reminder still ahead (a report that arrives late skips the 50 % one)."""
    start, due = case.clock
    for step in range(len(REMINDER_AT)):
        reminder = Reminder(case.ops_item, case.schedule_name, start, due, step, case.report.code or "")
        if reminder.at() > now:
            return reminder
    return None


def schedule(scheduler: Any, reminder: Reminder, target_arn: str, role_arn: str, create: bool) -> None:
    """Create (or move) the case's one schedule to the reminder's time. The last reminder deletes
    its schedule once it has run (ActionAfterCompletion)."""
    request = {
        "Name": reminder.schedule,
        "GroupName": SCHEDULE_GROUP,
        "ScheduleExpression": f"at({reminder.at().astimezone(datetime.UTC):%Y-%m-%dT%H:%M:%S})",
        "ScheduleExpressionTimezone": "UTC",
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "Target": {"Arn": target_arn, "RoleArn": role_arn, "Input": reminder.payload()},
        "ActionAfterCompletion": "DELETE" if reminder.step == len(REMINDER_AT) - 1 else "NONE",
        "Description": f"mamori: remind about abuse case {reminder.ops_item} until it is resolved",
    }
    (scheduler.create_schedule if create else scheduler.update_schedule)(**request)


def reminder_message(reminder: Reminder, item: Mapping[str, Any], now: datetime.datetime) -> tuple[str, str]:
    left = hours_left(reminder.due, now)
    draft = ((item.get("OperationalData") or {}).get(DRAFT_KEY) or {}).get("Value", "(see the OpsItem)")
    percent = int(REMINDER_AT[reminder.step] * 100)
    subject = f"[mamori] REMINDER: reply to AWS abuse report {reminder.code or ''} - {left}"
    body = "\n".join(
        [
            f"The AWS abuse report of OpsItem {reminder.ops_item} is still {item.get('Status', 'open')}: {percent} % of the "
            f"time to reply is gone. Deadline: {format_time(reminder.due)} ({left}).",
            "Without a reply AWS may restrict the account (in the open-proxy incident it blocked EC2 in the region).",
            f"Send the reply (draft below, also in the OpsItem), then resolve OpsItem {reminder.ops_item}: the reminders stop.",
            "",
            str(draft),
        ]
    )
    return subject, body
