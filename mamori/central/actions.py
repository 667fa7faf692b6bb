"""The central responder's actions on a member account, each re-reading live state first and
recording what it changes (Parameter Store of this account, /mamori/central/<what>/<account>)
before changing it:

* remove_root_access_keys: delete the member root's access keys (a deleted key cannot be
  restored: its id, dates and last use are recorded first);
* remove_root_password: remove the member root's password when it has no MFA at all;
* set_security_contact: set the member's SECURITY alternate contact (account API with AccountId).

Each returns a Report: a status, a summary, and the message to publish.
"""

import datetime
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import botocore.exceptions

from mamori.automation import timestamp, utc_now
from mamori.aws_api import error_code, error_text
from mamori.central.events import ROOT_ACCESS_KEY_RULE, ROOT_MFA_RULE, SECURITY_CONTACT_RULE, ComplianceChange
from mamori.central.organization import Caller, Member, Refusal
from mamori.compliance import NON_COMPLIANT
from mamori.credential_report import AccessKeyUse
from mamori.records import RECORD_ROOT, Record, load_record, merged, record_path, save_record
from mamori.root_credentials import describe_root_key
from mamori.security_contact import (
    CONTACT_EMAIL_PATTERN,
    CONTACT_NAME_PATTERN,
    CONTACT_PHONE_PATTERN,
    CONTACT_TITLE_PATTERN,
    SecurityContact,
    read_security_contact,
    security_contact_finding,
    write_security_contact,
)

RESPONDER = "mamori-central-responder"
RECORD_IDS = {
    ROOT_ACCESS_KEY_RULE: "central/root-access-key",
    ROOT_MFA_RULE: "central/root-password",
    SECURITY_CONTACT_RULE: "central/security-contact",
}
RETRIES = "Lambda retries this event up to twice."

CHANGED = "CHANGED"
UNCHANGED = "UNCHANGED"
REFUSED = "REFUSED"
FAILED = "FAILED"
IGNORED = "IGNORED"


