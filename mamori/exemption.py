"""The `mamori:exempt` tag: a reason followed by ` until=YYYY-MM-DD`, at most MaxExemptionDays
(a pack parameter, default 90) ahead.

An exemption must end. A tag without an end date, with an empty or malformed one, with one
further ahead than MaxExemptionDays, an expired one or one without a reason counts for nothing:
the resource is evaluated (and remediated) as if it had no tag, and the annotation says why the
tag was ignored. Whoever can tag a resource can write this tag, so it buys at most
MaxExemptionDays of silence, and every exemption is announced (the notifier). Who may set it is
the customer's to fence (README, "Who may exempt").

Shared by every rule and every remediation (remediations skip exempt resources), and
inlined into SSM documents, so it depends on nothing but the standard library.
"""

import datetime
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

EXEMPT_TAG = "mamori:exempt"
# What the annotation of an exempt resource starts with (the notifier recognises it).
EXEMPT_PREFIX = f"Exempt by {EXEMPT_TAG}: "
DEFAULT_MAX_EXEMPTION_DAYS = 90
# MaxExemptionDays itself is bounded: a year at most, or a setting could make exemptions endless again.
MAX_EXEMPTION_DAYS_LIMIT = 366
MAX_EXEMPTION_DAYS_PATTERN = r"\s*\d{1,3}\s*"

# An AWS abuse report about a resource overrides its exemption (the account is at stake). What
# names a report to a remediation: an AWS Health event ARN (arn:aws:health:global::event/...),
# or an abuse event type code (mamori.abuse_events reads them from the event).
EVENT_ARN_PATTERN = r"arn:aws[a-z0-9-]*:health:[a-z0-9-]*:\d{0,12}:event/[A-Za-z0-9_/.:-]{1,400}"
ABUSE_CODE_PATTERN = r"AWS_ABUSE_[A-Z0-9_]{1,100}"

_UNTIL = re.compile(r"^(?P<reason>.*?)\s*\buntil=(?P<date>\S*)\s*$", re.DOTALL)


@dataclass(frozen=True)
class ExemptionStatus:
    """What the exemption tag says. `applies` is False for a tag that counts for nothing."""

    applies: bool
    message: str


def parse_max_exemption_days(text: str) -> int:
    """MaxExemptionDays: a whole number of days, 1 to MAX_EXEMPTION_DAYS_LIMIT."""
    value = text.strip()
    if not re.fullmatch(r"\d{1,3}", value) or not 1 <= int(value) <= MAX_EXEMPTION_DAYS_LIMIT:
        raise ValueError(f"MaxExemptionDays: {text!r} is not a number of days from 1 to {MAX_EXEMPTION_DAYS_LIMIT}")
    return int(value)


def tags_as_dict(tags: object) -> dict[str, str]:
    """Tags as a dict, from any shape AWS uses: Config's {"k": "v"}, or a list of
    {"Key", "Value"} (EC2 API) or {"key", "value"} (Config's configuration.tags)."""
    if isinstance(tags, Mapping):
        return {str(k): "" if v is None else str(v) for k, v in tags.items()}
    result: dict[str, str] = {}
    if isinstance(tags, Iterable) and not isinstance(tags, (str, bytes)):
        for tag in tags:
            if not isinstance(tag, Mapping):
                continue
            key = tag.get("Key", tag.get("key"))
            value = tag.get("Value", tag.get("value"))
            if key is not None:
                result[str(key)] = "" if value is None else str(value)
    return result


def exemption_status(tags: object, today: datetime.date, max_days: int = DEFAULT_MAX_EXEMPTION_DAYS) -> ExemptionStatus | None:
    """None when the resource has no exemption tag; otherwise whether it applies and why.

    An exemption is valid through its `until` date (inclusive, UTC), which must be at most
    max_days after today. Anything else counts for nothing: a blank, endless or far-off tag must
    not silence a security finding.
    """
    value = tags_as_dict(tags).get(EXEMPT_TAG)
    if value is None:
        return None
    value = value.strip()
    ignored = f"{EXEMPT_TAG} ignored:"
    match = _UNTIL.match(value)
    reason = match.group("reason").strip() if match else value
    if not reason:
        return ExemptionStatus(False, f"{ignored} it gives no reason")
    if match is None:
        if "until=" in value:
            return ExemptionStatus(False, f"{ignored} until=YYYY-MM-DD must end the value")
        return ExemptionStatus(False, f"{ignored} it has no end; add ' until=YYYY-MM-DD', at most {max_days} days ahead")
    if not match.group("date"):
        return ExemptionStatus(False, f"{ignored} until= gives no date")
    try:
        # fromisoformat alone would also take 20261201 or 2026-W48-2.
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", match.group("date")):
            raise ValueError(match.group("date"))
        until = datetime.date.fromisoformat(match.group("date"))
    except ValueError:
        return ExemptionStatus(False, f"{ignored} until={match.group('date')!r} is not a YYYY-MM-DD date")
    if today > until:
        return ExemptionStatus(False, f"{EXEMPT_TAG} expired on {until.isoformat()}")
    if (until - today).days > max_days:
        return ExemptionStatus(
            False, f"{ignored} until={until.isoformat()} is more than {max_days} days ahead (MaxExemptionDays)"
        )
    return ExemptionStatus(True, f"{EXEMPT_PREFIX}{reason} (until {until.isoformat()})")


class Exemptible:
    """Mixed into a remediation or restore (mamori.remediation.Unit) whose resource has tags: its
    mamori:exempt tag counts, ending at most MaxExemptionDays ahead (the document parameter; the
    default where a document does not take it)."""

    events: Mapping[str, Any]
    now: datetime.datetime
    tags: Callable[[Any], object]

    @property
    def max_exemption_days(self) -> int:
        return parse_max_exemption_days(str(self.events.get("MaxExemptionDays") or DEFAULT_MAX_EXEMPTION_DAYS))

    def exemption(self, target: Any) -> ExemptionStatus | None:
        return exemption_status(self.tags(target), self.now.date(), self.max_exemption_days)
