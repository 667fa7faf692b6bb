"""IAM users as the IAM rules and their remediations find them.

The credential report names users by name and ARN; AWS Config records an `AWS::IAM::User`
by its user id (`AIDA…`). The rules map one to the other with GetAccountAuthorizationDetails
(users only), which also carries every user's tags and attached managed policies: one call
per 1,000 users, and no call per user, however many a rule flags. A remediation, which
receives only the user id, finds the user's name with ListUsers (no IAM call takes a user id)
and reads its tags and policies live.

Inlined into SSM documents: standard library and botocore only.
"""

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import botocore.exceptions

from mamori.credential_report import CredentialRow

# What AWS Config records as the resource id of an AWS::IAM::User.
USER_ID_PATTERN = r"AIDA[A-Z0-9]{12,}"
USER_RESOURCE_TYPE = "AWS::IAM::User"
# The most GetAccountAuthorizationDetails and ListUsers return a call (MaxItems, 1 to 1,000).
USERS_PER_PAGE = 1000


@dataclass(frozen=True)
class IamUser:
    name: str
    user_id: str
    arn: str
    created: datetime.datetime | None


@dataclass(frozen=True)
class UserDetails(IamUser):
    """A user as GetAccountAuthorizationDetails lists it."""

    tags: tuple[Mapping[str, str], ...]  # [{Key, Value}]
    attached_policies: tuple[Mapping[str, str], ...]  # [{PolicyName, PolicyArn}]


User = TypeVar("User", bound=IamUser)


def as_utc(moment: object) -> datetime.datetime | None:
    """A datetime from boto3 (aware, often tzlocal) in UTC; None for anything else."""
    if not isinstance(moment, datetime.datetime):
        return None
    return moment.replace(tzinfo=datetime.UTC) if moment.tzinfo is None else moment.astimezone(datetime.UTC)


def _iam_user(user: Mapping[str, Any]) -> IamUser:
    return IamUser(str(user["UserName"]), str(user["UserId"]), str(user["Arn"]), as_utc(user.get("CreateDate")))


def list_user_details(iam: Any) -> list[UserDetails]:
    """Every IAM user with its tags and attached managed policies: GetAccountAuthorizationDetails
    filtered to users, 1,000 a call."""
    users: list[UserDetails] = []
    pages = iam.get_paginator("get_account_authorization_details").paginate(
        Filter=["User"], PaginationConfig={"PageSize": USERS_PER_PAGE}
    )
    for page in pages:
        for user in page.get("UserDetailList", []):
            base = _iam_user(user)
            users.append(
                UserDetails(
                    base.name,
                    base.user_id,
                    base.arn,
                    base.created,
                    tuple(user.get("Tags") or ()),
                    tuple(user.get("AttachedManagedPolicies") or ()),
                )
            )
    return users


def find_user(iam: Any, user_id: str) -> IamUser | None:
    """The user with this id, or None when it no longer exists. GetUser takes only a name, so
    this pages through ListUsers (one call per 1,000 users), stopping at the match."""
    for page in iam.get_paginator("list_users").paginate(PaginationConfig={"PageSize": USERS_PER_PAGE}):
        for user in page["Users"]:
            if user["UserId"] == user_id:
                return _iam_user(user)
    return None


def user_tags(iam: Any, user_name: str) -> list[dict[str, str]]:
    tags: list[dict[str, str]] = []
    for page in iam.get_paginator("list_user_tags").paginate(UserName=user_name):
        tags.extend(page["Tags"])
    return tags


def attached_policies(iam: Any, user_name: str) -> list[dict[str, str]]:
    """The managed policies attached to the user: [{PolicyName, PolicyArn}]."""
    policies: list[dict[str, str]] = []
    for page in iam.get_paginator("list_attached_user_policies").paginate(UserName=user_name):
        policies.extend(page["AttachedPolicies"])
    return policies


def has_console_password(iam: Any, user_name: str) -> bool:
    """Live: whether the user has a login profile (the report's password_enabled)."""
    try:
        iam.get_login_profile(UserName=user_name)
    except botocore.exceptions.ClientError as error:
        if error.response["Error"]["Code"] in ("NoSuchEntity", "NoSuchEntityException"):
            return False
        raise
    return True


def has_mfa_device(iam: Any, user_name: str) -> bool:
    """Live: whether any MFA device is assigned to the user (the report's mfa_active)."""
    return any(page["MFADevices"] for page in iam.get_paginator("list_mfa_devices").paginate(UserName=user_name))


def report_users(rows: Iterable[CredentialRow], users: Iterable[User]) -> list[tuple[CredentialRow, User]]:
    """The report's user rows, each with its IAM user (same ARN). The root row is skipped; so
    is a row whose user was deleted after the report was made. A user created since the
    report (IAM keeps one for four hours) is evaluated from the next report on."""
    by_arn = {user.arn: user for user in users}
    return [(row, by_arn[row.arn]) for row in rows if not row.is_root and row.arn in by_arn]
