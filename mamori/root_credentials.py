"""The root user's credentials: what mamori-root-access-key and mamori-root-mfa decide, in
one place, so each remediation re-checks live state with the very code its rule used.

Each question is answered from the cheapest honest source:

* iam:GetAccountSummary (one call, live): AccountPasswordPresent, AccountAccessKeysPresent
  (any root key, active or not) and AccountMFAEnabled. The credential report cannot say
  whether root has a password: its root row says `not_supported` there.
* the IAM credential report's `<root_account>` row, only when root has a key: when each key
  was created and last used, and where (region, service).
* iam:ListVirtualMFADevices, only when hardware MFA is required and root has MFA: a virtual
  device assigned to root is `.../mfa/root-account-mfa-device` or has User.Arn `...:root`.

Deleting a root key is a later, central step (the management account with sts:AssumeRoot
and the IAMDeleteRootUserCredentials task policy): it plugs in after `root_access_key_finding`,
which already says which keys there are and how they were used. Standard library and botocore
only: remediation scripts inline this module.
"""

import datetime
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mamori.compliance import ANNOTATION_LIMIT, COMPLIANT, NON_COMPLIANT, NOT_APPLICABLE
from mamori.credential_report import (
    ROOT_USER,
    AccessKeyUse,
    CredentialRow,
    days_between,
    fetch_credential_report,
    parse_credential_report,
)

ROOT_ARN_PATTERN = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):root$")
ROOT_VIRTUAL_MFA_SUFFIX = ":mfa/root-account-mfa-device"
SUMMARY_KEYS = ("AccountPasswordPresent", "AccountAccessKeysPresent", "AccountMFAEnabled")
KEY_SUMMARY_KEYS = ("AccountAccessKeysPresent",)


class RootStateUnknown(ValueError):
    """IAM did not say enough to decide (a missing summary key, no root row in the report)."""


@dataclass(frozen=True)
class RootSummary:
    password: bool
    access_keys: bool
    mfa: bool

    @property
    def has_credentials(self) -> bool:
        return self.password or self.access_keys


@dataclass(frozen=True)
class RootFinding:
    compliance: str
    annotation: str  # at most 256 characters, for Config
    details: tuple[str, ...] = ()  # one line per key or device, for people and records


def root_summary(iam: Any, needed: Sequence[str] = SUMMARY_KEYS) -> RootSummary:
    """The root user's credentials, live. A key in `needed` that IAM does not return is an
    error, never a guess; one not needed counts as absent."""
    summary = iam.get_account_summary()["SummaryMap"]
    missing = [key for key in needed if key not in summary]
    if missing:
        raise RootStateUnknown(f"iam:GetAccountSummary did not return {', '.join(missing)}")
    return RootSummary(
        password=bool(summary.get("AccountPasswordPresent", 0)),
        access_keys=bool(summary.get("AccountAccessKeysPresent", 0)),
        mfa=bool(summary.get("AccountMFAEnabled", 0)),
    )


def pause(seconds: float) -> None:
    time.sleep(seconds)  # looked up at call time, so tests can stand in for time.sleep


def root_report_row(iam: Any, max_wait_seconds: float) -> CredentialRow:
    text, _ = fetch_credential_report(iam, max_wait_seconds=max_wait_seconds, sleep=pause)
    for row in parse_credential_report(text):
        if row.is_root:
            return row
    raise RootStateUnknown(f"the IAM credential report has no {ROOT_USER} row")


def report_account(row: CredentialRow) -> str | None:
    match = ROOT_ARN_PATTERN.match(row.arn)
    return match.group(1) if match else None


def reported_root_keys(row: CredentialRow) -> tuple[AccessKeyUse, ...]:
    """The root keys the report shows: an active one, or one with a creation date."""
    return tuple(key for key in row.access_keys if key.active or key.last_rotated is not None)


