"""mamori-unapproved-regions: stop (never terminate) an EC2 instance running in a region
outside ApprovedRegions.

AWS Config passes only the instance id, so the instance is looked for in every enabled region
at once; then the rule's own decision is taken again on the live instance. Before stopping
it, what it was is recorded at /mamori/unapproved-regions/<instance id> in Parameter Store
(for the restore document, which starts it again); afterwards it is tagged
`mamori:remediated` with when, why and how to undo.
"""

from typing import Any

import boto3
import botocore.exceptions

from mamori.automation import required_input
from mamori.deployed_rule import ReadsDeployedRule
from mamori.exemption import Exemptible
from mamori.instances import INSTANCE_ID_PATTERN, REGION_LIST_PATTERN, STOPPED_STATES, Instance, decide, list_instances
from mamori.records import REMEDIATED_TAG, Record, delete_record
from mamori.regions import enabled_regions, parse_regions, regional_clients, scan_regions
from mamori.remediation import Nothing, Plan, Remediation, run_remediation

# EC2's refusals of a stop, which leave the instance as it was, and what a person should know.
STOP_REFUSALS = {
    "UnsupportedOperation": (
        "A one-time Spot instance (or one with an instance-store root) can only be terminated, and mamori never "
        "terminates. A person must decide: terminate it, or tag it mamori:exempt with a reason."
    ),
    "OperationNotPermitted": (
        "Its stop protection (DisableApiStop) is on, and mamori does not turn it off. A person must decide: stop or "
        "terminate it, or tag it mamori:exempt with a reason."
    ),
    "IncorrectInstanceState": "It cannot be stopped in its current state; AWS Config's next automatic attempt tries again.",
}


class StopInstance(Exemptible, ReadsDeployedRule, Remediation[Instance]):
    paired_rule = "mamori-unapproved-regions"
    remediation_id = "unapproved-regions"
    resource_input = "InstanceId"
    resource_pattern = INSTANCE_ID_PATTERN
    text_outputs = ("Region",)

    def read_parameters(self) -> None:
        # The deployed rule's ApprovedRegions (mamori.deployed_rule says why not a document parameter).
        deployed = self.rule_parameters()
        self.approved = parse_regions(required_input(deployed, "ApprovedRegions", REGION_LIST_PATTERN))
        self.unsearched = ""

    def find(self) -> Instance | None:
        scan = scan_regions(
            "ec2", enabled_regions(boto3.client("ec2")), lambda ec2, region: list_instances(ec2, region, self.resource_id)
        )
        if scan.failed:
            raise RuntimeError(f"Could not look for {self.resource_id} in every region ({scan.failed_text()}); changed nothing.")
        self.unsearched = f" Could not search {scan.skipped_text()}." if scan.skipped else ""
        found = [instance for instances in scan.results.values() for instance in instances]
        if not found:
            return None
        self.outputs["Region"] = found[0].region
        self.ec2 = regional_clients("ec2", [found[0].region])[found[0].region]
        return found[0]

    def not_found_message(self) -> str:
        return f"No instance {self.resource_id} exists (terminated or never there); nothing to do.{self.unsearched}"

    def tags(self, target: Instance) -> object:
        return target.tags

    def plan(self, target: Instance) -> Plan | Nothing:
        finding = decide(target, self.approved, self.now.date(), self.max_exemption_days)
        if finding is None:
            return Nothing(f"{self.resource_id} is in {target.region}, which ApprovedRegions now includes; changed nothing.")
        if finding.compliance != "NON_COMPLIANT":
            return Nothing(f"{self.resource_id} in {target.region} is {target.state}; changed nothing.")
        return Plan([f"stop {self.resource_id} in {target.region} ({target.describe()}) and tag it"])

    def record(self, target: Instance, plan: Plan, previous: Record | None) -> dict[str, Any]:
        # When it was stopped is the envelope's `at`.
        return {
            "region": target.region,
            "instanceType": target.instance_type,
            "spot": target.spot,
            "previousState": target.state,
            "reason": f"{target.region} is not in ApprovedRegions ({', '.join(self.approved)})",
        }

    def apply(self, target: Instance, plan: Plan) -> None:
        try:
            # Never Force: the instance shuts down cleanly and its EBS volumes are kept.
            self.ec2.stop_instances(InstanceIds=[self.resource_id])
        except botocore.exceptions.ClientError as error:
            answer = error.response.get("Error", {})
            why = STOP_REFUSALS.get(str(answer.get("Code")))
            if why is None:
                raise  # the stop may have happened: the record stays for the restore
            delete_record(self.ssm, self.remediation_id, self.resource_id)  # nothing stopped, nothing to start
            raise RuntimeError(
                f"EC2 refused to stop {self.resource_id} in {target.region} ({target.describe()}): "
                f"{answer.get('Message', '')}. {why}"
            ) from None

    def tag_summary(self, target: Instance, plan: Plan) -> str:
        return f"stopped it: {target.region} is not approved"

    def write_tag(self, target: Instance, value: str) -> None:
        self.ec2.create_tags(Resources=[self.resource_id], Tags=[{"Key": REMEDIATED_TAG, "Value": value}])

    def still_wrong(self, target: Instance, plan: Plan) -> str | None:
        # On its way down is enough: stopping takes minutes, and the instance no longer mines.
        after = list_instances(self.ec2, target.region, self.resource_id)
        state = after[0].state if after else "gone"
        if state in STOPPED_STATES:
            return None
        return f"{self.resource_id} in {target.region} is {state} after StopInstances; expected stopping or stopped"

    def done_message(self, target: Instance, plan: Plan) -> str:
        return (
            f"Stopped {self.resource_id} in {target.region} (was {target.describe()}); not terminated, disks kept. "
            f"Recorded at {self.record_path}; undo with {self.restore_document}."
        )


def handler(events: dict[str, Any], context: Any) -> dict[str, Any]:
    return run_remediation(StopInstance(events))
