"""mamori-iam-user-console-mfa: attach the pack's deny-without-MFA policy to an IAM user that
has a console password and no MFA past the grace period, after re-reading the live user
with the rule's own decision.

The policy denies everything but changing one's own password and setting up one's own MFA
device until the user signs in with MFA; nothing of the user is removed. What was done is
recorded in the automation output and the user's `mamori:remediated` tag; the restore
document detaches the policy (it finds it by name: no record is kept).

The policy is not a parameter: it is always the pack's own, named from the user's account and
the automation's region (mamori.console_mfa.deny_policy_arn), and the role may attach no other
(its iam:PolicyARN condition). Whoever starts the document cannot make it attach anything else.
"""

from typing import Any

import boto3

from mamori.console_mfa import (
    DEFAULT_GRACE_HOURS,
    NON_COMPLIANT,
    console_mfa_verdict,
    deny_policy_arn,
    deny_policy_attached,
    parse_grace_hours,
)
from mamori.iam_user_remediation import IamUserRemediation
from mamori.iam_users import IamUser, attached_policies, has_console_password, has_mfa_device
from mamori.remediation import Nothing, Plan, run_remediation


class AttachDenyWithoutMfa(IamUserRemediation):
    remediation_id = "iam-user-console-mfa"
    keeps_record = False

    def read_parameters(self) -> None:
        super().read_parameters()
        self.grace_hours = parse_grace_hours(str(self.events.get("GracePeriodHours") or DEFAULT_GRACE_HOURS))
        self.region = boto3.session.Session().region_name or ""

    def policy_arn(self, target: IamUser) -> str:
        return deny_policy_arn(target.arn, self.region)

    def policy_name(self, target: IamUser) -> str:
        return self.policy_arn(target).rsplit("/", 1)[-1]

    def plan(self, target: IamUser) -> Plan | Nothing:
        verdict = console_mfa_verdict(
            password_enabled=has_console_password(self.iam, target.name),
            mfa_active=has_mfa_device(self.iam, target.name),
            created=target.created,
            now=self.now,
            grace_hours=self.grace_hours,
            limited=deny_policy_attached(attached_policies(self.iam, target.name), self.policy_arn(target)),
        )
        if verdict.compliance != NON_COMPLIANT:
            return Nothing(f"{target.name}: {verdict.annotation or 'The user has an MFA device.'}")
        return Plan(changes=[f"attach {self.policy_arn(target)} to {target.name}"])

    def apply(self, target: IamUser, plan: Plan) -> None:
        self.iam.attach_user_policy(UserName=target.name, PolicyArn=self.policy_arn(target))

    def tag_summary(self, target: IamUser, plan: Plan) -> str:
        return f"attached {self.policy_name(target)}"

    def done_message(self, target: IamUser, plan: Plan) -> str:
        return (
            f"Attached {self.policy_name(target)} to {target.name}: everything but setting up MFA is denied until the user "
            "signs in with MFA (access keys too, unless used with MFA)."
        )


def handler(events: dict[str, Any], context: Any) -> dict[str, Any]:
    return run_remediation(AttachDenyWithoutMfa(events))
