"""The central responder's actions on a member account, each a remediation on the kernel
(mamori.remediation): it re-reads live state first, records what it changes (Parameter Store of
this account, /mamori/central/<what>/<account>, merged with what earlier runs recorded) before
changing it, and re-checks live state after:

* remove_root_access_keys: delete the member root's access keys (a deleted key cannot be
  restored: its id, dates and last use are recorded first);
* remove_root_password: remove the member root's password when it has no MFA at all;
* set_security_contact: set the member's SECURITY alternate contact (account API with AccountId).

Each returns a Report: a status (mamori.status), a summary, and the message to publish.
"""

import datetime
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import botocore.exceptions

from mamori.account_unit import AccountScoped
from mamori.automation import timestamp, utc_now
from mamori.aws_api import error_code, error_text
from mamori.central.events import ROOT_ACCESS_KEY_RULE, ROOT_MFA_RULE, SECURITY_CONTACT_RULE, ComplianceChange
from mamori.central.organization import Caller, Member, Refusal
from mamori.compliance import NON_COMPLIANT
from mamori.credential_report import AccessKeyUse
from mamori.records import HISTORY_LIMIT, Record, merged
from mamori.remediation import Nothing, Plan, Remediation, Target, run_remediation
from mamori.reported import plain, quoted
from mamori.root_credentials import describe_root_key
from mamori.security_contact import (
    CONTACT_PATTERNS,
    LiveContact,
    SecurityContact,
    describe_contact,
    read_live_contact,
    read_security_contact,
    security_contact_finding,
    write_security_contact,
)
from mamori.status import FAILED, REMEDIATED

