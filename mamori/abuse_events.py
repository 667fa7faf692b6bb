"""AWS Health abuse events read into one typed report.

The notifier (responders/notifications/) and the abuse responder (responders/abuse-events/)
both read EventBridge `AWS Health Abuse Event`s from `aws.health` with this module, so they
never disagree on what was reported, for which account, where, and by when to reply.

Traits of real events (AWS Health EventBridge schema and published samples):
- `region` is where the event was delivered: "global" for abuse reports. The impacted
  region is `detail.eventRegion`, which may be absent.
- `time` (delivery to EventBridge) is ISO 8601; `detail.startTime` is RFC 1123
  ("Wed, 01 Aug 2018 06:27:57 GMT").
- The affected resources are in `resources` and/or `detail.affectedEntities[].entityValue`:
  instance ARNs (arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111), bare instance ids,
  IP addresses, other strings, or nothing at all.
- In organizational views `detail.affectedAccount` names the member account while
  `account` is the account the event was delivered to (management or delegated admin).
- A large event comes as several events, `detail.page` of `detail.totalPages`.

Only an event that cannot be an abuse report is rejected (NotAnAbuseReport, with the reason);
any other part that cannot be read is left out and named in `AbuseReport.problems`, because
an abuse report with a broken field still needs a person within 24 hours.
"""

import datetime
import email.utils
import enum
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass

from mamori.aws_api import ACCOUNT_ID
from mamori.exemption import ABUSE_CODE_PATTERN, EVENT_ARN_PATTERN

SOURCE = "aws.health"
DETAIL_TYPE = "AWS Health Abuse Event"
# AWS asks for a reply within 24 hours; in the open-proxy incident EC2 was blocked after four days.
REPLY_HOURS = 24

REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")
INSTANCE_ID = re.compile(r"^i-[0-9a-f]{8,17}$")
INSTANCE_ARN = re.compile(r"^arn:aws[a-z-]*:ec2:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):instance/(?P<id>i-[0-9a-f]{8,17})$")
# mamori's heuristic: AWS does not publish its abuse event type codes. A report is about an
# open proxy when its code names a proxy (AWS_ABUSE_OPEN_PROXY_REPORT, ...) or its text says so.
PROXY_CODE = re.compile(r"PROXY", re.IGNORECASE)
PROXY_TEXT = re.compile(r"open[\s_-]*proxy", re.IGNORECASE)


class NotAnAbuseReport(ValueError):
    """The event is not an AWS Health abuse event that can be read; str() says why."""


class EntityKind(enum.StrEnum):
    INSTANCE_ID = "instance id"
    INSTANCE_ARN = "instance ARN"
    IP_ADDRESS = "IP address"
    OTHER = "other"


@dataclass(frozen=True)
class AffectedEntity:
    value: str  # as the event names it
    kind: EntityKind
    region: str | None  # the ARN's region, else the report's event region; None when unknown
    account: str | None = None  # the ARN's account, when the entity is an ARN

    @property
    def instance_id(self) -> str | None:
        if self.kind is EntityKind.INSTANCE_ID:
            return self.value
        if self.kind is EntityKind.INSTANCE_ARN:
            match = INSTANCE_ARN.match(self.value)
            return match.group("id") if match else None
        return None

    @property
    def address(self) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
        return ipaddress.ip_address(self.value) if self.kind is EntityKind.IP_ADDRESS else None

    @property
    def identity(self) -> str:
        """The same resource named two ways (an ARN in `resources`, its id in the entities) is one entity."""
        return self.instance_id or str(self.address or self.value)


