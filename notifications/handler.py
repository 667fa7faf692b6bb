"""Turns EventBridge events into messages a person in a hurry can act on, and publishes them
to the pack's notification topic: compliance changes of mamori-* rules, and AWS Health abuse
events (AWS asks for a reply within 24 hours; the open-proxy account was blocked after four
days of unread reports).
"""

import datetime
import json
import logging
import os
from collections.abc import Mapping
from typing import Any

import boto3

LOG = logging.getLogger("mamori")
LOG.setLevel(logging.INFO)

ABUSE_REPLY_HOURS = 24
SUBJECT_LIMIT = 100  # SNS subject limit


def config_console(region: str, rule_name: str) -> str:
    return f"https://{region}.console.aws.amazon.com/config/home?region={region}#/rules/details?configRuleName={rule_name}"


def format_compliance_change(event: Mapping[str, Any]) -> tuple[str, str]:
    detail = event["detail"]
    rule = str(detail["configRuleName"])
    new = detail.get("newEvaluationResult") or {}
    old = detail.get("oldEvaluationResult") or {}
    state = str(new.get("complianceType", "UNKNOWN"))
    region = str(detail.get("awsRegion") or event.get("region", ""))
    account = str(detail.get("awsAccountId") or event.get("account", ""))
    resource = f"{detail.get('resourceType', '')} {detail.get('resourceId', '')}".strip()
    was = f" (was {old['complianceType']})" if old.get("complianceType") else ""
    if state == "NON_COMPLIANT":
        todo = (
            "If automatic remediation is on, the paired mamori document fixes it and this rule turns COMPLIANT; "
            "if it stays NON_COMPLIANT, check the remediation status on the rule's page. To accept the risk, "
            "tag the resource mamori:exempt with a reason (optionally ' until=YYYY-MM-DD')."
        )
    elif state == "COMPLIANT":
        todo = "Nothing: it is fixed."
    else:
        todo = "Nothing urgent; see the rule's page for the reason."
    subject = f"[mamori] {state}: {rule} {detail.get('resourceId', '')}"
    body = "\n".join(
        [
            f"What: {rule} now finds {resource} {state}{was}.",
            f"Why: {new.get('annotation') or 'no annotation'}",
            f"Where: account {account}, region {region}.",
            f"What to do: {todo}",
            f"Details: {config_console(region, rule)}",
        ]
    )
    return subject[:SUBJECT_LIMIT], body


def format_abuse_event(event: Mapping[str, Any]) -> tuple[str, str]:
    detail = event["detail"]
    code = str(detail.get("eventTypeCode", "AWS_ABUSE_UNKNOWN"))
    account = str(detail.get("affectedAccount") or event.get("account", ""))
    received = str(event.get("time") or detail.get("startTime") or "")
    deadline = "within 24 hours of the report"
    try:
        moment = datetime.datetime.fromisoformat(received.replace("Z", "+00:00"))
        deadline = (moment + datetime.timedelta(hours=ABUSE_REPLY_HOURS)).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        pass
    descriptions = [
        str(item.get("latestDescription", "")) for item in detail.get("eventDescription") or [] if isinstance(item, Mapping)
    ]
    entities = [
        str(item.get("entityValue"))
        for item in detail.get("affectedEntities") or []
        if isinstance(item, Mapping) and item.get("entityValue")
    ]
    entities = entities or [str(resource) for resource in event.get("resources") or []]
    subject = f"[mamori] URGENT AWS abuse report {code} - reply by {deadline}"
    body = "\n".join(
        [
            f"What: AWS Trust & Safety reported abuse from account {account} ({code}).",
            f"Reported: {' '.join(descriptions) or 'see the AWS Health Dashboard for the report text'}",
            f"Affected resources: {', '.join(entities) if entities else 'not named in the event (see the report)'}",
            f"Region: {detail.get('eventRegion') or event.get('region', '')}",
            f"Deadline: reply by {deadline}. Without a reply AWS may restrict the account (in the open-proxy "
            "incident it blocked starting and stopping EC2 in the region).",
            "What to do: stop the abuse (for an open proxy: close the port, mamori-open-proxy-ports does this), "
            "then answer the report in the AWS Health Dashboard / the abuse case saying what you did.",
        ]
    )
    return subject[:SUBJECT_LIMIT], body


def format_event(event: Any) -> tuple[str, str] | None:
    if not isinstance(event, Mapping) or not isinstance(event.get("detail"), Mapping):
        return None
    detail_type = event.get("detail-type")
    if event.get("source") == "aws.config" and detail_type == "Config Rules Compliance Change":
        if str(event["detail"].get("configRuleName", "")).startswith("mamori-"):
            return format_compliance_change(event)
        return None
    if event.get("source") == "aws.health" and detail_type == "AWS Health Abuse Event":
        return format_abuse_event(event)
    return None


def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    message = format_event(event)
    if message is None:
        LOG.warning(
            "Ignored an event that is neither a mamori compliance change nor an abuse event: %s",
            json.dumps(event, default=str)[:500],
        )
        return {"published": False}
    subject, body = message
    boto3.client("sns").publish(TopicArn=os.environ["TOPIC_ARN"], Subject=subject, Message=body)
    return {"published": True, "subject": subject}
