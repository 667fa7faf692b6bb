"""mamori-open-proxy-ports-restore: put back what mamori-open-proxy-ports revoked from a
group, as recorded at /mamori/open-proxy-ports/<group-id>, and remove the narrower entries it
added in their place. Tag the group `mamori:exempt` first, or the rule will find the
exposure again and automatic remediation will revoke it again.
"""

from typing import Any

import boto3

from mamori.automation import entries_text
from mamori.exemption import Exemptible
from mamori.exposure import describe_entry, entry_from_record
from mamori.records import REMEDIATED_TAG, Record
from mamori.restoration import Nothing, Plan, Restore, run_restore
from mamori.security_groups import GROUP_ID_PATTERN, authorize_entries, describe_group, live_entries, revoke_rules


class PutBackIngress(Exemptible, Restore[dict[str, Any]]):
    remediation_id = "open-proxy-ports"
    resource_input = "GroupId"
    resource_pattern = GROUP_ID_PATTERN
    list_outputs = ("Restored", "Removed")

    def read_parameters(self) -> None:
        self.ec2 = boto3.client("ec2")
        self.bare = False

    def find(self, record: Record | None) -> dict[str, Any] | None:
        return describe_group(self.ec2, self.resource_id)

    def tags(self, target: dict[str, Any]) -> object:
        return target.get("Tags")

    def plan(self, target: dict[str, Any], record: Record | None) -> Plan | Nothing:
        changed = record.changed if record else {}
        revoked = [entry_from_record(item) for item in changed.get("revoked") or []]
        added = [entry_from_record(item) for item in changed.get("authorized") or []]
        self.bare = bool(changed.get("descriptionsDropped"))
        # Only what mamori revoked and the group still lacks; only what it added and is still there.
        live = live_entries(self.ec2, self.resource_id)
        to_restore = list(dict.fromkeys(entry for entry in revoked if entry not in live))
        to_remove = [entry for entry in live if entry in added and entry not in revoked]
        restored = [describe_entry(entry) for entry in to_restore]
        removed = [describe_entry(entry) for entry in to_remove]
        if not to_restore and not to_remove:
            return Nothing(f"Every entry recorded at {self.record_path} is already back; removed the record.")
        return Plan(
            changes=[f"restore {text}" for text in restored] + [f"remove {text}" for text in removed],
            data=(to_restore, to_remove),
            outputs={"Restored": restored, "Removed": removed},
        )

    def apply(self, target: dict[str, Any], plan: Plan, record: Record | None) -> None:
        to_restore, to_remove = plan.data
        # Put the originals back before removing their narrower stand-ins: no gap in access.
        failures = authorize_entries(self.ec2, self.resource_id, to_restore, [e.source.description for e in to_restore])
        if failures:
            raise RuntimeError(
                f"Could not restore {self.resource_id}: " + "; ".join(failures) + f". The record is kept at {self.record_path}."
            )
        revoke_rules(self.ec2, self.resource_id, [entry.rule_id for entry in to_remove if entry.rule_id])

    def remove_tag(self, target: dict[str, Any]) -> None:
        self.ec2.delete_tags(Resources=[self.resource_id], Tags=[{"Key": REMEDIATED_TAG}])

    def exempt_hint(self, target: dict[str, Any]) -> str:
        return (
            " The group is not tagged mamori:exempt: the rule will flag it again and automatic remediation will revoke it again."
        )

    def done_message(self, target: dict[str, Any], plan: Plan) -> str:
        bare = " (without their descriptions: the record had no room for them)" if self.bare else ""
        return f"Restored {entries_text(len(plan.data[0]))} of {self.resource_id}{bare}."


def handler(events: dict[str, Any], context: Any) -> dict[str, Any]:
    return run_restore(PutBackIngress(events))