RESPONDER = "mamori-central-responder"
RETRIES = "Lambda retries this event up to twice."


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
    leaked_key_response: str = "true"

    def responds_to_leaked_keys(self) -> bool:
        return self.leaked_key_response.strip().lower() == "true"

    # mamori.deduplication's table and this responder's key prefix ("" for none: tell every time).
    deduplication_table: str = ""
    deduplication_owner: str = ""

    def removes_root_passwords(self) -> bool:
        value = self.root_password_removal.strip().lower()
        if value not in ("true", "false"):
            raise ValueError(f"CentralRootPasswordRemoval must be true or false, got {self.root_password_removal!r}")
        return value == "true"

    def security_contact(self) -> SecurityContact:
        """The contact to set; Refusal naming what is missing or invalid."""
        values = {
            "ExpectedSecurityEmail": (self.expected_email, CONTACT_PATTERNS["email"]),
            "SecurityContactName": (self.contact_name, CONTACT_PATTERNS["name"]),
            "SecurityContactTitle": (self.contact_title, CONTACT_PATTERNS["title"]),
            "SecurityContactPhone": (self.contact_phone, CONTACT_PATTERNS["phone"]),
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


def _if_exists(call: Callable[..., Any], **request: Any) -> Any:
    """The call's answer, or None when IAM answers NoSuchEntity (gone already: a retry, or a person)."""
    try:
        return call(**request)
    except botocore.exceptions.ClientError as error:
        if error_code(error) != "NoSuchEntity":
            raise
        return None


def finding_text(change: ComplianceChange) -> str:
    """The member's finding. Its annotation is the member's text (anyone there may call
    config:PutEvaluations): quoted, cut to one safe line and marked as the member's words."""
    if change.exposed_keys:
        return (
            f"AWS Health reported access key {', '.join(plain(key, 32) for key in change.exposed_keys)} of account "
            f"{plain(change.account, 12)} exposed in public (AWS_RISK_CREDENTIALS_EXPOSED, {plain(change.health_event, 300)})."
        )
    was = f" (was {plain(change.previous, 20)})" if change.previous else ""
    where = f" in {plain(change.region, 30)}" if change.region else ""
    said = f": {quoted(change.annotation, change.account)}" if plain(change.annotation) else "."
    return f"{change.rule}{where} found it {NON_COMPLIANT}{was}{said}"


@dataclass(frozen=True)
class ActionContext:
    """What every action is given: the responder's SSM client (its records), the event, the
    member it acts on, and where the responder runs."""

    ssm: Any
    change: ComplianceChange
    member: Member
    caller: Caller
    settings: Settings


class CentralAction(AccountScoped, Remediation[Target]):
    """One action of the responder on a member, run by the kernel (run_central): the resource is
    the member's AccountId; the record is /mamori/central/<what>/<account> in this account's
    Parameter Store, written with the responder's client and in its name (no document, no
    restore, no tag). Each run adds its entries to the record's section, by key (key id,
    password creation time, time of the change): a retry rewrites its own entries, and what
    earlier runs recorded is kept, the HISTORY_LIMIT latest entries (a record stays small)."""

    section: ClassVar[str]  # the record's section: keys, passwords, changes
    what: ClassVar[str]  # "delete the root access keys", for the subject and message of a failure
    doing: ClassVar[str]  # "deleting the root access keys", for its summary
    nothing_done: ClassVar[str] = "Nothing was changed."

    def __init__(self, context: ActionContext) -> None:
        self._ssm = context.ssm
        self.change = context.change
        self.member = context.member
        self.caller = context.caller
        self.settings = context.settings
        super().__init__({self.resource_input: context.member.account})

    def read_parameters(self) -> None:
        self.now = utc_now()  # this module's clock, as the records and messages use it

    @property
    def document(self) -> str:
        return RESPONDER

    @property
    def restore_document(self) -> str | None:
        return None

    @property
    def ssm(self) -> Any:
        return self._ssm

    @property
    def where(self) -> str:
        return f"{self.record_path} (Parameter Store of account {self.caller.account}, {self.settings.region})"

    def entries(self, target: Target) -> dict[str, Any]:
        """What this run adds to the record's section, by key."""
        raise NotImplementedError

    def record(self, target: Target, plan: Plan, previous: Record | None) -> dict[str, Any]:
        earlier = previous.changed if previous else {}
        kept = earlier.get(self.section)
        new = self.entries(target)
        # This run's entries last (a retry's too), so that the cap drops only the oldest.
        entries = {key: value for key, value in (kept if isinstance(kept, dict) else {}).items() if key not in new} | new
        return merged(earlier, **{self.section: dict(list(entries.items())[-HISTORY_LIMIT:])})

    def apply(self, target: Target, plan: Plan) -> None:
        self.change_member(target)

    def change_member(self, target: Target) -> None:
        raise NotImplementedError

    def told(self) -> tuple[str, list[str]]:
        """The subject and the paragraphs of the message of a run that changed the member."""
        raise NotImplementedError

    def done_before_failure(self) -> list[str]:
        """What a failure's message says was done before it."""
        return []

    def by_hand(self) -> str:
        """A failure's "What to do" after the retries."""
        raise NotImplementedError

    def failed(self, error: Exception) -> Report:
        text = error_text(error)
        lines = [
            f"What: {RESPONDER} FAILED to {self.what} of member account {self.member.describe()}: {text.rstrip('.')}.",
            f"Why it acted: {finding_text(self.change)}",
            *self.done_before_failure(),
            self.record_line(),
            f"What to do: {RETRIES} {self.by_hand()}",
        ]
        return Report(
            FAILED,
            f"{self.doing} of {self.member.account} failed: {text}",
            f"[mamori] FAILED to {self.what} of member account {self.member.account}",
            "\n".join(lines),
            self.record_path if self.record_saved else "",
        )

    def record_line(self) -> str:
        """What a failure's message says of the record (kernel: record_saved, acted)."""
        if self.record_saved:
            return f"Recorded first: {self.where}."
        if self.acted:
            return f"Its record could not be written to {self.where}: what was done is in this message."
        return self.nothing_done


def run_central(action: CentralAction[Any]) -> Report:
    """The action on the kernel, as a Report. A call that fails, or live state still wrong after
    the change, is a FAILED Report that says what was recorded and done before."""
    try:
        result = run_remediation(action)
    except (botocore.exceptions.ClientError, RuntimeError) as error:
        return action.failed(error)
    if result["Status"] != REMEDIATED:
        return Report(result["Status"], result["Message"])
    subject, body = action.told()
    return Report(REMEDIATED, result["Message"], subject, "\n\n".join(body), action.record_path)


class RootSessionAction(CentralAction[Target]):
    """An action with the root session in the member (sts:AssumeRoot, IAMDeleteRootUserCredentials)."""

    def __init__(self, root_iam: Any, context: ActionContext) -> None:
        self.root_iam = root_iam
        super().__init__(context)

    @property
    def assume_root(self) -> str:
        """The command that opens the same root session."""
        return f"aws sts assume-root --target-principal {self.resource_id} --task-policy-arn arn={self.caller.task_policy_arn}"


class RootKeyRemoval(RootSessionAction[list[RootKey]]):
    """Record each root key of the member (id, status, created, last use), then delete it, then
    check that none is left."""

    remediation_id = "central/root-access-key"
    section = "keys"
    what = "delete the root access keys"
    doing = "deleting the root access keys"
    nothing_done = "Nothing was deleted."

    def read_parameters(self) -> None:
        super().read_parameters()
        self.deleted: list[RootKey] = []

    def find(self) -> list[RootKey]:
        return read_root_keys(self.root_iam)

    def plan(self, target: list[RootKey]) -> Plan | Nothing:
        if not target:
            return Nothing(f"the root user of {self.resource_id} has no access key (deleted already): nothing to do")
        exposed = set(self.change.exposed_keys)
        if exposed and not exposed & {key.key_id for key in target}:
            return Nothing(
                f"the exposed key {', '.join(sorted(exposed))} is not a root key of {self.resource_id}: the member's own "
                "mamori stack contains an IAM user's key"
            )
        return Plan([f"delete the root access key {key.key_id}" for key in target])

    def entries(self, target: list[RootKey]) -> dict[str, Any]:
        moment = timestamp(self.now)
        return {key.key_id: {**key.as_record(), "recordedAt": moment, "event": self.change.event_id} for key in target}

    def change_member(self, target: list[RootKey]) -> None:
        for key in target:
            _if_exists(self.root_iam.delete_access_key, AccessKeyId=key.key_id)
            self.deleted.append(key)

    def still_wrong(self, target: list[RootKey], plan: Plan) -> str | None:
        left = [str(key["AccessKeyId"]) for key in list_root_keys(self.root_iam)]
        return f"the root user still has {len(left)} access key(s) after deleting: {', '.join(left)}" if left else None

    def done_message(self, target: list[RootKey], plan: Plan) -> str:
        ids = ", ".join(key.key_id for key in self.deleted)
        return f"deleted {len(self.deleted)} root access key(s) of {self.resource_id}: {ids}"

    def deleted_text(self) -> str:
        return "\n".join(f"- {key.describe(self.now)}" for key in self.deleted)

    def done_before_failure(self) -> list[str]:
        return ["Deleted before the failure (cannot be undone):\n" + self.deleted_text()] if self.deleted else []

    def by_hand(self) -> str:
        return (
            f"If it still fails, delete them by hand from this account: {self.assume_root}, then with those credentials "
            "aws iam list-access-keys and aws iam delete-access-key --access-key-id <id>."
        )

    def told(self) -> tuple[str, list[str]]:
        keys_text = "access key" if len(self.deleted) == 1 else f"{len(self.deleted)} access keys"
        return f"[mamori] Deleted the root user's {keys_text} of member account {self.resource_id}", [
            f"What: {RESPONDER} deleted the root user's {keys_text} of member account {self.member.describe()} with "
            f"centralized root access (sts:AssumeRoot, task policy IAMDeleteRootUserCredentials).",
            f"Why: {finding_text(self.change)}",
            "Deleted:\n" + self.deleted_text(),
            f"This cannot be undone: a deleted root access key cannot be restored. What remains is its record: {self.where}.",
            "What to do: anything that still used the key now fails (InvalidClientTokenId); the last use above says where "
            "to look. Give it an IAM role instead, never a new root key.",
            f"Next: {ROOT_ACCESS_KEY_RULE} in {self.resource_id} turns COMPLIANT at its next evaluation.",
        ]


@dataclass(frozen=True)
class RootPassword:
    """The member root's password as read now: when it was set ("unknown" when IAM does not say;
    None: root has no password), whether a reset is required, and how many MFA devices root has."""

    created: str | None
    reset_required: bool = False
    mfa_devices: int = 0


class RootPasswordRemoval(RootSessionAction[RootPassword]):
    """Record the member root's password (when it was created), then remove it, then check it
    is gone. Only a password without any MFA device: the finding may also be about the kind of
    MFA (RequireHardwareMfa), and an MFA-protected root keeps its password."""

    remediation_id = "central/root-password"
    section = "passwords"
    what = "remove the root password"
    doing = "removing the root password"

    def find(self) -> RootPassword:
        found = _if_exists(self.root_iam.get_login_profile)
        if found is None:
            self.found = RootPassword(None)
        else:
            devices = self.root_iam.list_mfa_devices().get("MFADevices") or []
            profile = found["LoginProfile"]
            created = _when(profile.get("CreateDate")) or "unknown"
            self.found = RootPassword(created, bool(profile.get("PasswordResetRequired", False)), len(devices))
        return self.found

    def plan(self, target: RootPassword) -> Plan | Nothing:
        if target.created is None:
            return Nothing(f"the root user of {self.resource_id} has no password (removed already): nothing to do")
        if target.mfa_devices:
            return Nothing(
                f"the root user of {self.resource_id} has {target.mfa_devices} MFA device(s): its password is kept "
                "(the finding is about the kind of MFA, or is stale)"
            )
        return Plan([f"remove the root password (set {target.created}, no MFA device)"])

    def entries(self, target: RootPassword) -> dict[str, Any]:
        entry = {
            "created": target.created,
            "passwordResetRequired": target.reset_required,
            "mfaDevices": target.mfa_devices,
            "recordedAt": timestamp(self.now),
            "event": self.change.event_id,
        }
        return {str(target.created): entry}

    def change_member(self, target: RootPassword) -> None:
        _if_exists(self.root_iam.delete_login_profile)

    def still_wrong(self, target: RootPassword, plan: Plan) -> str | None:
        left = _if_exists(self.root_iam.get_login_profile) is not None
        return "the root user still has a password after removing it" if left else None

    def done_message(self, target: RootPassword, plan: Plan) -> str:
        return f"removed the root password of {self.resource_id}"

    def by_hand(self) -> str:
        return f"If it still fails: {self.assume_root}, then with those credentials aws iam delete-login-profile."

    def told(self) -> tuple[str, list[str]]:
        return f"[mamori] Removed the root password (no MFA) of member account {self.resource_id}", [
            f"What: {RESPONDER} removed the root user's password (set {self.found.created}, no MFA device) of member "
            f"account {self.member.describe()} with centralized root access (sts:AssumeRoot, task policy "
            "IAMDeleteRootUserCredentials), because CentralRootPasswordRemoval is true.",
            f"Why: {finding_text(self.change)}",
            "The root user can no longer sign in to the console: a password without MFA was one guess away from the "
            "whole account. Day-to-day access goes through IAM Identity Center or IAM roles.",
            f"Recorded: {self.where}. A removed password cannot be put back; if root must sign in again, allow password "
            "recovery for the account (IAM > Root access management, or sts:AssumeRoot with the "
            "IAMCreateRootUserPassword task policy), recover it through the account's email, and assign MFA at once.",
            f"Next: {ROOT_MFA_RULE} in {self.resource_id} turns NOT_APPLICABLE (or NON_COMPLIANT while root still has an "
            "access key) at its next evaluation.",
        ]


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


class SecurityContactSetting(CentralAction[LiveContact]):
    """Set the member's SECURITY contact unless it already has the expected email (the rule's own
    decision, re-checked live); the previous one is recorded first, the new one re-read after."""

    remediation_id = "central/security-contact"
    section = "changes"
    what = "set the SECURITY contact"
    doing = "setting the SECURITY contact"

    def __init__(self, account_client: Any, wanted: SecurityContact, context: ActionContext) -> None:
        self.api = MemberAccountApi(account_client, context.member.account)
        self.wanted = wanted
        super().__init__(context)

    def find(self) -> LiveContact:
        self.found = read_live_contact(self.api)
        return self.found

    def plan(self, target: LiveContact) -> Plan | Nothing:
        finding = security_contact_finding(target.contact, self.wanted.email)
        if finding.compliant:
            return Nothing(f"{self.resource_id}: {finding.annotation} Nothing to do.")
        return Plan([f"set {self.wanted.describe()} as the SECURITY contact of {self.resource_id}"])

    def entries(self, target: LiveContact) -> dict[str, Any]:
        # One entry per change, by time: the previous contact of every change is kept.
        at = timestamp(self.now)
        previous = target.contact.as_record() if target.contact else None
        return {at: {"at": at, "event": self.change.event_id, "previous": previous, "set": self.wanted.as_record()}}

    def change_member(self, target: LiveContact) -> None:
        write_security_contact(self.api, self.wanted)

    def still_wrong(self, target: LiveContact, plan: Plan) -> str | None:
        now = read_security_contact(self.api)
        return (
            None
            if self.wanted.same_as(now)
            else f"the SECURITY contact reads {describe_contact(now)} after setting {self.wanted.describe()}"
        )

    def done_message(self, target: LiveContact, plan: Plan) -> str:
        return (
            f"set the SECURITY contact of {self.resource_id} to {self.wanted.describe()} (was {describe_contact(target.contact)})"
        )

    def by_hand(self) -> str:
        return (
            "Check that trusted access for AWS Account Management is enabled in Organizations; or set it by hand: "
            f"aws account put-alternate-contact --account-id {self.resource_id} --alternate-contact-type SECURITY ..."
        )

    def told(self) -> tuple[str, list[str]]:
        wanted = self.wanted
        return f"[mamori] Set the SECURITY contact of member account {self.resource_id}", [
            f"What: {RESPONDER} set the SECURITY alternate contact of member account {self.member.describe()} to "
            f"{wanted.describe()}, {wanted.title}, {wanted.phone} (was: {describe_contact(self.found.contact)}).",
            f"Why: {finding_text(self.change)} AWS sends abuse reports to the SECURITY contact; without one they go to "
            "the root user's email, which in the open-proxy incident nobody read.",
            f"Recorded (the previous contact): {self.where}.",
            f"Next: {SECURITY_CONTACT_RULE} in {self.resource_id} turns COMPLIANT at its next evaluation.",
        ]


def remove_root_access_keys(
    root_iam: Any, ssm: Any, change: ComplianceChange, member: Member, caller: Caller, settings: Settings
) -> Report:
    return run_central(RootKeyRemoval(root_iam, ActionContext(ssm, change, member, caller, settings)))


def remove_root_password(
    root_iam: Any, ssm: Any, change: ComplianceChange, member: Member, caller: Caller, settings: Settings
) -> Report:
    return run_central(RootPasswordRemoval(root_iam, ActionContext(ssm, change, member, caller, settings)))


def set_security_contact(
    account_client: Any,
    ssm: Any,
    change: ComplianceChange,
    member: Member,
    wanted: SecurityContact,
    caller: Caller,
    settings: Settings,
) -> Report:
    return run_central(SecurityContactSetting(account_client, wanted, ActionContext(ssm, change, member, caller, settings)))
