"""What the central responder checks before it acts on a member: that the account is an ACTIVE
member of this organization (not its management account), and that centralized root access is
enabled; and the root session it opens in the member (sts:AssumeRoot, IAMDeleteRootUserCredentials
only). A check that fails raises Refusal: a person is told why and what to do.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import botocore.exceptions

from mamori.aws_api import ACCOUNT_ID, error_code, error_text

# iam:ListOrganizationsFeatures: the centralized root access feature that lets the management
# account (or the delegated administrator for IAM) delete member root credentials.
ROOT_CREDENTIALS_MANAGEMENT = "RootCredentialsManagement"
# The AWS managed task policy that scopes the root session: it allows deleting (and listing)
# root credentials and nothing else.
DELETE_ROOT_CREDENTIALS_POLICY = "policy/root-task/IAMDeleteRootUserCredentials"
ROOT_SESSION_SECONDS = 900  # AssumeRoot's maximum, and its default


class Refusal(Exception):
    """An event about a real finding that this responder must not act on: a person is told why."""

    def __init__(self, reason: str, todo: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.todo = todo


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
class Member:
    account: str
    name: str

    def describe(self) -> str:
        return f"{self.account} ({self.name})" if self.name else self.account


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
