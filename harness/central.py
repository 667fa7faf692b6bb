"""Thin stand-ins for centralized root access, which moto 5.2.5 lacks, installed on a
harness.aws.Sandbox for the central responder's tests and the organization demo.

* sts:AssumeRoot: answered after the sandbox's own hook (which counts the call and refuses it
  unless the acting principal is granted sts:AssumeRoot), as STS would: only from the
  organization's management account (moto's Organizations), only into an ACTIVE member that
  is not the management account, only with centralized root access enabled, DurationSeconds
  0-900, one of the AWS root-task policies. The credentials it returns identify a root session
  in the target member.
* Calls made with those credentials: answered before the sandbox's hook (the Lambda's role does
  not authorize them, the task policy does), counted per member as `root_principal(member)`,
  refused unless the IAMDeleteRootUserCredentials task policy allows them or when they name a
  UserName (the policy denies every resource but the root user). ListAccessKeys,
  GetAccessKeyLastUsed, DeleteAccessKey, GetLoginProfile, DeleteLoginProfile and ListMFADevices
  read and change a per-member harness.aws.RootCredentials (the root user's state, which no API
  can set up): `roots[member]`.
* iam:ListOrganizationsFeatures: the organization's id (moto) and the enabled features.

The account API needs no stand-in: moto keeps alternate contacts per AccountId.
"""

import datetime
import itertools
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.exceptions
from moto.organizations.models import organizations_backends

from harness.aws import ACCOUNT, RootAccessKey, RootCredentials, Sandbox
from harness.pack import org_template
from mamori.catalog import responder_spec

ROOT_CREDENTIALS_MANAGEMENT = "RootCredentialsManagement"
ROOT_SESSIONS = "RootSessions"
TASK_POLICY_PREFIX = "policy/root-task/"
DELETE_ROOT_CREDENTIALS = "IAMDeleteRootUserCredentials"
# What each task policy allows (the AWS managed policies, version v1). Sessions scoped by the
# others are accepted and refused every call here: this stand-in does not model them.
TASK_POLICY_ACTIONS: dict[str, frozenset[str]] = {
    DELETE_ROOT_CREDENTIALS: frozenset(
        {
            "iam:DeleteAccessKey",
            "iam:DeleteSigningCertificate",
            "iam:DeleteLoginProfile",
            "iam:DeactivateMFADevice",
            "iam:DeleteVirtualMFADevice",
            "iam:ListAccessKeys",
            "iam:ListSigningCertificates",
            "iam:GetLoginProfile",
            "iam:ListMFADevices",
            "iam:GetUser",
            "iam:GetAccessKeyLastUsed",
        }
    ),
    "IAMAuditRootUserCredentials": frozenset(),
    "IAMCreateRootUserPassword": frozenset(),
    "S3UnlockBucketPolicy": frozenset(),
    "SQSUnlockQueuePolicy": frozenset(),
}
# Which centralized root access feature a root task needs.
TASK_FEATURES = {
    DELETE_ROOT_CREDENTIALS: ROOT_CREDENTIALS_MANAGEMENT,
    "IAMAuditRootUserCredentials": ROOT_CREDENTIALS_MANAGEMENT,
    "IAMCreateRootUserPassword": ROOT_CREDENTIALS_MANAGEMENT,
    "S3UnlockBucketPolicy": ROOT_SESSIONS,
    "SQSUnlockQueuePolicy": ROOT_SESSIONS,
}
MAX_ROOT_SESSION_SECONDS = 900


def root_principal(account: str) -> str:
    """How the sandbox's call counts name the calls of a root session in a member account."""
    return f"root-session:{account}"


@dataclass
class _Response:
    status_code: int = 200
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RootSession:
    account: str
    task_policy: str  # the policy's name, e.g. IAMDeleteRootUserCredentials
    expires: datetime.datetime


@dataclass(frozen=True)
class AssumeRootRequest:
    target: str
    task_policy_arn: str
    duration_seconds: int | None


def _error(code: str, message: str, operation: str) -> botocore.exceptions.ClientError:
    return botocore.exceptions.ClientError({"Error": {"Code": code, "Message": message}}, operation)


def _organizations() -> Any:
    """moto's Organizations backend of the sandbox's account (the caller)."""
    return organizations_backends[ACCOUNT]["aws"]


