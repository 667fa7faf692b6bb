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

from mamori.automation import flag, required_input, timestamp, utc_now
from mamori.instances import INSTANCE_ID_PATTERN, REGION_LIST_PATTERN, STOPPED_STATES, decide, list_instances
from mamori.records import REMEDIATED_TAG, delete_record, record_path, save_record
from mamori.regions import enabled_regions, parse_regions, regional_clients, scan_regions

REMEDIATION_ID = "unapproved-regions"
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


def handler(events: dict[str, Any], context: Any) -> dict[str, Any]:
    instance_id = required_input(events, "InstanceId", INSTANCE_ID_PATTERN)
    approved = parse_regions(required_input(events, "ApprovedRegions", REGION_LIST_PATTERN))
    dry_run = flag(events, "DryRun")
    result: dict[str, Any] = {"InstanceId": instance_id, "DryRun": dry_run, "Region": ""}

    scan = scan_regions("ec2", enabled_regions(boto3.client("ec2")), lambda ec2, region: list_instances(ec2, region, instance_id))
    if scan.failed:
        raise RuntimeError(f"Could not look for {instance_id} in every region ({scan.failed_text()}); changed nothing.")
    found = [instance for instances in scan.results.values() for instance in instances]
    if not found:
        unsearched = f" Could not search {scan.skipped_text()}." if scan.skipped else ""
        return {
            **result,
            "Status": "INSTANCE_NOT_FOUND",
            "Message": f"No instance {instance_id} exists (terminated or never there); nothing to do.{unsearched}",
        }
    instance = found[0]
    region = instance.region
    result["Region"] = region
    now = utc_now()
    finding = decide(instance, approved, now.date())
    if finding is None:
        return {
            **result,
            "Status": "REGION_APPROVED",
            "Message": f"{instance_id} is in {region}, which ApprovedRegions now includes; changed nothing.",
        }
    if finding.compliance == "NOT_APPLICABLE":
        return {**result, "Status": "SKIPPED_EXEMPT", "Message": finding.annotation}
    if finding.compliance != "NON_COMPLIANT":
        return {
            **result,
            "Status": "ALREADY_STOPPED",
            "Message": f"{instance_id} in {region} is {instance.state}; changed nothing.",
        }
    if dry_run:
        return {
            **result,
            "Status": "DRY_RUN",
            "Message": f"Would stop {instance_id} in {region} ({instance.describe()}) and tag it; changed nothing.",
        }

    # Record first, so that the restore document knows what to start even if a call below fails.
    ssm = boto3.client("ssm")
    path = record_path(REMEDIATION_ID, instance_id)
    save_record(
        ssm,
        path,
        {
            "instanceId": instance_id,
            "region": region,
            "instanceType": instance.instance_type,
            "spot": instance.spot,
            "previousState": instance.state,
            "stoppedAt": timestamp(now),
            "reason": f"{region} is not in ApprovedRegions ({', '.join(approved)})",
        },
    )
    ec2 = regional_clients("ec2", [region])[region]
    try:
        # Never Force: the instance shuts down cleanly and its EBS volumes are kept.
        ec2.stop_instances(InstanceIds=[instance_id])
    except botocore.exceptions.ClientError as error:
        answer = error.response.get("Error", {})
        why = STOP_REFUSALS.get(str(answer.get("Code")))
        if why is None:
            raise
        delete_record(ssm, path)  # EC2 refused: nothing was stopped, nothing for the restore to start
        raise RuntimeError(
            f"EC2 refused to stop {instance_id} in {region} ({instance.describe()}): {answer.get('Message', '')}. {why}"
        ) from None
    tag = (
        f"{timestamp(now)} stopped by mamori-unapproved-regions: {region} is not approved"
        " - undo with mamori-unapproved-regions-restore"
    )
    ec2.create_tags(Resources=[instance_id], Tags=[{"Key": REMEDIATED_TAG, "Value": tag[:256]}])

    # Same listing, live state: the remediation fails loudly unless the instance is on its way down.
    after = list_instances(ec2, region, instance_id)
    state = after[0].state if after else "gone"
    if state not in STOPPED_STATES:
        raise RuntimeError(f"{instance_id} in {region} is {state} after StopInstances; expected stopping or stopped.")
    return {
        **result,
        "Status": "STOPPED",
        "Message": (
            f"Stopped {instance_id} in {region} (was {instance.describe()}); not terminated, disks kept. "
            f"Recorded at {path}; undo with mamori-unapproved-regions-restore."
        ),
    }
