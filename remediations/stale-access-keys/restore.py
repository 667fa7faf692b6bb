"""mamori-stale-access-keys-restore: reactivate the access keys mamori-stale-access-keys
deactivated, as recorded at /mamori/stale-access-keys/<user id>, and remove the user's
`mamori:remediated` tag. Tag the user `mamori:exempt` first, or the rule will find the keys
stale again and automatic remediation will deactivate them again.
"""

from typing import Any

from mamori.access_keys import list_key_metadata
from mamori.iam_user_remediation import IamUserRestore
from mamori.iam_users import IamUser
from mamori.records import Record
from mamori.restoration import Nothing, Plan, run_restore


class ReactivateKeys(IamUserRestore):
    remediation_id = "stale-access-keys"
    list_outputs = ("Reactivated", "Missing")

    def plan(self, target: IamUser, record: Record | None) -> Plan | Nothing:
        recorded = [str(key["keyId"]) for key in (record.changed.get("deactivated") or [] if record else [])]
        live = {str(item["AccessKeyId"]): str(item.get("Status")) for item in list_key_metadata(self.iam, target.name)}
        # Only keys mamori deactivated that are still inactive (one made active since is left alone).
        to_reactivate = [key_id for key_id in recorded if live.get(key_id) == "Inactive"]
        # A recorded key deleted since cannot come back; say so (even when nothing else is left) rather than fail.
        missing = [key_id for key_id in recorded if key_id not in live]
        self.outputs["Missing"] = missing
        gone = f" Deleted since, cannot come back: {', '.join(missing)}." if missing else ""
        plan = Plan(
            changes=[f"reactivate {key_id}" for key_id in to_reactivate] + self.untag_change(target),
            data=(to_reactivate, gone),
            outputs={"Reactivated": to_reactivate},
        )
        if not plan:
            removed = "" if self.dry_run else "; removed the record"
            return Nothing(f"No key recorded at {self.record_path} is inactive any more{removed}.{gone}")
        return plan

    def apply(self, target: IamUser, plan: Plan, record: Record | None) -> None:
        for key_id in plan.data[0]:
            self.iam.update_access_key(UserName=target.name, AccessKeyId=key_id, Status="Active")

    def exempt_hint(self, target: IamUser) -> str:
        return (
            " The user is not tagged mamori:exempt: the rule will flag the keys again"
            " and automatic remediation will deactivate them again."
        )

    def done_message(self, target: IamUser, plan: Plan) -> str:
        to_reactivate, gone = plan.data
        return f"Reactivated {len(to_reactivate)} key(s) of {target.name}.{gone}"


def handler(events: dict[str, Any], context: Any) -> dict[str, Any]:
    return run_restore(ReactivateKeys(events))