class CentralRootAccess:
    """Centralized root access of the organization: enabled features, each member's root user,
    and the root sessions AssumeRoot has opened."""

    def __init__(self, sandbox: Sandbox, features: tuple[str, ...] = (ROOT_CREDENTIALS_MANAGEMENT, ROOT_SESSIONS)) -> None:
        self.sandbox = sandbox
        self.features = set(features)
        self.roots: dict[str, RootCredentials] = {}
        self.sessions: dict[str, RootSession] = {}  # by access key id
        self.requests: list[AssumeRootRequest] = []  # AssumeRoot as it was called
        self.next_answers: dict[str, list[str | dict[str, Any]]] = {}
        self._key_ids: dict[int, tuple[RootAccessKey, str]] = {}
        self._ids = itertools.count(1)
        assert boto3.DEFAULT_SESSION is not None, "create the Sandbox first"
        # First: a root session's calls are authorized by its task policy, not by the acting role.
        boto3.DEFAULT_SESSION.events.register_first("before-call", self._root_session_call)
        # Last: after the sandbox has counted the caller's call and checked its grant.
        boto3.DEFAULT_SESSION.events.register_last("before-call", self._management_call)

    def root(self, account: str) -> RootCredentials:
        return self.roots.setdefault(account, RootCredentials(password=False))

    def give_root_key(self, account: str, key: RootAccessKey | None = None) -> str:
        """Add a root access key to the member's root user; returns its id."""
        key = key or RootAccessKey()
        self.root(account).access_keys.append(key)
        return self.key_id(account, key)

    def key_id(self, account: str, key: RootAccessKey) -> str:
        if id(key) not in self._key_ids:
            self._key_ids[id(key)] = (key, f"AKIA{account[-6:]}{next(self._ids):010d}")
        return self._key_ids[id(key)][1]

    def key_ids(self, account: str) -> list[str]:
        return [self.key_id(account, key) for key in self.root(account).access_keys]

    def answer_next(self, action: str, *answers: str | dict[str, Any]) -> None:
        """The next root-session calls of action ("iam:DeleteAccessKey") get these answers: an
        error code string raises it, a dict is returned without changing anything."""
        self.next_answers.setdefault(action, []).extend(answers)

    # --- calls with the caller's own credentials ---------------------------------------------

    def _management_call(self, model: Any, params: Mapping[str, Any], **_: Any) -> Any:
        action = f"{model.service_model.signing_name}:{model.name}"
        if action == "sts:AssumeRoot":
            return _Response(), self._assume_root(params.get("body") or {})
        if action == "iam:ListOrganizationsFeatures":
            return _Response(), self._list_features()
        return None

    def _list_features(self) -> dict[str, Any]:
        organization = _organizations().org
        if organization is None:
            raise _error("OrganizationNotFoundException", "The account is not in an organization.", "ListOrganizationsFeatures")
        return {"OrganizationId": organization.id, "EnabledFeatures": sorted(self.features)}

    def _assume_root(self, body: Mapping[str, Any]) -> dict[str, Any]:
        operation = "AssumeRoot"
        target = str(body.get("TargetPrincipal", ""))
        policy_arn = str(body.get("TaskPolicyArn.arn", ""))
        duration = int(body["DurationSeconds"]) if "DurationSeconds" in body else None
        self.requests.append(AssumeRootRequest(target, policy_arn, duration))
        account = target.split(":")[4] if target.startswith("arn:") and len(target.split(":")) > 4 else target
        if not (account.isdigit() and len(account) == 12):
            raise _error("ValidationError", f"TargetPrincipal {target!r} is not a member account", operation)
        partition, _, name = policy_arn.removeprefix("arn:").partition(":iam::aws:" + TASK_POLICY_PREFIX)
        if not partition.startswith("aws") or name not in TASK_POLICY_ACTIONS:
            raise _error("ValidationError", f"TaskPolicyArn {policy_arn!r} is not a root-task policy", operation)
        seconds = MAX_ROOT_SESSION_SECONDS if duration is None else duration
        if not 0 <= seconds <= MAX_ROOT_SESSION_SECONDS:
            raise _error("ValidationError", f"DurationSeconds {seconds} is not between 0 and 900", operation)
        backend = _organizations()
        organization = backend.org
        if organization is None or organization.master_account_id != ACCOUNT:
            raise _error("AccessDenied", "AssumeRoot is for the management account or the IAM delegated administrator", operation)
        if TASK_FEATURES[name] not in self.features:
            raise _error("AccessDenied", f"centralized root access ({TASK_FEATURES[name]}) is not enabled", operation)
        if account == organization.master_account_id:
            raise _error("AccessDenied", "the management account is not a member account", operation)
        member = next((a for a in backend.accounts if a.id == account), None)
        if member is None or member.status != "ACTIVE":
            raise _error("AccessDenied", f"{account} is not an active member of the organization", operation)
        key_id = f"ASIA{secrets.token_hex(8).upper()}"
        expires = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=seconds)
        self.sessions[key_id] = RootSession(account, name, expires)
        return {
            "Credentials": {
                "AccessKeyId": key_id,
                "SecretAccessKey": secrets.token_urlsafe(30),
                "SessionToken": secrets.token_urlsafe(60),
                "Expiration": expires,
            }
        }

    # --- calls with a root session's credentials ----------------------------------------------

    def _root_session_call(self, model: Any, params: Mapping[str, Any], request_signer: Any = None, **_: Any) -> Any:
        # The request's own credentials tell a root session's call from the caller's (private to
        # botocore's RequestSigner, read only here).
        credentials = getattr(request_signer, "_credentials", None)
        session = self.sessions.get(str(getattr(credentials, "access_key", "")))
        if session is None:
            return None
        action = f"{model.service_model.signing_name}:{model.name}"
        self.sandbox.calls[(root_principal(session.account), action)] += 1
        body = params.get("body") or {}
        if datetime.datetime.now(datetime.UTC) >= session.expires:
            raise _error("ExpiredToken", "The security token included in the request is expired", model.name)
        if action not in TASK_POLICY_ACTIONS[session.task_policy] or "UserName" in body:
            raise _error(
                "AccessDenied",
                f"root session in {session.account} ({session.task_policy}) is not allowed {action} on this resource",
                model.name,
            )
        queued = self.next_answers.get(action)
        if queued:
            answer = queued.pop(0)
            if isinstance(answer, str):
                raise _error(answer, f"injected {answer}", model.name)
            return _Response(), answer
        return _Response(), self._answer(session.account, model.name, body)

    def _find_key(self, account: str, key_id: str, operation: str) -> RootAccessKey:
        for key in self.root(account).access_keys:
            if self.key_id(account, key) == key_id:
                return key
        raise _error("NoSuchEntity", f"The Access Key with id {key_id} cannot be found.", operation)

    def _answer(self, account: str, operation: str, body: Mapping[str, Any]) -> dict[str, Any]:
        root = self.root(account)
        if operation == "ListAccessKeys":
            return {
                "AccessKeyMetadata": [
                    {
                        "AccessKeyId": self.key_id(account, key),
                        "Status": "Active" if key.active else "Inactive",
                        "CreateDate": key.created,
                    }
                    for key in root.access_keys
                ],
                "IsTruncated": False,
            }
        if operation == "GetAccessKeyLastUsed":
            key = self._find_key(account, str(body.get("AccessKeyId")), operation)
            used: dict[str, Any] = {"ServiceName": key.last_used_service or "N/A", "Region": key.last_used_region or "N/A"}
            if key.last_used is not None:
                used["LastUsedDate"] = key.last_used
            return {"AccessKeyLastUsed": used}
        if operation == "DeleteAccessKey":
            root.access_keys.remove(self._find_key(account, str(body.get("AccessKeyId")), operation))
            return {}
        if operation in ("GetLoginProfile", "DeleteLoginProfile"):
            if not root.password:
                raise _error("NoSuchEntity", "The root user's login profile cannot be found.", operation)
            if operation == "DeleteLoginProfile":
                root.password = False
                return {}
            # No API says when the root password was set; the root user's creation stands in.
            return {"LoginProfile": {"CreateDate": root.created, "PasswordResetRequired": False}}
        if operation == "ListMFADevices":
            devices = (
                [{"SerialNumber": f"arn:aws:iam::{account}:mfa/root-account-mfa-device", "EnableDate": root.created}]
                if root.mfa_active
                else []
            )
            return {"MFADevices": devices, "IsTruncated": False}
        raise NotImplementedError(f"this stand-in does not answer {operation} in a root session")


def central_responder_environment(topic: str, table: str = "", **pack_values: str) -> dict[str, str]:
    """The function's environment as CloudFormation resolves org-template.yaml's Refs: the topic,
    the deduplication table (harness.pack.make_deduplication_table), the stack parameters as set
    (or their template defaults)."""
    function = org_template()["Resources"][responder_spec("central").function_id]["Properties"]
    declared = org_template()["Parameters"]
    environment = {}
    for key, value in function["Environment"]["Variables"].items():
        if isinstance(value, str):
            environment[key] = value
        elif value["Ref"] == "NotificationTopic":
            environment[key] = topic
        elif value["Ref"] == "DeduplicationTable":
            environment[key] = table
        else:
            environment[key] = pack_values.get(value["Ref"], str(declared[value["Ref"]].get("Default", "")))
    return environment