@dataclass(frozen=True)
class AbuseReport:
    code: str | None  # detail.eventTypeCode, e.g. AWS_ABUSE_DOS_REPORT
    affected_account: str | None  # detail.affectedAccount, else the account the event was delivered to
    delivered_to_account: str | None  # the event's `account`
    event_region: str | None  # detail.eventRegion, else the delivery region unless "global"
    # The earliest time the event gives for the report (startTime or delivery): the reply clock runs from it.
    received: datetime.datetime | None
    descriptions: tuple[str, ...]
    entities: tuple[AffectedEntity, ...]
    page: str | None = None  # "2 of 10" when the report comes in pages
    problems: tuple[str, ...] = ()  # parts of the event that could not be read
    event_arn: str | None = None  # detail.eventArn: one per report (its pages and updates share it)

    @property
    def reference(self) -> str:
        """What names the report to the open-proxy document (its AbuseReport parameter, which
        overrides mamori:exempt): the event ARN, else the event type code, else nothing."""
        if self.event_arn:
            return self.event_arn
        return self.code if self.code and re.fullmatch(ABUSE_CODE_PATTERN, self.code) else ""

    @property
    def code_text(self) -> str:
        return self.code or "AWS_ABUSE (no event type code)"

    @property
    def reply_by(self) -> datetime.datetime | None:
        try:
            return self.received + datetime.timedelta(hours=REPLY_HOURS) if self.received else None
        except OverflowError:  # a startTime in year 9999 is no time to reply by
            return None


