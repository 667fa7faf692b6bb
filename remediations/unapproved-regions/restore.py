"""mamori-unapproved-regions-restore: start again an EC2 instance that mamori-unapproved-regions
stopped, as recorded at /mamori/unapproved-regions/<instance id>, and remove its
`mamori:remediated` tag. Only instances with a record: it never starts one mamori did not stop.

Approve the instance's region (ApprovedRegions) or tag it `mamori:exempt` first, or the rule
finds it running again and automatic remediation stops it again.
"""

from typing import Any

import boto3

from mamori.automation import flag, required_input, utc_now
from mamori.exemption import exemption_status
from mamori.instances import INSTANCE_ID_PATTERN, RUNNING_STATES, list_instances
from mamori.records import REMEDIATED_TAG, delete_record, load_record, record_path
from mamori.regions import regional_clients

REMEDIATION_ID = "unapproved-regions"


def handler(events: dict[str, Any], context: Any) -> dict[str, Any]:
    instance_id = required_input(events, "InstanceId", INSTANCE_ID_PATTERN)
    dry_run = flag(events, "DryRun")
    ssm = boto3.client("ssm")
    path = record_path(REMEDIATION_ID, instance_id)
    result: dict[str, Any] = {"InstanceId": instance_id, "DryRun": dry_run, "Region": ""}

    record = load_record(ssm, path)
    if record is None:
        return {
            **result,
            "Status": "NO_RECORD",
            "Message": f"No mamori record at {path}: mamori did not stop {instance_id}, so this starts nothing.",
        }
    region = str(record["region"])
    result["Region"] = region
    ec2 = regional_clients("ec2", [region])[region]
    found = list_instances(ec2, region, instance_id)
    instance = found[0] if found else None
    if instance is None or instance.state == "shutting-down":
        if not dry_run:
            delete_record(ssm, path)
        return {
            **result,
            "Status": "INSTANCE_NOT_FOUND",
            "Message": f"{instance_id} no longer exists in {region} (terminated); nothing to start, record removed.",
        }
    if instance.state == "stopping":
        # Starting needs a stopped instance; the record stays for the next attempt.
        raise RuntimeError(f"{instance_id} in {region} is still stopping; run the restore again once it is stopped.")

    to_start = instance.state not in RUNNING_STATES
    if dry_run:
        action = "start" if to_start else "leave running"
        return {
            **result,
            "Status": "DRY_RUN",
            "Message": f"Would {action} {instance_id} in {region}, remove its tag and the record; changed nothing.",
        }
    if to_start:
        ec2.start_instances(InstanceIds=[instance_id])
    if REMEDIATED_TAG in instance.tags:
        ec2.delete_tags(Resources=[instance_id], Tags=[{"Key": REMEDIATED_TAG}])
    delete_record(ssm, path)

    exemption = exemption_status(instance.tags, utc_now().date())
    warning = (
        ""
        if exemption is not None and exemption.applies
        else (
            f" Unless {region} is added to ApprovedRegions or the instance is tagged mamori:exempt, the rule flags it"
            " again and automatic remediation stops it again."
        )
    )
    done = f"Started {instance_id} in {region}." if to_start else f"{instance_id} in {region} was already {instance.state}."
    return {
        **result,
        "Status": "RESTORED" if to_start else "ALREADY_RUNNING",
        "Message": f"{done} Removed the {REMEDIATED_TAG} tag and the record.{warning}",
    }
