"""The decision of mamori-stale-access-keys, shared by the rule (on the credential report)
and its remediation (on the live keys): an active access key is stale when it has gone
unused for MaxUnusedDays days or more (a key never used counts from its creation), or when it
is MaxKeyAgeDays days old or older (when that limit is set).

The credential report has no key ids, only two key slots; ListAccessKeys has ids but no
last use. `with_live_keys` joins them by creation date (the report's last_rotated is the
key's CreateDate), for the few users the report already shows as stale.

Inlined into SSM documents: standard library and botocore only.
"""

import datetime
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from mamori.credential_report import CredentialRow, days_between
from mamori.iam_users import as_utc
from mamori.records import capped

DEFAULT_MAX_UNUSED_DAYS = 90
MAX_DAYS = 3650
# A report's last_rotated and ListAccessKeys' CreateDate differ by sub-second rounding at most.
_SAME_KEY_SECONDS = 2.0


@dataclass(frozen=True)
class KeyFacts:
    key_id: str | None  # None while known only from the credential report
    slot: int | None  # the report's key column (1 or 2), when known
    active: bool
    created: datetime.datetime | None
    last_used: datetime.datetime | None


@dataclass(frozen=True)
class StaleKey:
    key: KeyFacts
    unused_days: int | None  # set when unused for MaxUnusedDays or more
    age_days: int | None  # set when MaxKeyAgeDays old or older

    def describe(self) -> str:
        reasons = []
        if self.unused_days is not None:
            if self.key.last_used is None:
                reasons.append(f"never used in the {self.unused_days} days since its creation")
            else:
                reasons.append(f"unused for {self.unused_days} days (last used {self.key.last_used.strftime('%Y-%m-%d')})")
        if self.age_days is not None:
            reasons.append(f"{self.age_days} days old")
        return f"{key_label(self.key)} " + " and ".join(reasons)


def key_label(key: KeyFacts) -> str:
    """Key ids are not secret, but annotations name only their last four characters."""
    if key.key_id:
        return f"key …{key.key_id[-4:]}"
    return f"key {key.slot}" if key.slot else "key"


def parse_days(name: str, text: str, optional: bool = False) -> int | None:
    value = text.strip()
    if optional and value == "":
        return None
    if not re.fullmatch(r"\d{1,5}", value) or not 1 <= int(value) <= MAX_DAYS:
        raise ValueError(f"{name}: {text!r} is not a number of days from 1 to {MAX_DAYS}")
    return int(value)


def parse_max_unused_days(text: str) -> int:
    days = parse_days("MaxUnusedDays", text)
    assert days is not None
    return days


def parse_max_key_age_days(text: str) -> int | None:
    return parse_days("MaxKeyAgeDays", text, optional=True)


def find_stale_keys(
    keys: Iterable[KeyFacts], now: datetime.datetime, max_unused_days: int, max_age_days: int | None
) -> list[StaleKey]:
    """The active keys that are stale. A key whose creation and last use are both unknown is
    never called stale: there is nothing to count from."""
    stale = []
    for key in keys:
        if not key.active:
            continue
        since = key.last_used or key.created
        unused = days_between(since, now) if since is not None else None
        age = days_between(key.created, now) if key.created is not None else None
        unused_hit = unused if unused is not None and unused >= max_unused_days else None
        age_hit = age if age is not None and max_age_days is not None and age >= max_age_days else None
        if unused_hit is not None or age_hit is not None:
            stale.append(StaleKey(key, unused_hit, age_hit))
    return stale


def stale_annotation(stale: Sequence[StaleKey], limit: int = 256) -> str:
    noun = "Stale access key" if len(stale) == 1 else "Stale access keys"
    tail = "; remediation deactivates " + ("it" if len(stale) == 1 else "them") + " (never deletes)."
    text = f"{noun}: " + "; ".join(item.describe() for item in stale) + tail
    return text if len(text) <= limit else text[: limit - len(tail) - 1] + "…" + tail


def keys_from_report(row: CredentialRow) -> list[KeyFacts]:
    return [KeyFacts(None, key.slot, key.active, key.last_rotated, key.last_used) for key in row.access_keys]


def with_live_keys(report_keys: Sequence[KeyFacts], listed: Sequence[Mapping[str, Any]]) -> list[KeyFacts]:
    """The live keys (ListAccessKeys metadata: id, status, creation), each with the last use
    the report holds for the slot created at the same time. A key created after the report
    was made has no slot: its last use is unknown, and it counts from its creation."""
    slots = [key for key in report_keys if key.created is not None]
    matched: list[KeyFacts] = []
    for item in sorted(listed, key=lambda k: as_utc(k.get("CreateDate")) or datetime.datetime.min.replace(tzinfo=datetime.UTC)):
        created = as_utc(item.get("CreateDate"))
        slot = next(
            (
                key
                for key in slots
                if created is not None
                and key.created is not None
                and abs((key.created - created).total_seconds()) < _SAME_KEY_SECONDS
            ),
            None,
        )
        if slot is not None:
            slots.remove(slot)
        matched.append(
            KeyFacts(
                str(item["AccessKeyId"]),
                slot.slot if slot else None,
                item.get("Status") == "Active",
                created,
                slot.last_used if slot else None,
            )
        )
    return matched


def list_key_metadata(iam: Any, user_name: str) -> list[dict[str, Any]]:
    """ListAccessKeys: [{AccessKeyId, Status, CreateDate}] (two keys at most)."""
    return [
        item for page in iam.get_paginator("list_access_keys").paginate(UserName=user_name) for item in page["AccessKeyMetadata"]
    ]


def live_keys(iam: Any, user_name: str) -> list[KeyFacts]:
    """The user's keys as IAM has them now: ListAccessKeys, then GetAccessKeyLastUsed for each
    active key (two keys at most, so at most three calls)."""
    keys = []
    for item in list_key_metadata(iam, user_name):
        key = KeyFacts(str(item["AccessKeyId"]), None, item.get("Status") == "Active", as_utc(item.get("CreateDate")), None)
        if key.active:
            used = iam.get_access_key_last_used(AccessKeyId=key.key_id)["AccessKeyLastUsed"]
            key = replace(key, last_used=as_utc(used.get("LastUsedDate")))
        keys.append(key)
    return keys


def deactivation_record(
    earlier: Mapping[str, Any], user_name: str, live_key_ids: Iterable[str], deactivated: Sequence[Mapping[str, Any]], moment: str
) -> dict[str, Any]:
    """The record of keys mamori deactivated, which mamori-stale-access-keys-restore reads, kept by
    every writer of it (the stale-keys remediation, the leaked-key responder): the keys it may
    reactivate, those recorded before that still exist and those deactivated now (a user has at
    most two keys, so it stays small), and the latest runs for people."""
    live = set(live_key_ids)
    keys = {
        str(key["keyId"]): dict(key)
        for key in earlier.get("deactivated") or []
        if isinstance(key, Mapping) and str(key.get("keyId")) in live
    }
    keys.update({str(key["keyId"]): dict(key) for key in deactivated})
    history = capped(earlier.get("history") or [], {"at": moment, "deactivated": [str(key["keyId"]) for key in deactivated]})
    return {"userName": user_name, "deactivated": list(keys.values()), "history": history}