def format_time(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")


def parse_time(value: object) -> datetime.datetime | None:
    """ISO 8601 (`time`) or RFC 1123 (`startTime`), as an aware UTC datetime; None if neither."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    try:
        moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
    try:
        return moment.replace(tzinfo=datetime.UTC) if moment.tzinfo is None else moment.astimezone(datetime.UTC)
    except OverflowError:  # year 1 in a zone east of UTC
        return None


def classify(value: str, default_region: str | None) -> AffectedEntity:
    arn = INSTANCE_ARN.match(value)
    if arn:
        return AffectedEntity(value, EntityKind.INSTANCE_ARN, arn.group("region"), arn.group("account"))
    if INSTANCE_ID.match(value):
        return AffectedEntity(value, EntityKind.INSTANCE_ID, default_region)
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return AffectedEntity(value, EntityKind.OTHER, default_region)
    return AffectedEntity(str(address), EntityKind.IP_ADDRESS, default_region)


def _region(value: object) -> str | None:
    return value if isinstance(value, str) and REGION.match(value) else None


def parse_abuse_event(event: object) -> AbuseReport:
    """The report an EventBridge event carries; NotAnAbuseReport when it is no abuse event."""
    if not isinstance(event, Mapping):
        raise NotAnAbuseReport(f"the event is a {type(event).__name__}, not a JSON object")
    if event.get("source") != SOURCE or event.get("detail-type") != DETAIL_TYPE:
        raise NotAnAbuseReport(
            f"source {event.get('source')!r} / detail-type {event.get('detail-type')!r} is not {SOURCE} / {DETAIL_TYPE}"
        )
    detail = event.get("detail")
    if not isinstance(detail, Mapping):
        raise NotAnAbuseReport("the event has no detail object")
    problems: list[str] = []

    code = detail.get("eventTypeCode")
    if isinstance(code, str) and code.strip():
        code = " ".join(code.split())  # it goes into subjects and log lines
    else:
        problems.append("detail.eventTypeCode is missing or not text")
        code = None

    delivered_to = event.get("account") if isinstance(event.get("account"), str) else None
    affected = detail.get("affectedAccount", delivered_to)
    if affected is None:
        problems.append("neither detail.affectedAccount nor account names the affected account")
    elif not (isinstance(affected, str) and ACCOUNT_ID.match(affected)):
        problems.append(f"the affected account {affected!r} is not an account id")
        affected = None

    event_region = _region(detail.get("eventRegion")) or _region(event.get("region"))

    times = [parse_time(detail.get("startTime")), parse_time(event.get("time"))]
    known_times = [moment for moment in times if moment is not None]
    if not known_times:
        problems.append("neither detail.startTime nor time is a date")

    descriptions: list[str] = []
    raw_descriptions = detail.get("eventDescription") or []
    if isinstance(raw_descriptions, list):
        descriptions = [
            item["latestDescription"].strip()
            for item in raw_descriptions
            if isinstance(item, Mapping) and isinstance(item.get("latestDescription"), str) and item["latestDescription"].strip()
        ]
    else:
        problems.append("detail.eventDescription is not a list")

    values: list[str] = []
    for field, raw in (("detail.affectedEntities", detail.get("affectedEntities")), ("resources", event.get("resources"))):
        if raw is None:
            continue
        if not isinstance(raw, list):
            problems.append(f"{field} is not a list")
            continue
        for item in raw:
            value = item.get("entityValue") if isinstance(item, Mapping) and field != "resources" else item
            if isinstance(value, str) and value.strip():
                values.append(value.strip())
            elif value not in (None, ""):
                problems.append(f"{field} holds {value!r}, which names no resource")
    entities: dict[str, AffectedEntity] = {}
    for value in values:
        entity = classify(value, event_region)
        known = entities.get(entity.identity)
        # Keep the ARN when both name the same instance: it carries the region and account.
        if known is None or (known.kind is EntityKind.INSTANCE_ID and entity.kind is EntityKind.INSTANCE_ARN):
            entities[entity.identity] = entity

    page, pages = detail.get("page"), detail.get("totalPages")
    paged = f"{page} of {pages}" if page is not None and pages is not None and str(pages) != "1" else None

    raw_arn = detail.get("eventArn")
    event_arn = raw_arn if isinstance(raw_arn, str) and re.fullmatch(EVENT_ARN_PATTERN, raw_arn) else None
    return AbuseReport(
        event_arn=event_arn,
        code=code,
        affected_account=affected,
        delivered_to_account=delivered_to,
        event_region=event_region,
        received=min(known_times) if known_times else None,
        descriptions=tuple(descriptions),
        entities=tuple(entities.values()),
        page=paged,
        problems=tuple(problems),
    )


def is_open_proxy_report(report: AbuseReport) -> bool:
    """mamori's heuristic (AWS publishes no list of abuse codes): the code names a proxy, or a
    description says "open proxy". A wrong guess is bounded: the open-proxy remediation only
    revokes what mamori-open-proxy-ports would flag."""
    return bool(report.code and PROXY_CODE.search(report.code)) or any(PROXY_TEXT.search(text) for text in report.descriptions)


# --- wording shared by the notifier and the responder ----------------------------------


SUBJECT_LIMIT = 100  # SNS rejects longer subjects


def subject_line(text: str) -> str:
    """An SNS subject: one line without control characters (SNS refuses them; a code or id from
    an event must not make the message fail), at most 100 characters."""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())[:SUBJECT_LIMIT]


def deadline_text(report: AbuseReport, now: datetime.datetime) -> str:
    """'reply by <time>', and how late it is when that time has passed."""
    if report.reply_by is None:
        return f"reply within {REPLY_HOURS} hours of the report (the event gives no time)"
    text = f"reply by {format_time(report.reply_by)}"
    if now >= report.reply_by:
        hours = int((now - report.reply_by).total_seconds() // 3600)
        text += f" - passed {hours} hours ago: reply now" if hours else " - passed: reply now"
    return text


def reply_by_short(report: AbuseReport) -> str:
    """For a subject line."""
    return f"reply by {format_time(report.reply_by)}" if report.reply_by else f"reply within {REPLY_HOURS}h"


def reported_text(report: AbuseReport) -> str:
    text = " ".join(report.descriptions) or "see the AWS Health Dashboard for the report text"
    return f"{text} (page {report.page}: the other pages arrive as separate events)" if report.page else text


def entities_text(report: AbuseReport) -> str:
    return ", ".join(entity.value for entity in report.entities) or "not named in the event (see the report)"


def region_text(report: AbuseReport) -> str:
    return report.event_region or "not named in the event"


def problems_text(report: AbuseReport) -> str | None:
    return ("Could not read: " + "; ".join(report.problems) + ".") if report.problems else None
