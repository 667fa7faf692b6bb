"""mamori-stale-access-keys: deactivate exactly the stale access keys of an IAM user (never
delete them), after re-reading the user's live keys with the rule's own decision.

What was deactivated is recorded (automation output, the user's `mamori:remediated` tag,
and /mamori/stale-access-keys/<user id> in Parameter Store, written before any key is
touched) for the restore document, which reactivates them.
"""

import datetime
from typing import Any

from mamori.access_keys import (
    DEFAULT_MAX_UNUSED_DAYS,
    StaleKey,
    deactivation_record,
    find_stale_keys,
    live_keys,
    parse_max_key_age_days,
    parse_max_unused_days,
)
from mamori.automation import timestamp
from mamori.iam_user_remediation import IamUserRemediation
from mamori.iam_users import IamUser
from mamori.records import Record
from mamori.remediation import Nothing, Plan, run_remediation


def _moment(value: datetime.datetime | None) -> str | None:
    return timestamp(value) if value is not None else None


class DeactivateStaleKeys(IamUserRemediation):
    remediation_id = "stale-access-keys"
    list_outputs = ("Deactivated",)

    def read_parameters(self) -> None:
        super().read_parameters()
        self.max_unused = parse_max_unused_days(str(self.events.get("MaxUnusedDays") or DEFAULT_MAX_UNUSED_DAYS))
        self.max_age = parse_max_key_age_days(str(self.events.get("MaxKeyAgeDays") or ""))
        self.live_key_ids: set[str] = set()

    def plan(self, target: IamUser) -> Plan | Nothing:
        keys = live_keys(self.iam, target.name)
        self.live_key_ids = {str(key.key_id) for key in keys}
        stale = find_stale_keys(keys, self.now, self.max_unused, self.max_age)
        if not stale:
            return Nothing(f"{target.name} has no stale active access key.")
        return Plan(
            changes=[f"deactivate {item.key.key_id} ({item.describe()})" for item in stale],
            data=stale,
            outputs={"Deactivated": [f"{item.key.key_id}: {item.describe()}" for item in stale]},
        )

    def dry_run_message(self, target: IamUser, plan: Plan) -> str:
        return f"Would deactivate {len(plan.data)} key(s) of {target.name}; changed nothing."

    def record(self, target: IamUser, plan: Plan, previous: Record | None) -> dict[str, Any]:
        """The keys the restore may reactivate: those mamori deactivated that still exist (a
        user has at most two, so the record stays small), and the latest runs for people."""
        stale: list[StaleKey] = plan.data
        moment = timestamp(self.now)
        deactivated = [
            {
                "keyId": item.key.key_id,
                "at": moment,
                "created": _moment(item.key.created),
                "lastUsed": _moment(item.key.last_used),
                "reason": item.describe(),
            }
            for item in stale
        ]
        return deactivation_record(previous.changed if previous else {}, target.name, self.live_key_ids, deactivated, moment)

    def apply(self, target: IamUser, plan: Plan) -> None:
        for item in plan.data:
            self.iam.update_access_key(UserName=target.name, AccessKeyId=str(item.key.key_id), Status="Inactive")

    def tag_summary(self, target: IamUser, plan: Plan) -> str:
        return "deactivated " + " ".join(str(item.key.key_id) for item in plan.data)

    def done_message(self, target: IamUser, plan: Plan) -> str:
        return f"Deactivated {len(plan.data)} key(s) of {target.name} (not deleted); recorded at {self.record_path}."


def handler(events: dict[str, Any], context: Any) -> dict[str, Any]:
    return run_remediation(DeactivateStaleKeys(events))