def _day(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%d")


def describe_root_key(key: AccessKeyUse, now: datetime.datetime, compact: bool = False) -> str:
    """'active, created 2019-03-01 (2,457 days ago), last used 2026-01-01 in us-east-1 (ec2)'."""
    parts = ["active" if key.active else "inactive"]
    if key.last_rotated is not None:
        age = "" if compact else f" ({days_between(key.last_rotated, now):,} days ago)"
        parts.append(f"created {_day(key.last_rotated)}{age}")
    if key.last_used is None:
        parts.append("never used")
    else:
        where = f" in {key.last_used_region}" if key.last_used_region else ""
        service = f" ({key.last_used_service})" if key.last_used_service else ""
        parts.append(f"last used {_day(key.last_used)}{where}{service}")
    return ", ".join(parts)


def _fit(candidates: Sequence[str]) -> str:
    for candidate in candidates:
        if len(candidate) <= ANNOTATION_LIMIT:
            return candidate
    return candidates[-1][: ANNOTATION_LIMIT - 1] + "…"


def root_access_key_finding(summary: RootSummary, keys: Sequence[AccessKeyUse], now: datetime.datetime) -> RootFinding:
    """NON_COMPLIANT when root has any access key, active or not: an inactive key is one
    click from working again, and nothing should ever need one. `keys` are the report's
    (reported_root_keys); the live summary decides, the report only describes."""
    if not summary.access_keys:
        return RootFinding(COMPLIANT, "Root has no access key.")
    them = "it" if len(keys) <= 1 else "them"
    tail = f"; remediation notifies and opens an OpsItem: only root or the management account can delete {them}."
    if not keys:
        # Inactive keys may show no dates, and a report can be up to 4 hours old.
        detail = "Root has an access key (the credential report shows no dates: inactive, or created in the last 4 hours)"
        return RootFinding(NON_COMPLIANT, _fit([detail + tail]), (detail.removeprefix("Root has ") + ".",))
    full = [describe_root_key(key, now) for key in keys]
    compact = [describe_root_key(key, now, compact=True) for key in keys]
    if len(keys) == 1:
        candidates = [f"Root has an {full[0].replace(', ', ' access key, ', 1)}{tail}"]
        candidates.append(f"Root has an {compact[0].replace(', ', ' access key, ', 1)}{tail}")
    else:
        candidates = [f"Root has {len(keys)} access keys: {'; '.join(full)}{tail}"]
        candidates.append(f"Root has {len(keys)} access keys: {'; '.join(compact)}{tail}")
    return RootFinding(
        NON_COMPLIANT, _fit(candidates), tuple(f"access key {key.slot}: {text}" for key, text in zip(keys, full, strict=True))
    )


def parse_require_hardware_mfa(text: str) -> bool:
    value = text.strip().lower()
    if value not in ("true", "false"):
        raise ValueError(f"RequireHardwareMfa must be true or false, got {text!r}")
    return value == "true"


def is_root_virtual_device(device: Mapping[str, Any]) -> bool:
    user = device.get("User")
    arn = user.get("Arn", "") if isinstance(user, Mapping) else ""
    return bool(ROOT_ARN_PATTERN.match(arn)) or str(device.get("SerialNumber", "")).endswith(ROOT_VIRTUAL_MFA_SUFFIX)


def root_virtual_mfa_devices(iam: Any) -> tuple[str, ...]:
    """Serial numbers of the virtual MFA devices assigned to root."""
    serials = []
    for page in iam.get_paginator("list_virtual_mfa_devices").paginate(AssignmentStatus="Assigned"):
        serials += [device["SerialNumber"] for device in page.get("VirtualMFADevices", []) if is_root_virtual_device(device)]
    return tuple(serials)


def _credentials_text(summary: RootSummary) -> str:
    held = [name for name, present in (("a password", summary.password), ("an access key", summary.access_keys)) if present]
    return " and ".join(held)


def root_mfa_finding(summary: RootSummary, require_hardware: bool, virtual_devices: Sequence[str] = ()) -> RootFinding:
    """NOT_APPLICABLE when root has neither password nor access key (centralized root access
    removed them: nothing to sign in with, nothing to protect); NON_COMPLIANT when it has one
    but no MFA, or (require_hardware) a virtual MFA device; COMPLIANT otherwise."""
    if not summary.has_credentials:
        return RootFinding(
            NOT_APPLICABLE, "Root has no password and no access key (removed, e.g. by centralized root access): no MFA needed."
        )
    held = _credentials_text(summary)
    if not summary.mfa:
        return RootFinding(
            NON_COMPLIANT,
            _fit(
                [
                    f"Root has {held} but no MFA; remediation notifies and opens an OpsItem: only root (or the management "
                    "account, centrally) can assign MFA or remove the credentials."
                ]
            ),
            (f"root has {held} and no MFA device",),
        )
    if require_hardware and virtual_devices:
        names = ", ".join(serial.rsplit("/", 1)[-1] for serial in virtual_devices)
        return RootFinding(
            NON_COMPLIANT,
            _fit(
                [
                    f"Root's MFA includes a virtual device ({names}) and RequireHardwareMfa is true; remediation notifies "
                    "and opens an OpsItem: only root can replace it with a hardware key.",
                    "Root's MFA includes a virtual device and RequireHardwareMfa is true; remediation notifies and opens "
                    "an OpsItem: only root can replace it with a hardware key.",
                ]
            ),
            tuple(f"virtual MFA device assigned to root: {serial}" for serial in virtual_devices),
        )
    return RootFinding(COMPLIANT, "Root has hardware MFA." if require_hardware else "Root has MFA.")
