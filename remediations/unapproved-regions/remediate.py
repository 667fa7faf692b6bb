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

from mamori.automation import required_input
from mamori.deployed_rule import ReadsDeployedRule
from mamori.instance_stop import InstanceStop
from mamori.instances import REGION_LIST_PATTERN, Instance, decide, list_instances
from mamori.records import Record
from mamori.regions import enabled_regions, parse_regions, regional_clients, scan_regions
from mamori.remediation import Nothing, Plan, run_remediation


class StopInstance(ReadsDeployedRule, InstanceStop):
    paired_rule = "mamori-unapproved-regions"

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
        self.stop(target)

    def tag_summary(self, target: Instance, plan: Plan) -> str:
        return f"stopped it: {target.region} is not approved"

    def done_message(self, target: Instance, plan: Plan) -> str:
        return (
            f"Stopped {self.resource_id} in {target.region} (was {target.describe()}); not terminated, disks kept. "
            f"Recorded at {self.record_path}; undo with {self.restore_document}."
        )


def handler(events: dict[str, Any], context: Any) -> dict[str, Any]:
    return run_remediation(StopInstance(events))
