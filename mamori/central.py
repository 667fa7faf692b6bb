"""The central responders: what the management (or delegated administrator) account does when
a member account's mamori rule turns NON_COMPLIANT, for the few fixes only it can make.

Member accounts forward their `Config Rules Compliance Change` events for mamori rules to the
management account's default event bus; mamori-central-responder reads them with this module:

* mamori-root-access-key: delete the member's root access keys through centralized root access
  (sts:AssumeRoot with the IAMDeleteRootUserCredentials task policy), each key's id, dates and
  last use recorded first, because a deleted root key cannot be restored (the forgotten root key
  of the incident ran up $2,798 in nine regions).
* mamori-root-mfa: with CentralRootPasswordRemoval "true", remove the member root's password
  the same way, when it has no MFA at all.
* mamori-security-contact: set the member's SECURITY alternate contact (account API with
  AccountId), so that abuse reports reach a monitored inbox.

Whom to trust: the event's top-level `account`, which EventBridge sets for aws.* events and a
member cannot forge; detail.awsAccountId and the resource id must agree with it. The account
must be an ACTIVE member of this organization, neither the management account nor this
responder's own account (its own mamori stack remediates those). Anything else is ignored with
a log line, or refused with a message that says why and what a person can do.

Every action re-reads live state first, so a repeated or stale event changes nothing and says
so; records go to Parameter Store in this account under /mamori/central/<what>/<account>.
"""

import datetime
import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import botocore.exceptions

from mamori.abuse_events import subject_line
from mamori.automation import timestamp, utc_now
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

LOG = logging.getLogger("mamori")

RESPONDER = "mamori-central-responder"
SOURCE = "aws.config"
DETAIL_TYPE = "Config Rules Compliance Change"
MESSAGE_TYPE = "ComplianceChangeNotification"
ACCOUNT_RESOURCE_TYPE = "AWS::::Account"
NON_COMPLIANT = "NON_COMPLIANT"
ROOT_ACCESS_KEY_RULE = "mamori-root-access-key"
ROOT_MFA_RULE = "mamori-root-mfa"
SECURITY_CONTACT_RULE = "mamori-security-contact"
RULES = (ROOT_ACCESS_KEY_RULE, ROOT_MFA_RULE, SECURITY_CONTACT_RULE)
# iam:ListOrganizationsFeatures: the centralized root access feature that lets the management
# account (or the delegated administrator for IAM) delete member root credentials.
ROOT_CREDENTIALS_MANAGEMENT = "RootCredentialsManagement"
# The AWS managed task policy that scopes the root session: it allows deleting (and listing)
# root credentials and nothing else.
DELETE_ROOT_CREDENTIALS_POLICY = "policy/root-task/IAMDeleteRootUserCredentials"
ROOT_SESSION_SECONDS = 900  # AssumeRoot's maximum, and its default
RECORD_IDS = {
    ROOT_ACCESS_KEY_RULE: "central/root-access-key",
    ROOT_MFA_RULE: "central/root-password",
    SECURITY_CONTACT_RULE: "central/security-contact",
}
ACCOUNT_ID = re.compile(r"^\d{12}$")
RETRIES = "Lambda retries this event up to twice."

CHANGED = "CHANGED"
UNCHANGED = "UNCHANGED"
REFUSED = "REFUSED"
FAILED = "FAILED"
IGNORED = "IGNORED"


class Ignored(ValueError):
    """The event is not one to act on: logged, never acted on, nobody told."""


