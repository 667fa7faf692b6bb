"""The decision of mamori-iam-user-console-mfa, shared by the rule (on the credential
report) and its remediation (on the live user): a console password without MFA, past the
grace period after the user was created, is NON_COMPLIANT, unless the pack's
deny-without-MFA policy is attached, which limits the console to setting up MFA.

Inlined into SSM documents: standard library only.
"""

import datetime
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from mamori.compliance import COMPLIANT, NON_COMPLIANT, NOT_APPLICABLE

# The pack's policy is named mamori-deny-without-mfa-<region> under the path /mamori/
# (IAM is global: one name per region the pack is deployed in). Only that exact policy, of
# this account and this region's pack, counts and is attached or detached: a look-alike of the
# same name pattern (anyone who can create policies can make one, with any permissions) never is.
DENY_POLICY_NAME = "mamori-deny-without-mfa"
DENY_POLICY_PATH = "/mamori/"
_USER_ARN = re.compile(r"arn:(?P<partition>aws[a-z0-9-]*):iam::(?P<account>\d{12}):user/.+")
DEFAULT_GRACE_HOURS = 24
# The annotation of a user the deny policy limits: COMPLIANT on the dashboard, but MFA is still missing.
CONTAINED = f"Contained: no MFA yet, access limited until the user adds MFA ({DENY_POLICY_NAME} attached)."
MAX_GRACE_HOURS = 24 * 365


@dataclass(frozen=True)
class ConsoleMfaVerdict:
    compliance: str
    annotation: str


def parse_grace_hours(text: str) -> int:
    value = text.strip()
    if not re.fullmatch(r"\d{1,5}", value):
        raise ValueError(f"GracePeriodHours: {text!r} is not a whole number of hours")
    hours = int(value)
    if hours > MAX_GRACE_HOURS:
        raise ValueError(f"GracePeriodHours: {hours} is more than {MAX_GRACE_HOURS} (a year)")
    return hours


def deny_policy_arn(user_arn: str, region: str) -> str:
    """The pack's policy for a user of this account (partition and account from the user's ARN),
    as the pack deployed in `region` creates it."""
    match = _USER_ARN.fullmatch(user_arn)
    if match is None or not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", region):
        raise ValueError(f"cannot name the pack's policy for user {user_arn!r} in region {region!r}")
    return f"arn:{match['partition']}:iam::{match['account']}:policy{DENY_POLICY_PATH}{DENY_POLICY_NAME}-{region}"


def is_deny_policy(policy: Mapping[str, str], pack_policy_arn: str) -> bool:
    """An attached policy ({PolicyName, PolicyArn}) is the pack's deny-without-MFA policy."""
    return str(policy.get("PolicyArn", "")) == pack_policy_arn


def deny_policy_attached(policies: Iterable[Mapping[str, str]], pack_policy_arn: str) -> bool:
    return any(is_deny_policy(policy, pack_policy_arn) for policy in policies)


def console_mfa_verdict(
    *,
    password_enabled: bool | None,
    mfa_active: bool,
    created: datetime.datetime | None,
    now: datetime.datetime,
    grace_hours: int,
    limited: bool = False,
) -> ConsoleMfaVerdict:
    """limited: the deny-without-MFA policy is attached. The rule learns that only for users
    that are NON_COMPLIANT without it, so the grace period is decided first."""
    if not password_enabled:
        return ConsoleMfaVerdict(NOT_APPLICABLE, "No console password: console MFA does not apply.")
    if mfa_active:
        return ConsoleMfaVerdict(COMPLIANT, "")
    if created is not None:
        grace_ends = created + datetime.timedelta(hours=grace_hours)
        if now < grace_ends:
            return ConsoleMfaVerdict(
                COMPLIANT,
                f"Console password without MFA; the grace period ends {grace_ends.strftime('%Y-%m-%dT%H:%M:%SZ')}.",
            )
    if limited:
        # COMPLIANT because the remediation contained the user, not because MFA is there: the dashboard says so.
        return ConsoleMfaVerdict(COMPLIANT, CONTAINED)
    since = f" (user created {created.strftime('%Y-%m-%d')})" if created is not None else ""
    return ConsoleMfaVerdict(
        NON_COMPLIANT,
        f"Console password without MFA{since}; remediation attaches {DENY_POLICY_NAME}, "
        "which denies everything but setting up MFA until the user signs in with MFA.",
    )