@dataclass(frozen=True)
class Settings:
    """The pack parameters the responder gets through its environment (responders/central/spec.py)."""

    topic_arn: str
    region: str
    root_password_removal: str = "false"
    expected_email: str = ""
    contact_name: str = ""
    contact_title: str = ""
    contact_phone: str = ""

    def removes_root_passwords(self) -> bool:
        value = self.root_password_removal.strip().lower()
        if value not in ("true", "false"):
            raise ValueError(f"CentralRootPasswordRemoval must be true or false, got {self.root_password_removal!r}")
        return value == "true"

    def security_contact(self) -> SecurityContact:
        """The contact to set; Refusal naming what is missing or invalid."""
        values = {
            "ExpectedSecurityEmail": (self.expected_email, CONTACT_EMAIL_PATTERN),
            "SecurityContactName": (self.contact_name, CONTACT_NAME_PATTERN),
            "SecurityContactTitle": (self.contact_title, CONTACT_TITLE_PATTERN),
            "SecurityContactPhone": (self.contact_phone, CONTACT_PHONE_PATTERN),
        }
        missing = [name for name, (value, _) in values.items() if not value.strip()]
        invalid = [
            name for name, (value, pattern) in values.items() if value.strip() and not re.fullmatch(pattern, value.strip())
        ]
        if missing or invalid:
            problems = [f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set"] if missing else []
            problems += [f"{name} {values[name][0]!r} is not valid" for name in invalid]
            raise Refusal(
                "; ".join(problems) + ", so there is no contact to set",
                "Set the pack parameters ExpectedSecurityEmail, SecurityContactName, SecurityContactTitle and "
                "SecurityContactPhone of the organization stack (a monitored team inbox and phone), or set the "
                "member's SECURITY contact yourself (AWS Organizations console > the account > Contact info).",
            )
        return SecurityContact(
            name=self.contact_name.strip(),
            title=self.contact_title.strip(),
            email=self.expected_email.strip(),
            phone=self.contact_phone.strip(),
        )


@dataclass
class Report:
    """What one action did: a status, one line for the log and the result, and the message to
    publish (no subject: nothing is published)."""

    status: str
    summary: str
    subject: str = ""
    body: str = ""
    record: str = ""


def _when(moment: Any) -> str | None:
    if not isinstance(moment, datetime.datetime):
        return None
    return timestamp(moment.astimezone(datetime.UTC))


def _utc(moment: Any) -> datetime.datetime | None:
    return moment.astimezone(datetime.UTC) if isinstance(moment, datetime.datetime) else None


@dataclass(frozen=True)
class RootKey:
    key_id: str
    status: str
    created: datetime.datetime | None
    last_used: datetime.datetime | None
    last_used_region: str | None
    last_used_service: str | None

    def as_record(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "created": _when(self.created),
            "lastUsed": _when(self.last_used),
            "lastUsedRegion": self.last_used_region,
            "lastUsedService": self.last_used_service,
        }

    def describe(self, now: datetime.datetime) -> str:
        use = AccessKeyUse(
            slot=0,
            active=self.status == "Active",
            last_rotated=self.created,
            last_used=self.last_used,
            last_used_region=self.last_used_region,
            last_used_service=self.last_used_service,
        )
        return f"{self.key_id}: {describe_root_key(use, now)}"


def _known(value: Any) -> str | None:
    """IAM says "N/A" for a key never used."""
    return value if isinstance(value, str) and value and value != "N/A" else None


def list_root_keys(root_iam: Any) -> list[dict[str, Any]]:
    """The root user's access keys: no UserName, so the root session's own user."""
    keys: list[dict[str, Any]] = []
    for page in root_iam.get_paginator("list_access_keys").paginate():
        keys += page.get("AccessKeyMetadata", [])
    return keys


def read_root_keys(root_iam: Any) -> list[RootKey]:
    found = []
    for key in list_root_keys(root_iam):
        used = root_iam.get_access_key_last_used(AccessKeyId=key["AccessKeyId"]).get("AccessKeyLastUsed") or {}
        found.append(
            RootKey(
                key_id=str(key["AccessKeyId"]),
                status=str(key.get("Status", "")),
                created=_utc(key.get("CreateDate")),
                last_used=_utc(used.get("LastUsedDate")),
                last_used_region=_known(used.get("Region")),
                last_used_service=_known(used.get("ServiceName")),
            )
        )
    return found


def _merge_record(ssm: Any, path: str, account: str, section: str, entries: Mapping[str, Any]) -> None:
    """Add entries to the record's section (by key id, or password creation time): a retry
    rewrites its own entries, and what earlier runs recorded is kept."""
    record_id = path.removeprefix(f"{RECORD_ROOT}/").removesuffix(f"/{account}")
    record = load_record(ssm, record_id, account)
    previous = record.changed if record else {}
    kept = previous.get(section)
    changed = merged(previous, **{section: {**(kept if isinstance(kept, dict) else {}), **entries}})
    save_record(ssm, Record(record_id, account, RESPONDER, timestamp(utc_now()), changed))


def _where(path: str, caller: Caller, settings: Settings) -> str:
    return f"{path} (Parameter Store of account {caller.account}, {settings.region})"


def finding_text(change: ComplianceChange) -> str:
    was = f" (was {change.previous})" if change.previous else ""
    where = f" in {change.region}" if change.region else ""
    return f"{change.rule}{where} found it {NON_COMPLIANT}{was}" + (f": {change.annotation}" if change.annotation else ".")


def remove_root_access_keys(
    root_iam: Any, ssm: Any, change: ComplianceChange, member: Member, caller: Caller, settings: Settings
) -> Report:
    """Record each root key of the member (id, status, created, last use), then delete it, then
    check that none is left. Nothing to delete: UNCHANGED."""
    now = utc_now()
    path = record_path(RECORD_IDS[ROOT_ACCESS_KEY_RULE], member.account)
    keys: list[RootKey] = []
    deleted: list[RootKey] = []
    recorded = False
    try:
        keys = read_root_keys(root_iam)
        if not keys:
            return Report(UNCHANGED, f"the root user of {member.account} has no access key (deleted already): nothing to do")
        entries = {key.key_id: {**key.as_record(), "recordedAt": timestamp(now), "event": change.event_id} for key in keys}
        _merge_record(ssm, path, member.account, "keys", entries)
        recorded = True
        for key in keys:
            try:
                root_iam.delete_access_key(AccessKeyId=key.key_id)
            except botocore.exceptions.ClientError as error:
                if error_code(error) != "NoSuchEntity":  # gone already: a retry, or a person
                    raise
            deleted.append(key)
        left = [str(key["AccessKeyId"]) for key in list_root_keys(root_iam)]
        if left:
            raise RuntimeError(f"the root user still has {len(left)} access key(s) after deleting: {', '.join(left)}")
    except (botocore.exceptions.ClientError, RuntimeError) as error:
        lines = [
            f"What: {RESPONDER} FAILED to delete the root access keys of member account {member.describe()}: "
            f"{error_text(error)}.",
            f"Why it acted: {finding_text(change)}",
        ]
        if deleted:
            lines.append("Deleted before the failure (cannot be undone):\n" + "\n".join(f"- {k.describe(now)}" for k in deleted))
        if recorded:
            lines.append(f"Recorded first: {_where(path, caller, settings)}.")
        else:
            lines.append("Nothing was deleted.")
        lines.append(
            f"What to do: {RETRIES} If it still fails, delete them by hand from this account: "
            f"aws sts assume-root --target-principal {member.account} --task-policy-arn arn={caller.task_policy_arn}, "
            "then with those credentials aws iam list-access-keys and aws iam delete-access-key --access-key-id <id>."
        )
        return Report(
            FAILED,
            f"deleting the root access keys of {member.account} failed: {error_text(error)}",
            f"[mamori] FAILED to delete the root access keys of member account {member.account}",
            "\n".join(lines),
            path if recorded else "",
        )
    keys_text = "access key" if len(deleted) == 1 else f"{len(deleted)} access keys"
    body = [
        f"What: {RESPONDER} deleted the root user's {keys_text} of member account {member.describe()} with "
        f"centralized root access (sts:AssumeRoot, task policy IAMDeleteRootUserCredentials).",
        f"Why: {finding_text(change)}",
        "Deleted:\n" + "\n".join(f"- {key.describe(now)}" for key in deleted),
        f"This cannot be undone: a deleted root access key cannot be restored. What remains is its record: "
        f"{_where(path, caller, settings)}.",
        "What to do: anything that still used the key now fails (InvalidClientTokenId); the last use above says where "
        "to look. Give it an IAM role instead, never a new root key.",
        f"Next: {ROOT_ACCESS_KEY_RULE} in {member.account} turns COMPLIANT at its next evaluation.",
    ]
    return Report(
        CHANGED,
        f"deleted {len(deleted)} root access key(s) of {member.account}: {', '.join(k.key_id for k in deleted)}",
        f"[mamori] Deleted the root user's {keys_text} of member account {member.account}",
        "\n\n".join(body),
        path,
    )


def remove_root_password(
    root_iam: Any, ssm: Any, change: ComplianceChange, member: Member, caller: Caller, settings: Settings
) -> Report:
    """Record the member root's password (when it was created), then remove it, then check it
    is gone. Only a password without any MFA device: the finding may also be about the kind of
    MFA (RequireHardwareMfa), and an MFA-protected root keeps its password."""
    now = utc_now()
    path = record_path(RECORD_IDS[ROOT_MFA_RULE], member.account)
    recorded = False
    try:
        try:
            profile = root_iam.get_login_profile()["LoginProfile"]
        except botocore.exceptions.ClientError as error:
            if error_code(error) == "NoSuchEntity":
                return Report(UNCHANGED, f"the root user of {member.account} has no password (removed already): nothing to do")
            raise
        devices = root_iam.list_mfa_devices().get("MFADevices") or []
        if devices:
            return Report(
                UNCHANGED,
                f"the root user of {member.account} has {len(devices)} MFA device(s): its password is kept "
                "(the finding is about the kind of MFA, or is stale)",
            )
        created = _when(profile.get("CreateDate")) or "unknown"
        entry = {
            "created": created,
            "passwordResetRequired": bool(profile.get("PasswordResetRequired", False)),
            "mfaDevices": 0,
            "recordedAt": timestamp(now),
            "event": change.event_id,
        }
        _merge_record(ssm, path, member.account, "passwords", {created: entry})
        recorded = True
        try:
            root_iam.delete_login_profile()
        except botocore.exceptions.ClientError as error:
            if error_code(error) != "NoSuchEntity":
                raise
        try:
            root_iam.get_login_profile()
        except botocore.exceptions.ClientError as error:
            if error_code(error) != "NoSuchEntity":
                raise
        else:
            raise RuntimeError("the root user still has a password after removing it")
    except (botocore.exceptions.ClientError, RuntimeError) as error:
        lines = [
            f"What: {RESPONDER} FAILED to remove the root password of member account {member.describe()}: {error_text(error)}.",
            f"Why it acted: {finding_text(change)}",
            f"Recorded first: {_where(path, caller, settings)}." if recorded else "Nothing was changed.",
            f"What to do: {RETRIES} If it still fails: aws sts assume-root --target-principal {member.account} "
            f"--task-policy-arn arn={caller.task_policy_arn}, then with those credentials aws iam delete-login-profile.",
        ]
        return Report(
            FAILED,
            f"removing the root password of {member.account} failed: {error_text(error)}",
            f"[mamori] FAILED to remove the root password of member account {member.account}",
            "\n".join(lines),
            path if recorded else "",
        )
    body = [
        f"What: {RESPONDER} removed the root user's password (set {created}, no MFA device) of member account "
        f"{member.describe()} with centralized root access (sts:AssumeRoot, task policy IAMDeleteRootUserCredentials), "
        "because CentralRootPasswordRemoval is true.",
        f"Why: {finding_text(change)}",
        "The root user can no longer sign in to the console: a password without MFA was one guess away from the "
        "whole account. Day-to-day access goes through IAM Identity Center or IAM roles.",
        f"Recorded: {_where(path, caller, settings)}. A removed password cannot be put back; if root must sign in "
        "again, allow password recovery for the account (IAM > Root access management, or sts:AssumeRoot with the "
        "IAMCreateRootUserPassword task policy), recover it through the account's email, and assign MFA at once.",
        f"Next: {ROOT_MFA_RULE} in {member.account} turns NOT_APPLICABLE (or NON_COMPLIANT while root still has an "
        "access key) at its next evaluation.",
    ]
    return Report(
        CHANGED,
        f"removed the root password of {member.account}",
        f"[mamori] Removed the root password (no MFA) of member account {member.account}",
        "\n\n".join(body),
        path,
    )


class MemberAccountApi:
    """The account client bound to one member's AccountId: mamori.security_contact's reads and
    writes, made for the caller's own account, then act on that member (the management account
    or the delegated administrator for Account Management may pass AccountId)."""

    def __init__(self, account_client: Any, account_id: str) -> None:
        self._client = account_client
        self._account_id = account_id

    def get_alternate_contact(self, **request: Any) -> Any:
        return self._client.get_alternate_contact(AccountId=self._account_id, **request)

    def put_alternate_contact(self, **request: Any) -> Any:
        return self._client.put_alternate_contact(AccountId=self._account_id, **request)


def set_security_contact(
    account_client: Any,
    ssm: Any,
    change: ComplianceChange,
    member: Member,
    wanted: SecurityContact,
    caller: Caller,
    settings: Settings,
) -> Report:
    """Set the member's SECURITY contact unless it already has the expected email (the rule's own
    decision, re-checked live); the previous one is recorded first, the new one re-read after."""
    api = MemberAccountApi(account_client, member.account)
    path = record_path(RECORD_IDS[SECURITY_CONTACT_RULE], member.account)
    recorded = False
    try:
        current = read_security_contact(api)
        finding = security_contact_finding(current, wanted.email)
        if finding.compliant:
            return Report(UNCHANGED, f"{member.account}: {finding.annotation} Nothing to do.")
        at = timestamp(utc_now())
        change_entry = {
            "at": at,
            "event": change.event_id,
            "previous": current.as_record() if current else None,
            "set": wanted.as_record(),
        }
        # One entry per change, by time: the previous contact of every change is kept.
        _merge_record(ssm, path, member.account, "changes", {at: change_entry})
        recorded = True
        write_security_contact(api, wanted)
        now = read_security_contact(api)
        if not wanted.same_as(now):
            raise RuntimeError(
                f"the SECURITY contact reads {now.describe() if now else 'none'} after setting {wanted.describe()}"
            )
    except (botocore.exceptions.ClientError, RuntimeError) as error:
        lines = [
            f"What: {RESPONDER} FAILED to set the SECURITY contact of member account {member.describe()}: {error_text(error)}.",
            f"Why it acted: {finding_text(change)}",
            f"Recorded first: {_where(path, caller, settings)}." if recorded else "Nothing was changed.",
            f"What to do: {RETRIES} Check that trusted access for AWS Account Management is enabled in Organizations; "
            f"or set it by hand: aws account put-alternate-contact --account-id {member.account} "
            "--alternate-contact-type SECURITY ...",
        ]
        return Report(
            FAILED,
            f"setting the SECURITY contact of {member.account} failed: {error_text(error)}",
            f"[mamori] FAILED to set the SECURITY contact of member account {member.account}",
            "\n".join(lines),
            path if recorded else "",
        )
    previous = current.describe() if current else "none"
    body = [
        f"What: {RESPONDER} set the SECURITY alternate contact of member account {member.describe()} to "
        f"{wanted.describe()}, {wanted.title}, {wanted.phone} (was: {previous}).",
        f"Why: {finding_text(change)} AWS sends abuse reports to the SECURITY contact; without one they go to the root "
        "user's email, which in the open-proxy incident nobody read.",
        f"Recorded (the previous contact): {_where(path, caller, settings)}.",
        f"Next: {SECURITY_CONTACT_RULE} in {member.account} turns COMPLIANT at its next evaluation.",
    ]
    return Report(
        CHANGED,
        f"set the SECURITY contact of {member.account} to {wanted.describe()} (was {previous})",
        f"[mamori] Set the SECURITY contact of member account {member.account}",
        "\n\n".join(body),
        path,
    )