class Refusal(Exception):
    """An event about a real finding that this responder must not act on: a person is told why."""

    def __init__(self, reason: str, todo: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.todo = todo


@dataclass(frozen=True)
class ComplianceChange:
    rule: str
    account: str  # the event's `account`: the member whose rule changed
    region: str
    event_id: str
    annotation: str
    previous: str  # the old compliance type, "" when the event has none


@dataclass(frozen=True)
class Caller:
    """Where the responder runs: its own account and the partition (from the Lambda's ARN)."""

    account: str
    partition: str = "aws"

    @classmethod
    def from_function_arn(cls, arn: Any) -> "Caller":
        parts = arn.split(":") if isinstance(arn, str) else []
        if len(parts) < 7 or parts[0] != "arn" or not ACCOUNT_ID.match(parts[4]):
            raise ValueError(f"not a Lambda function ARN: {arn!r}")
        return cls(account=parts[4], partition=parts[1])

    @property
    def task_policy_arn(self) -> str:
        return f"arn:{self.partition}:iam::aws:{DELETE_ROOT_CREDENTIALS_POLICY}"


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


@dataclass(frozen=True)
class Member:
    account: str
    name: str

    def describe(self) -> str:
        return f"{self.account} ({self.name})" if self.name else self.account


@dataclass
class Report:
    """What one action did: a status, one line for the log and the result, and the message to
    publish (no subject: nothing is published)."""

    status: str
    summary: str
    subject: str = ""
    body: str = ""
    record: str = ""


class Clients:
    """boto3 clients made on first use (an ignored event creates none), and the IAM client of a
    root session made from AssumeRoot's credentials."""

    def __init__(self, make: Callable[..., Any]) -> None:
        self._make = make
        self._made: dict[str, Any] = {}

    def __call__(self, service: str) -> Any:
        if service not in self._made:
            self._made[service] = self._make(service)
        return self._made[service]

    def root_iam(self, credentials: Mapping[str, Any]) -> Any:
        return self._make(
            "iam",
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
        )


# --- reading events ------------------------------------------------------------------------


def _text(mapping: Mapping[str, Any], key: str, where: str) -> str | None:
    """A text field, None when absent (or null); Ignored when it holds anything else."""
    value = mapping.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise Ignored(f"{where}.{key} is not text ({type(value).__name__})")
    return value


def _object(mapping: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = mapping.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise Ignored(f"{where}.{key} is not an object ({type(value).__name__})")
    return value


def read_compliance_change(event: Any) -> ComplianceChange:
    """The member's NON_COMPLIANT finding for one of RULES, or Ignored with the reason."""
    if not isinstance(event, Mapping):
        raise Ignored(f"the event is a {type(event).__name__}, not a JSON object")
    if event.get("source") != SOURCE:
        raise Ignored(f"source {event.get('source')!r} is not {SOURCE}")
    if event.get("detail-type") != DETAIL_TYPE:
        raise Ignored(f"detail-type {event.get('detail-type')!r} is not {DETAIL_TYPE!r}")
    detail = event.get("detail")
    if not isinstance(detail, Mapping):
        raise Ignored("the event has no detail object")
    rule = _text(detail, "configRuleName", "detail")
    if rule not in RULES:
        raise Ignored(f"rule {rule!r} is not one the central responder acts on ({', '.join(RULES)})")
    account = event.get("account")
    if not isinstance(account, str) or not ACCOUNT_ID.match(account):
        raise Ignored(f"the event's account {account!r} is not an account id")
    message_type = _text(detail, "messageType", "detail")
    if message_type not in (None, MESSAGE_TYPE):
        raise Ignored(f"detail.messageType {message_type!r} is not {MESSAGE_TYPE}")
    new = _object(detail, "newEvaluationResult", "detail")
    state = new.get("complianceType")
    if state != NON_COMPLIANT:
        raise Ignored(f"{rule} now finds {state!r}, not {NON_COMPLIANT}: nothing to fix")
    qualifier = _object(
        _object(new, "evaluationResultIdentifier", "newEvaluationResult"), "evaluationResultQualifier", "newEvaluationResult"
    )
    if _text(qualifier, "configRuleName", "qualifier") not in (None, rule):
        raise Ignored(f"the evaluation is of rule {qualifier.get('configRuleName')!r}, the event of {rule}")
    # The member's Config sets these; they must agree with `account`, which it cannot forge.
    claimed = _text(detail, "awsAccountId", "detail")
    if claimed not in (None, account):
        raise Ignored(f"detail.awsAccountId {claimed} is not the event's account {account} (forged or misrouted)")
    types = {value for value in (_text(detail, "resourceType", "detail"), _text(qualifier, "resourceType", "qualifier")) if value}
    if types != {ACCOUNT_RESOURCE_TYPE}:
        raise Ignored(f"resource type {sorted(types) or 'missing'} is not {ACCOUNT_RESOURCE_TYPE}")
    ids = {value for value in (_text(detail, "resourceId", "detail"), _text(qualifier, "resourceId", "qualifier")) if value}
    if ids != {account}:
        raise Ignored(f"resource id {sorted(ids) or 'missing'} is not the event's account {account}")
    old = detail.get("oldEvaluationResult")
    previous = old.get("complianceType") if isinstance(old, Mapping) else None
    annotation = new.get("annotation")
    region = detail.get("awsRegion") or event.get("region")
    return ComplianceChange(
        rule=rule,
        account=account,
        region=region if isinstance(region, str) else "",
        event_id=str(event.get("id", "")),
        annotation=annotation if isinstance(annotation, str) else "",
        previous=previous if isinstance(previous, str) else "",
    )


# --- checks --------------------------------------------------------------------------------


def error_code(error: botocore.exceptions.ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def error_text(error: Exception) -> str:
    if isinstance(error, botocore.exceptions.ClientError):
        details = error.response.get("Error", {})
        return f"{details.get('Code', 'Error')}: {details.get('Message', '')}".strip()
    return f"{type(error).__name__}: {error}"


def check_member(organizations: Any, account: str) -> Member:
    """An ACTIVE member of this organization that is not its management account; Refusal otherwise."""
    try:
        organization = organizations.describe_organization()["Organization"]
    except botocore.exceptions.ClientError as error:
        if error_code(error) == "AWSOrganizationsNotInUseException":
            raise Refusal(
                "this account is not in an organization, so it manages no member accounts",
                "Deploy the organization stack in the organization's management (or delegated administrator) account.",
            ) from error
        raise
    if account == organization.get("MasterAccountId"):
        raise Refusal(
            f"{account} is the organization's management account: centralized root access and AccountId act on "
            "member accounts only",
            "The management account's own mamori stack remediates it; for its root credentials, sign in as its root user.",
        )
    try:
        described = organizations.describe_account(AccountId=account)["Account"]
    except botocore.exceptions.ClientError as error:
        if error_code(error) == "AccountNotFoundException":
            raise Refusal(
                f"{account} is not a member of this organization ({organization.get('Id', 'unknown')})",
                "Nothing: mamori acts only on member accounts. If the event should not have reached this bus, check "
                "the bus policy (it must admit only the organization).",
            ) from error
        raise
    # `State` replaces `Status` (retired in 2026); read either.
    state = described.get("State") or described.get("Status")
    if state != "ACTIVE":
        raise Refusal(
            f"{account} is {state or 'in an unknown state'}, not ACTIVE",
            "Nothing while the account is closing or closed; if it is re-activated, its rules report it again.",
        )
    return Member(account, str(described.get("Name") or ""))


def check_centralized_root_access(iam: Any) -> None:
    todo = (
        "Enable centralized root access (IAM console > Root access management, or "
        "`aws iam enable-organizations-root-credentials-management` after trusted access for IAM in Organizations), "
        "or delete the root credentials as the member's root user (the member's own mamori remediation opens an OpsItem "
        "with the steps)."
    )
    try:
        features = iam.list_organizations_features().get("EnabledFeatures") or []
    except botocore.exceptions.ClientError as error:
        if error_code(error) in (
            "OrganizationNotFoundException",
            "OrganizationNotInAllFeaturesModeException",
            "ServiceAccessNotEnabledException",
            "AccountNotManagementOrDelegatedAdministratorException",
        ):
            raise Refusal(f"centralized root access is not available here ({error_text(error)})", todo) from error
        raise
    if ROOT_CREDENTIALS_MANAGEMENT not in features:
        enabled = ", ".join(features) or "none"
        raise Refusal(f"centralized root access ({ROOT_CREDENTIALS_MANAGEMENT}) is not enabled (enabled: {enabled})", todo)


def assume_root(sts: Any, account: str, caller: Caller) -> Mapping[str, Any]:
    """Credentials of a root session in the member, scoped by the IAMDeleteRootUserCredentials task policy."""
    answer = sts.assume_root(
        TargetPrincipal=account,
        TaskPolicyArn={"arn": caller.task_policy_arn},
        DurationSeconds=ROOT_SESSION_SECONDS,
    )
    credentials: Mapping[str, Any] = answer["Credentials"]
    return credentials


# --- the actions -------------------------------------------------------------------------


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


def _found(change: ComplianceChange) -> str:
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
            f"Why it acted: {_found(change)}",
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
        f"Why: {_found(change)}",
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
            f"Why it acted: {_found(change)}",
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
        f"Why: {_found(change)}",
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
            f"Why it acted: {_found(change)}",
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
        f"Why: {_found(change)} AWS sends abuse reports to the SECURITY contact; without one they go to the root "
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


# --- one event -----------------------------------------------------------------------------

WHAT = {
    ROOT_ACCESS_KEY_RULE: "Root access key NOT deleted",
    ROOT_MFA_RULE: "Root password NOT removed",
    SECURITY_CONTACT_RULE: "SECURITY contact NOT set",
}


def refusal_report(change: ComplianceChange, refusal: Refusal) -> Report:
    body = [
        f"What: {RESPONDER} did not act on {change.rule} in account {change.account}: {refusal.reason}.",
        f"The finding: {_found(change)}",
        f"What to do: {refusal.todo}",
    ]
    return Report(
        REFUSED,
        refusal.reason,
        f"[mamori] {WHAT[change.rule]} in account {change.account}",  # why: in the body (subjects stop at 100)
        "\n\n".join(body),
    )


def act(change: ComplianceChange, caller: Caller, settings: Settings, clients: Clients) -> Report:
    """The checks, then the rule's action. Refusal and errors of the checks become reports too."""
    wanted: SecurityContact | None = None
    try:
        member = check_member(clients("organizations"), change.account)
        if change.rule == SECURITY_CONTACT_RULE:
            wanted = settings.security_contact()
        else:
            check_centralized_root_access(clients("iam"))
    except Refusal as refusal:
        return refusal_report(change, refusal)
    except botocore.exceptions.ClientError as error:
        return Report(
            FAILED,
            f"checking {change.account} failed: {error_text(error)}",
            f"[mamori] FAILED to check member account {change.account} for {change.rule}",
            f"What: {RESPONDER} could not check account {change.account} before acting on {change.rule}: "
            f"{error_text(error)}. Nothing was changed.\n\nThe finding: {_found(change)}\n\nWhat to do: {RETRIES}",
        )
    if wanted is not None:
        return set_security_contact(clients("account"), clients("ssm"), change, member, wanted, caller, settings)
    try:
        credentials = assume_root(clients("sts"), member.account, caller)
    except botocore.exceptions.ClientError as error:
        return Report(
            FAILED,
            f"sts:AssumeRoot into {member.account} failed: {error_text(error)}",
            f"[mamori] FAILED to open a root session in member account {member.account} for {change.rule}",
            f"What: {RESPONDER} could not open a root session in member account {member.describe()} "
            f"(sts:AssumeRoot, task policy IAMDeleteRootUserCredentials): {error_text(error)}. Nothing was changed.\n\n"
            f"The finding: {_found(change)}\n\n"
            f"What to do: {RETRIES} Check that the responder's role may call sts:AssumeRoot with that task policy, that "
            "no SCP denies it, and that centralized root access covers the account.",
        )
    root_iam = clients.root_iam(credentials)
    if change.rule == ROOT_ACCESS_KEY_RULE:
        return remove_root_access_keys(root_iam, clients("ssm"), change, member, caller, settings)
    return remove_root_password(root_iam, clients("ssm"), change, member, caller, settings)


def ignored(reason: str, event: Any) -> dict[str, Any]:
    LOG.info("Ignored: %s: %s", reason, json.dumps(event, default=str)[:500])
    return {"acted": False, "status": IGNORED, "reason": reason}


def respond(event: Any, caller: Caller, settings: Settings, clients: Clients) -> dict[str, Any]:
    """Read the event, act, publish what happened; raise after publishing when the action failed
    (the failure then shows in the Lambda's metrics, and Lambda retries)."""
    try:
        change = read_compliance_change(event)
    except Ignored as error:
        return ignored(str(error), event)
    if change.account == caller.account:
        return ignored(f"{change.account} is this responder's own account: its own mamori stack remediates it", event)
    if change.rule == ROOT_MFA_RULE and not settings.removes_root_passwords():
        return ignored(f"{ROOT_MFA_RULE} in {change.account}: CentralRootPasswordRemoval is false", event)

    try:
        report = act(change, caller, settings, clients)
    except Exception as error:  # anything unforeseen still reaches a person before the Lambda fails
        report = Report(
            FAILED,
            f"unexpected {error_text(error)}",
            f"[mamori] FAILED to act on {change.rule} in account {change.account}",
            f"What: {RESPONDER} failed on {change.rule} in account {change.account}: {error_text(error)}.\n\n"
            f"The finding: {_found(change)}\n\nWhat to do: {RETRIES} Its log says how far it got.",
        )
    LOG.info("%s %s in %s: %s", report.status, change.rule, change.account, report.summary)
    if report.subject:
        clients("sns").publish(TopicArn=settings.topic_arn, Subject=subject_line(report.subject), Message=report.body)
    if report.status == FAILED:
        raise RuntimeError(f"{change.rule} in {change.account}: {report.summary}")
    return {
        "acted": report.status == CHANGED,
        "status": report.status,
        "rule": change.rule,
        "account": change.account,
        "reason": report.summary,
        "record": report.record,
        "subject": subject_line(report.subject) if report.subject else "",
    }
