"""Stopping an EC2 instance on the remediation kernel (never terminating it), shared by
mamori-unapproved-regions (an instance outside the approved regions) and mamori-miner-responder
(an instance GuardDuty caught mining): one record (/mamori/unapproved-regions/<instance id>,
which names the region), one tag, one restore document (mamori-unapproved-regions-restore, which
starts it again), one way of reading EC2's refusals.

A subclass supplies find() (setting `self.ec2`, the client of the instance's region), plan(),
record(), tag_summary() and done_message(); apply() calls stop().

Inlined into SSM documents: standard library, boto3 and botocore only.
"""

from typing import Any, ClassVar

import botocore.exceptions

from mamori.exemption import Exemptible
from mamori.instances import INSTANCE_ID_PATTERN, STOPPED_STATES, Instance, list_instances
from mamori.records import REMEDIATED_TAG, delete_record
from mamori.remediation import Plan, Remediation

# The remediation whose record and restore document every stop shares.
STOP_REMEDIATION = "unapproved-regions"

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


class InstanceStop(Exemptible, Remediation[Instance]):
    remediation_id: ClassVar[str] = STOP_REMEDIATION
    resource_input: ClassVar[str] = "InstanceId"
    resource_pattern: ClassVar[str] = INSTANCE_ID_PATTERN
    text_outputs: ClassVar[tuple[str, ...]] = ("Region",)
    ec2: Any

    def tags(self, target: Instance) -> object:
        return target.tags

    def stop(self, target: Instance) -> None:
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

    def write_tag(self, target: Instance, value: str) -> None:
        self.ec2.create_tags(Resources=[self.resource_id], Tags=[{"Key": REMEDIATED_TAG, "Value": value}])

    def still_wrong(self, target: Instance, plan: Plan) -> str | None:
        # On its way down is enough: stopping takes minutes, and the instance no longer mines.
        after = list_instances(self.ec2, target.region, self.resource_id)
        state = after[0].state if after else "gone"
        if state in STOPPED_STATES:
            return None
        return f"{self.resource_id} in {target.region} is {state} after StopInstances; expected stopping or stopped"
