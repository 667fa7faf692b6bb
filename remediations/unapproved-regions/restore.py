"""mamori-unapproved-regions-restore: start again an EC2 instance that mamori-unapproved-regions
stopped, as recorded at /mamori/unapproved-regions/<instance id>, and remove its
`mamori:remediated` tag. Only an instance with mamori's signed record that is still stopped
with the tag of that very stop: it never starts one mamori did not stop, nor one a person
stopped again since.

Approve the instance's region (ApprovedRegions) or tag it `mamori:exempt` first, or the rule
finds it running again and automatic remediation stops it again.
"""

from typing import Any

from mamori.exemption import Exemptible
from mamori.instances import INSTANCE_ID_PATTERN, RUNNING_STATES, Instance, list_instances
from mamori.records import REMEDIATED_TAG, Record, delete_record
from mamori.regions import regional_clients
from mamori.restoration import Nothing, Plan, Restore, run_restore
from mamori.status import NOT_FOUND


class StartInstance(Exemptible, Restore[Instance]):
    remediation_id = "unapproved-regions"
    resource_input = "InstanceId"
    resource_pattern = INSTANCE_ID_PATTERN
    text_outputs = ("Region",)

    def no_record_message(self) -> str:
        return f"No mamori record at {self.record_path}: mamori did not stop {self.resource_id}, so this starts nothing."

    def find(self, record: Record | None) -> Instance | None:
        self.region = str(record.changed["region"]) if record else ""
        self.outputs["Region"] = self.region
        self.ec2 = regional_clients("ec2", [self.region])[self.region]
        found = list_instances(self.ec2, self.region, self.resource_id)
        # Shutting down is on its way to terminated: as good as gone.
        return found[0] if found and found[0].state != "shutting-down" else None

    def when_gone(self, record: Record | None) -> dict[str, Any]:
        if not self.dry_run:
            delete_record(self.ssm, self.remediation_id, self.resource_id)
        return self.finish(
            NOT_FOUND, f"{self.resource_id} no longer exists in {self.region} (terminated); nothing to start, record removed."
        )

    def tags(self, target: Instance) -> object:
        return target.tags

    def plan(self, target: Instance, record: Record | None) -> Plan | Nothing:
        if target.state == "stopping":
            # Starting needs a stopped instance; the record stays for the next attempt.
            raise RuntimeError(
                f"{self.resource_id} in {self.region} is still stopping; run the restore again once it is stopped."
            )
        if target.state in RUNNING_STATES:
            # Started by someone else: nothing to start. The kernel forgets the record but
            # leaves the tag of a stop that no longer holds, so it goes here.
            if not self.dry_run:
                self.remove_tag(target)
            removed = "Would remove" if self.dry_run else "Removed"
            exemption = self.exemption(target)
            hint = "" if exemption is not None and exemption.applies else self.exempt_hint(target)
            return Nothing(
                f"{self.resource_id} in {self.region} was already {target.state}. "
                f"{removed} the {REMEDIATED_TAG} tag and the record.{hint}"
            )
        stopped_by_mamori = str(target.tags.get(REMEDIATED_TAG, "")).startswith(record.at) if record and record.at else False
        if not stopped_by_mamori:
            # Stopped, but not with the tag of the stop the record describes: started and stopped
            # again since (by a person, or by whoever removed the tag). Not mamori's stop to undo.
            return Nothing(
                f"{self.resource_id} in {self.region} is {target.state} but no longer carries the {REMEDIATED_TAG} tag of "
                f"mamori's stop at {record.at if record else '?'}: someone stopped it since, so this starts nothing. "
                f"{'Would remove' if self.dry_run else 'Removed'} the record; start it by hand if it should run."
            )
        return Plan([f"start {self.resource_id} in {self.region}, remove its tag and the record"])

    def apply(self, target: Instance, plan: Plan, record: Record | None) -> None:
        self.ec2.start_instances(InstanceIds=[self.resource_id])

    def remove_tag(self, target: Instance) -> None:
        if REMEDIATED_TAG in target.tags:
            self.ec2.delete_tags(Resources=[self.resource_id], Tags=[{"Key": REMEDIATED_TAG}])

    def exempt_hint(self, target: Instance) -> str:
        return (
            f" Unless {self.region} is added to ApprovedRegions or the instance is tagged mamori:exempt, the rule flags it"
            " again and automatic remediation stops it again."
        )

    def done_message(self, target: Instance, plan: Plan) -> str:
        return f"Started {self.resource_id} in {self.region}. Removed the {REMEDIATED_TAG} tag and the record."


def handler(events: dict[str, Any], context: Any) -> dict[str, Any]:
    return run_restore(StartInstance(events))
