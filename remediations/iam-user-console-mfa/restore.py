"""mamori-iam-user-console-mfa-restore: detach the pack's deny-without-MFA policy from an IAM
user and remove the `mamori:remediated` tag. Tag the user `mamori:exempt` first, or the rule
will flag the user again and automatic remediation will attach the policy again.

No record is kept: the policy is mamori's by its exact ARN (mamori.console_mfa.deny_policy_arn),
and only a user mamori tagged when it attached it is touched (the role's conditions say the same).
"""

from typing import Any

import boto3

from mamori.console_mfa import DENY_POLICY_NAME, deny_policy_arn, is_deny_policy
from mamori.iam_user_remediation import IamUserRestore
from mamori.iam_users import IamUser, attached_policies
from mamori.records import REMEDIATED_TAG, Record
from mamori.restoration import Nothing, Plan, run_restore
from mamori.status import NOT_FOUND


class DetachDenyWithoutMfa(IamUserRestore):
    remediation_id = "iam-user-console-mfa"
    keeps_record = False
    list_outputs = ("Detached",)

    def when_gone(self, record: Record | None) -> dict[str, Any]:
        return self.finish(NOT_FOUND, f"No IAM user has the id {self.resource_id}; nothing to restore.")

    def plan(self, target: IamUser, record: Record | None) -> Plan | Nothing:
        pack_policy = deny_policy_arn(target.arn, boto3.session.Session().region_name or "")
        policies = [
            policy["PolicyArn"] for policy in attached_policies(self.iam, target.name) if is_deny_policy(policy, pack_policy)
        ]
        if policies and not self.tagged(target):
            # mamori tags every user it attaches the policy to: without the tag, a person did it (or
            # removed the tag since), and the role may not detach it either (its condition).
            return Nothing(
                f"{target.name} has {DENY_POLICY_NAME} but not the {REMEDIATED_TAG} tag: mamori did not attach it "
                "(or the tag was removed), so this restore leaves it; detach it by hand if you mean to."
            )
        changes = [f"detach {policy_arn} from {target.name}" for policy_arn in policies] + self.untag_change(target)
        if not changes:
            return Nothing(f"{target.name} has no mamori deny-without-MFA policy.")
        return Plan(changes=changes, data=policies, outputs={"Detached": policies})

    def apply(self, target: IamUser, plan: Plan, record: Record | None) -> None:
        for policy_arn in plan.data:
            self.iam.detach_user_policy(UserName=target.name, PolicyArn=policy_arn)

    def exempt_hint(self, target: IamUser) -> str:
        return (
            " The user is not tagged mamori:exempt: the rule will flag it again"
            " and automatic remediation will attach the policy again."
        )

    def done_message(self, target: IamUser, plan: Plan) -> str:
        return f"Detached the deny-without-MFA policy from {target.name}."


def handler(events: dict[str, Any], context: Any) -> dict[str, Any]:
    return run_restore(DetachDenyWithoutMfa(events))
