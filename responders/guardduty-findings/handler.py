"""mamori-miner-responder: a GuardDuty finding says an instance mines (or its credentials are used
from elsewhere); stop it at once, in the region where GuardDuty found it.

The forgotten root key of the incident ran miners in nine regions for days. For a finding of
one of MinerFindingTypes at or above MinerSeverityFloor, about an instance of this account and
region:

1. The instance is read live; one tagged mamori:exempt is left running, and the message says so.
2. Its EBS volumes are snapshotted first when SnapshotBeforeStop is "true" (one CreateSnapshots
   call, tagged mamori:evidence), so the evidence survives whatever happens next.
3. It is stopped (never terminated) on the remediation kernel (mamori.miners.StopMiningInstance):
   recorded first in the home region's Parameter Store as mamori-unapproved-regions records are,
   tagged mamori:remediated, re-read after; mamori-unapproved-regions-restore starts it again.
4. One message says what was found and done. GuardDuty sends a finding again as it recurs
   (service.count grows): a finding it sent before, about an instance already stopped, is
   handled once and told once.

Only `aws.guardduty` events reach it. A finding about another account (a GuardDuty administrator
receives its members') or region is notified, never acted on. A malformed event is logged with
its id and ignored; an instance that no longer exists is reported. A failure is said, then
raised, so that Lambda retries it and the failure is counted.
"""

import json
import logging
import os
from collections.abc import Callable, Mapping
from typing import Any

import boto3
import botocore.exceptions

from mamori import miners
from mamori.abuse_events import subject_line
from mamori.aws_api import error_text
from mamori.messages import signed
from mamori.miners import MinerFinding, StopMiningInstance
from mamori.remediation import run_remediation
from mamori.status import FAILED, IGNORED, NOT_FOUND, NOTHING_TO_DO, NOTIFIED, REFUSED, REMEDIATED, SKIPPED_EXEMPT

LOG = logging.getLogger("mamori")
LOG.setLevel(logging.INFO)

OUTCOME = {
    REMEDIATED: "stopped",
    NOTHING_TO_DO: "already stopped",
    SKIPPED_EXEMPT: "left running (exempt)",
    NOT_FOUND: "instance gone",
    NOTIFIED: "NOT stopped (AutoRemediation is false)",
    FAILED: "stop FAILED",
}


def this_account(context: Any) -> str | None:
    arn = getattr(context, "invoked_function_arn", None)
    parts = arn.split(":") if isinstance(arn, str) else []
    return parts[4] if len(parts) > 4 and parts[4] else None


def contain(finding: MinerFinding, environ: Mapping[str, str], make: Callable[..., Any]) -> tuple[str, str]:
    """(status, what was done) for the finding's instance."""
    if environ.get("CONTAIN", "true") != "true":
        return NOTIFIED, (
            f"NOT stopped: AutoRemediation is false. Stop it now: aws ec2 stop-instances --region {finding.region} "
            f"--instance-ids {finding.instance_id}"
        )
    unit = StopMiningInstance(
        finding,
        make("ec2", region_name=finding.region),
        make("ssm", region_name=environ.get("HOME_REGION") or finding.region),
        environ.get("SNAPSHOT_BEFORE_STOP", "true") == "true",
    )
    try:
        result = run_remediation(unit)
    except (botocore.exceptions.ClientError, RuntimeError) as error:
        return FAILED, f"FAILED to stop it: {error_text(error)}"
    status, message = str(result["Status"]), str(result["Message"])
    if status == SKIPPED_EXEMPT:
        message = f"Left RUNNING: the instance is tagged mamori:exempt ({message}). Check it is meant to be."
    return status, message


def message(finding: MinerFinding, status: str, done: str) -> tuple[str, str]:
    subject = f"[mamori] Miner {finding.instance_id} in {finding.region}: {OUTCOME.get(status, status)}"
    body = [
        f"What: {finding.describe()} in account {finding.account}, {finding.region}: {finding.title.rstrip('.') or 'no title'}.",
        f"Instance: {finding.instance_id}",
        f"What mamori did: {done}",
    ]
    if status == REMEDIATED:
        body.append(
            "What to do: find how it started (CloudTrail RunInstances; the key or role that launched it), contain that, "
            "keep the snapshots as evidence, then terminate the instance or, if the finding was wrong, run "
            f"mamori-unapproved-regions-restore with InstanceId {finding.instance_id} in the home region."
        )
    elif status == FAILED:
        body.append("What to do: Lambda retries this event up to twice; if it still fails, stop the instance by hand.")
    return subject_line(subject), "\n".join(body)


def respond(event: Any, account: str | None, environ: Mapping[str, str], make: Callable[..., Any]) -> dict[str, Any]:
    try:
        finding = miners.parse_finding(event)
    except miners.NotAFinding as error:
        event_id = event.get("id") if isinstance(event, Mapping) else None
        LOG.warning("Ignored event %s: %s: %s", event_id or "(no id)", error, json.dumps(event, default=str)[:500])
        return {"acted": False, "status": IGNORED, "reason": str(error)}
    wanted = miners.parse_finding_types(environ.get("MINER_FINDING_TYPES", ",".join(miners.DEFAULT_FINDING_TYPES)))
    floor = miners.parse_severity_floor(environ.get("MINER_SEVERITY_FLOOR", miners.DEFAULT_SEVERITY_FLOOR))
    reason = miners.why_not_acted(finding, wanted, floor)
    if reason is not None:
        LOG.info("Ignored finding %s (event %s): %s", finding.finding_id, finding.event_id, reason)
        return {"acted": False, "status": IGNORED, "reason": reason}
    topic, region = environ["TOPIC_ARN"], environ.get("AWS_REGION", "")
    sns = make("sns", region_name=topic.split(":")[3])  # the topic's region: the stack's
    elsewhere = (
        f"account {finding.account}, not this account {account}"
        if finding.account != account
        else (f"region {finding.region}, not {region}" if finding.region != region else None)
    )
    if elsewhere or finding.instance_id is None:
        why = f"it is about {elsewhere}" if elsewhere else "it names no EC2 instance"
        done = f"Nothing: {why}; mamori acts only on instances of its own account and region."
        subject = f"[mamori] {finding.finding_type} in {finding.account} {finding.region}: not acted on here"
        sns.publish(TopicArn=topic, Subject=subject_line(subject), Message=signed(message(finding, REFUSED, done)[1], topic))
        return {"acted": False, "status": REFUSED, "reason": why}

    status, done = contain(finding, environ, make)
    result = {"acted": status == REMEDIATED, "status": status, "instance": finding.instance_id, "done": done}
    if status not in (REMEDIATED, FAILED) and finding.count > 1:
        # GuardDuty's update of a finding it sent before: the first one was handled and told.
        LOG.info("Finding %s seen %d times; %s: %s", finding.finding_id, finding.count, status, done)
        return result | {"subject": ""}
    subject, body = message(finding, status, done)
    sns.publish(TopicArn=topic, Subject=subject, Message=signed(body, topic))
    LOG.info("Published %r", subject)
    if status == FAILED:
        raise RuntimeError(f"{subject}: {done}")
    return result | {"subject": subject}


def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    return respond(event, this_account(context), os.environ, boto3.client)
