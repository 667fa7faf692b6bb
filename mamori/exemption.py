"""The `mamori:exempt` tag: a reason, optionally followed by ` until=YYYY-MM-DD`.

Shared by every rule and every remediation (remediations skip exempt resources), and
inlined into SSM documents, so it depends on nothing but the standard library.
"""

import datetime
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

EXEMPT_TAG = "mamori:exempt"

_UNTIL = re.compile(r"^(?P<reason>.*?)\s*\buntil=(?P<date>\S+)\s*$", re.DOTALL)


@dataclass(frozen=True)
class ExemptionStatus:
    """What the exemption tag says. `applies` is False for expired or malformed tags."""

    applies: bool
    message: str


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


def exemption_status(tags: object, today: datetime.date) -> ExemptionStatus | None:
    """None when the resource has no exemption tag; otherwise whether it applies and why.

    An exemption is valid through its `until` date (inclusive, UTC). An expired, dateless-
    but-malformed, or reason-less tag counts for nothing: a blank tag must not silence a
    security finding.
    """
    value = tags_as_dict(tags).get(EXEMPT_TAG)
    if value is None:
        return None
    value = value.strip()
    until: datetime.date | None = None
    reason = value
    match = _UNTIL.match(value)
    if match:
        reason = match.group("reason").strip()
        try:
            until = datetime.date.fromisoformat(match.group("date"))
        except ValueError:
            return ExemptionStatus(False, f"{EXEMPT_TAG} ignored: until={match.group('date')!r} is not a YYYY-MM-DD date")
    if not reason:
        return ExemptionStatus(False, f"{EXEMPT_TAG} ignored: it gives no reason")
    if until is not None and today > until:
        return ExemptionStatus(False, f"{EXEMPT_TAG} expired on {until.isoformat()}")
    suffix = f" (until {until.isoformat()})" if until else ""
    return ExemptionStatus(True, f"Exempt by {EXEMPT_TAG}: {reason}{suffix}")
