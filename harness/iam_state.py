"""IAM users for the IAM rules' tests, demo and bench.

Users, passwords, MFA devices, keys and tags are made through the IAM API (moto). Two things
no API can do are written into moto's backend, at this one place:

* user ids: moto makes lower-case ids; IAM makes `AIDA…` ids, which is what AWS Config
  records as an AWS::IAM::User's resource id and what the documents accept;
* time passing: a user created 25 hours ago, a key created 200 days ago and last used 95
  days ago. The helpers below move moto's creation and last-use dates into the past, which
  is what the credential report, ListUsers, ListAccessKeys and GetAccessKeyLastUsed then
  show, as they would after that much time.
"""

import datetime
import hashlib
import itertools
import json
from collections.abc import Mapping
from typing import Any

import boto3
from moto.iam.models import AccessKeyLastUsed, iam_backends

from harness.aws import ACCOUNT, REGION

_serial = itertools.count(1)


def _backend() -> Any:
    return iam_backends[ACCOUNT]["aws"]


def _moto_time(delta: datetime.timedelta) -> datetime.datetime:
    """now - delta, as moto keeps times (naive UTC)."""
    return (datetime.datetime.now(datetime.UTC) - delta).replace(tzinfo=None)


def make_user(
    name: str,
    *,
    password: bool = False,
    mfa: bool = False,
    keys: int = 0,
    tags: Mapping[str, str] | None = None,
    path: str = "/",
) -> str:
    """Create the user (and its password, MFA device, access keys, tags) through the API;
    return its user id, an IAM-shaped AIDA… id."""
    iam = boto3.client("iam")
    iam.create_user(UserName=name, Path=path, Tags=[{"Key": k, "Value": v} for k, v in (tags or {}).items()])
    if password:
        iam.create_login_profile(UserName=name, Password="Correct-Horse-Battery-9!")
    if mfa:
        serial = iam.create_virtual_mfa_device(VirtualMFADeviceName=name)["VirtualMFADevice"]["SerialNumber"]
        iam.enable_mfa_device(UserName=name, SerialNumber=serial, AuthenticationCode1="123456", AuthenticationCode2="654321")
    for _ in range(keys):
        iam.create_access_key(UserName=name)
    user_id = "AIDA" + hashlib.sha256(f"{name}/{next(_serial)}".encode()).hexdigest()[:17].upper()
    _backend().users[name].id = user_id
    return user_id


def make_users_in_backend(
    prefix: str,
    count: int,
    *,
    password: bool = False,
    mfa: bool = False,
    keys: int = 0,
    created: datetime.timedelta = datetime.timedelta(0),
    key_created: datetime.timedelta = datetime.timedelta(0),
    key_used: datetime.timedelta | None = None,
) -> list[str]:
    """count users named <prefix>-00000…, straight into moto's IAM backend: the same objects
    make_user makes through the API, without thousands of request round trips (5,000 users
    through the API take over a minute). Returns their AIDA… ids."""
    backend = _backend()
    user_ids = []
    for index in range(count):
        name = f"{prefix}-{index:05d}"
        backend.create_user(REGION, name, "/", [])
        if password:
            backend.create_login_profile(name, "Correct-Horse-Battery-9!")
        if mfa:
            serial = backend.create_virtual_mfa_device(name, "/").serial_number
            backend.enable_mfa_device(name, serial, "123456", "654321")
        for _ in range(keys):
            backend.create_access_key(name, status="Active")
        user = backend.users[name]
        user.id = "AIDA" + hashlib.sha256(f"{name}/{next(_serial)}".encode()).hexdigest()[:17].upper()
        user.create_date = _moto_time(created)
        for key in user.access_keys:
            key.create_date = _moto_time(key_created)
            if key_used is not None:
                key.last_used = AccessKeyLastUsed(_moto_time(key_used), "s3", REGION)
        user_ids.append(user.id)
    return user_ids


def key_ids(name: str) -> list[str]:
    """The user's access key ids, in the order the credential report lists them."""
    return [key.access_key_id for key in _backend().users[name].access_keys]


def user_created_ago(name: str, delta: datetime.timedelta) -> None:
    """Stands in for time passing: the user was created `delta` ago."""
    _backend().users[name].create_date = _moto_time(delta)


def key_created_ago(name: str, index: int, delta: datetime.timedelta) -> None:
    """Stands in for time passing: the user's index-th key (0 or 1) was created `delta` ago."""
    _backend().users[name].access_keys[index].create_date = _moto_time(delta)


def key_used_ago(name: str, index: int, delta: datetime.timedelta, service: str = "s3") -> None:
    """Stands in for time passing: the user's index-th key was last used `delta` ago."""
    _backend().users[name].access_keys[index].last_used = AccessKeyLastUsed(_moto_time(delta), service, REGION)


def _substitute(value: Any) -> Any:
    """Fn::Sub with the pseudo parameters a policy uses, as CloudFormation resolves them here."""
    if isinstance(value, dict):
        if set(value) == {"Fn::Sub"}:
            text = str(value["Fn::Sub"])
            for name, resolved in {"AWS::Partition": "aws", "AWS::AccountId": ACCOUNT, "AWS::Region": REGION}.items():
                text = text.replace("${" + name + "}", resolved)
            if "${" in text.replace("${!", ""):
                raise ValueError(f"cannot resolve {text!r}")
            return text.replace("${!", "${")
        return {key: _substitute(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_substitute(item) for item in value]
    return value


def create_managed_policy(resource: Mapping[str, Any]) -> str:
    """Create an AWS::IAM::ManagedPolicy of the pack (as template.yaml declares it) in moto,
    as the stack would; return its ARN (what a Ref to it gives)."""
    if resource["Type"] != "AWS::IAM::ManagedPolicy":
        raise ValueError(f"not a managed policy: {resource['Type']}")
    properties = _substitute(resource["Properties"])
    policy = boto3.client("iam").create_policy(
        PolicyName=properties["ManagedPolicyName"],
        Path=properties.get("Path", "/"),
        Description=properties.get("Description", ""),
        PolicyDocument=json.dumps(properties["PolicyDocument"]),
    )
    return str(policy["Policy"]["Arn"])
