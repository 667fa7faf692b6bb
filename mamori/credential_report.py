"""The IAM credential report: one document for every user and the root user, so the IAM
rules make a constant number of IAM calls whatever the number of users.

Generate, poll with backoff until it is ready (a report still being generated, or a
throttled call, is retried, not failed), download, parse. Standard library and botocore
only: remediation scripts may inline it.
"""

import csv
import datetime
import io
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import botocore.exceptions

ROOT_USER = "<root_account>"
# Answers that mean "not yet, ask again".
_RETRYABLE = frozenset(
    {"ReportInProgress", "ReportNotPresent", "ReportExpired", "Throttling", "ThrottlingException", "ServiceFailure"}
)


@dataclass(frozen=True)
class AccessKeyUse:
    slot: int  # 1 or 2: the report has two key columns and no key ids
    active: bool
    last_rotated: datetime.datetime | None  # creation, or last rotation
    last_used: datetime.datetime | None
    last_used_region: str | None
    last_used_service: str | None


@dataclass(frozen=True)
class CredentialRow:
    user: str
    arn: str
    user_creation_time: datetime.datetime | None
    password_enabled: bool | None  # None: not_supported (the root row)
    password_last_used: datetime.datetime | None
    mfa_active: bool
    access_keys: tuple[AccessKeyUse, ...]

    @property
    def is_root(self) -> bool:
        return self.user == ROOT_USER

    @property
    def active_keys(self) -> tuple[AccessKeyUse, ...]:
        return tuple(key for key in self.access_keys if key.active)


class CredentialReportUnavailable(RuntimeError):
    pass


def fetch_credential_report(
    iam: Any, max_wait_seconds: float = 300.0, sleep: Callable[[float], None] = time.sleep
) -> tuple[str, int]:
    """(report CSV text, IAM calls made). Generates a report when none is fresh (IAM keeps
    one for four hours) and polls with exponential backoff, 1 s doubling to 16 s."""
    calls = 0
    waited = 0.0
    delay = 1.0
    while True:
        try:
            calls += 1
            state = iam.generate_credential_report()["State"]
            if state == "COMPLETE":
                calls += 1
                content = iam.get_credential_report()["Content"]
                return (content.decode("utf-8") if isinstance(content, bytes) else str(content)), calls
        except botocore.exceptions.ClientError as error:
            if error.response["Error"]["Code"] not in _RETRYABLE:
                raise
        if waited >= max_wait_seconds:
            raise CredentialReportUnavailable(f"the IAM credential report was not ready after {int(waited)} s")
        sleep(delay)
        waited += delay
        delay = min(delay * 2, 16.0)


def _time(value: str) -> datetime.datetime | None:
    """ISO timestamps; 'N/A', 'no_information', 'not_supported' and '' mean none."""
    if value in ("", "N/A", "no_information", "not_supported"):
        return None
    try:
        moment = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)


def _flag(value: str) -> bool | None:
    return {"true": True, "false": False}.get(value.strip().lower())


def _text(value: str) -> str | None:
    return None if value in ("", "N/A", "no_information", "not_supported") else value


def parse_credential_report(text: str) -> list[CredentialRow]:
    rows = []
    for record in csv.DictReader(io.StringIO(text)):
        keys = tuple(
            AccessKeyUse(
                slot,
                bool(_flag(record.get(f"access_key_{slot}_active", ""))),
                _time(record.get(f"access_key_{slot}_last_rotated", "")),
                _time(record.get(f"access_key_{slot}_last_used_date", "")),
                _text(record.get(f"access_key_{slot}_last_used_region", "")),
                _text(record.get(f"access_key_{slot}_last_used_service", "")),
            )
            for slot in (1, 2)
        )
        rows.append(
            CredentialRow(
                user=record["user"],
                arn=record.get("arn", ""),
                user_creation_time=_time(record.get("user_creation_time", "")),
                password_enabled=_flag(record.get("password_enabled", "")),
                password_last_used=_time(record.get("password_last_used", "")),
                mfa_active=bool(_flag(record.get("mfa_active", ""))),
                access_keys=keys,
            )
        )
    return rows


def days_between(earlier: datetime.datetime, later: datetime.datetime) -> int:
    """Whole days elapsed (a key used 89 days 23 hours ago is 89 days unused)."""
    return int((later - earlier).total_seconds() // 86400)
