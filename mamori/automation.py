"""Input handling shared by every remediation script (inlined into SSM documents)."""

import datetime
import re
from collections.abc import Mapping


def required_input(events: Mapping[str, object], name: str, pattern: str) -> str:
    """A required string input that must match pattern; ValueError names the input."""
    value = events.get(name)
    if not isinstance(value, str) or not re.fullmatch(pattern, value.strip()):
        raise ValueError(f"{name} must match {pattern}, got {value!r}")
    return value.strip()


def flag(events: Mapping[str, object], name: str = "DryRun") -> bool:
    """SSM passes Boolean parameters as bools; accept 'true'/'false' strings too."""
    value = events.get(name, False)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ValueError(f"{name} must be true or false, got {value!r}")


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def timestamp(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def entries_text(count: int) -> str:
    return f"{count} entry" if count == 1 else f"{count} entries"
