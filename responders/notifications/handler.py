"""Turns EventBridge events into messages a person in a hurry can act on, and publishes them
to the pack's notification topic: compliance changes of mamori-* rules, AWS Health abuse
events (AWS asks for a reply within 24 hours; the open-proxy account was blocked after four
days of unread reports), and the dead-letter alarms of the forwarders in other regions.

What an account wrote (a Config annotation, a resource id) is quoted and marked with the
account (mamori.reported); every message ends with how to tell it from a forgery
(mamori.messages). An AWS Health message that arrives twice (from us-east-1 and its backup
us-west-2, or delivered twice) is told once (mamori.deduplication).

Every exemption is announced: a resource that turns NOT_APPLICABLE because of its mamori:exempt
tag gets its own EXEMPT message naming the reason and the end date (anyone who may tag the
resource can set the tag, so people must see each one), and a finding whose tag was ignored
says why.
"""

import datetime
import json
import logging
import os
from collections.abc import Mapping
from typing import Any

import boto3

from mamori import abuse_events, automation, deduplication, messages
from mamori.exemption import DEFAULT_MAX_EXEMPTION_DAYS, EXEMPT_PREFIX, EXEMPT_TAG
from mamori.reported import plain, quoted

LOG = logging.getLogger("mamori")
LOG.setLevel(logging.INFO)

# How long a message's key is remembered: copies of one event arrive within minutes.
WINDOW = datetime.timedelta(days=1)
ALARM_SOURCE = "aws.cloudwatch"
ALARM_DETAIL_TYPE = "CloudWatch Alarm State Change"
# The forwarders' own dead-letter alarm (template/abuse-event-forwarder.yaml), forwarded from
# us-east-1 and us-west-2: CloudWatch alarms tell only topics of their own region.
FORWARDER_ALARM = "mamori-forwarder-dead-letters"


def config_console(region: str, rule_name: str) -> str:
    return f"https://{region}.console.aws.amazon.com/config/home?region={region}#/rules/details?configRuleName={rule_name}"


def exemption_in(annotation: str) -> tuple[str, str] | None:
    """("exempt", why) when the rule found the resource exempt, ("ignored", why) when it ignored
    its mamori:exempt tag (the annotation's note says why), None otherwise. The rules write both
    with mamori.exemption's wording, which is matched here."""
    if EXEMPT_PREFIX in annotation:
        return "exempt", annotation[annotation.index(EXEMPT_PREFIX) + len(EXEMPT_PREFIX) :]
    for marker in (f"({EXEMPT_TAG} ignored: ", f"({EXEMPT_TAG} expired on "):
        if marker in annotation:
            return "ignored", annotation[annotation.index(marker) + 1 :].removesuffix(")")
    return None


def format_compliance_change(event: Mapping[str, Any]) -> tuple[str, str]:
    """Everything but the rule's state comes from whoever evaluated: cut to one line, and the
    annotation quoted as the account's words (the event's `account`, which EventBridge sets)."""
    detail = event["detail"]
    rule = plain(detail["configRuleName"], 128)
    new = detail.get("newEvaluationResult") or {}
    old = detail.get("oldEvaluationResult") or {}
    state = plain(new.get("complianceType", "UNKNOWN"), 20)
    region = plain(detail.get("awsRegion") or event.get("region", ""), 30)
    account = event.get("account")
    resource_id = plain(detail.get("resourceId", ""), 80)
    resource = f"{plain(detail.get('resourceType', ''), 60)} {resource_id}".strip()
    was = f" (was {plain(old['complianceType'], 20)})" if old.get("complianceType") else ""
    exemption = exemption_in(str(new.get("annotation") or ""))
    max_days = plain(os.environ.get("MAX_EXEMPTION_DAYS") or DEFAULT_MAX_EXEMPTION_DAYS, 3)
    label = state
    lines = [f"What: {rule} now finds {resource} {state}{was}.", f"Why: {quoted(new.get('annotation'), account)}"]
    if exemption is not None and exemption[0] == "exempt" and state == "NOT_APPLICABLE":
        label = "EXEMPT"
        lines = [
            f"What: {resource} is now exempt from {rule}{was}: it is neither evaluated nor remediated until the exemption ends.",
            f"Why (the mamori:exempt tag): {quoted(exemption[1], account)}",
        ]
        todo = (
            "Check that this exemption was meant: anyone who may tag the resource can set it (CloudTrail shows who "
            "did: CreateTags, TagUser or TagResource). If it was not, remove the tag; the rule evaluates the "
            "resource again at its next run. To fence who may exempt, see the README (Who may exempt)."
        )
    elif state == "NON_COMPLIANT":
        todo = (
            "If automatic remediation is on, the paired mamori document fixes it and this rule turns COMPLIANT; "
            "if it stays NON_COMPLIANT, check the remediation status on the rule's page. To accept the risk for a "
            f"while, tag the resource mamori:exempt with a reason and ' until=YYYY-MM-DD', at most {max_days} days "
            "ahead (an exemption without an end counts for nothing)."
        )
    elif state == "COMPLIANT":
        todo = "Nothing: it is fixed."
    else:
        todo = "Nothing urgent; see the rule's page for the reason."
    if exemption is not None and exemption[0] == "ignored":
        lines.append(f"Exemption: the resource's mamori:exempt tag counts for nothing: {quoted(exemption[1], account)}.")
    subject = f"[mamori] {label}: {rule} {resource_id}"
    body = "\n".join(
        [
            *lines,
            f"Where: account {plain(account, 12)}, region {region}.",
            f"What to do: {todo}",
            f"Details: {config_console(region, rule)}",
        ]
    )
    return abuse_events.subject_line(subject), body


def format_abuse_report(report: abuse_events.AbuseReport, now: datetime.datetime, responder_on: bool) -> tuple[str, str]:
    if abuse_events.is_open_proxy_report(report) and responder_on:
        todo = (
            "mamori-abuse-responder is starting mamori-open-proxy-ports on the security groups of the reported "
            "instances and addresses in this region, and sends its own message with what it did. Then answer the "
            "report in the AWS Health Dashboard / the abuse case saying what you did."
        )
    elif abuse_events.is_open_proxy_report(report):
        todo = (
            "close the proxy port: run mamori-open-proxy-ports on the reported instances' security groups "
            "(automatic abuse response is off: the AbuseResponse or AutoRemediation pack parameter is false). "
            "Then answer the report in the AWS Health Dashboard / the abuse case saying what you did."
        )
    else:
        todo = (
            "stop the abuse (for an open proxy: close the port, mamori-open-proxy-ports does this), "
            "then answer the report in the AWS Health Dashboard / the abuse case saying what you did."
        )
    subject = f"[mamori] URGENT AWS abuse report {report.code_text} - {abuse_events.reply_by_short(report)}"
    lines = [
        f"What: AWS Trust & Safety reported abuse from account {report.affected_account or 'unknown'} ({report.code_text}).",
        f"Reported: {abuse_events.reported_text(report)}",
        f"Affected resources: {abuse_events.entities_text(report)}",
        f"Region: {abuse_events.region_text(report)}",
        f"Deadline: {abuse_events.deadline_text(report, now)}. Without a reply AWS may restrict the account (in the "
        "open-proxy incident it blocked starting and stopping EC2 in the region).",
        f"What to do: {todo}",
    ]
    problems = abuse_events.problems_text(report)
    if problems:
        lines.append(problems)
    return abuse_events.subject_line(subject), "\n".join(lines)


def format_forwarder_alarm(event: Mapping[str, Any]) -> tuple[str, str] | None:
    """A forwarder's dead-letter alarm in another region went to ALARM: one message."""
    detail = event["detail"]
    if detail.get("alarmName") != FORWARDER_ALARM or (detail.get("state") or {}).get("value") != "ALARM":
        return None
    region = plain(event.get("region", ""), 30)
    account = plain(event.get("account", ""), 12)
    subject = f"[mamori] FAILED to forward AWS Health events from {region}"
    body = "\n".join(
        [
            f"What: the mamori forwarder in {region} (account {account}) could not deliver AWS Health events to this "
            "region after every retry; they are waiting in its SQS queue mamori-forwarder-dead-letters.",
            "Why it matters: abuse reports arrive in us-east-1 (and its backup us-west-2) and reach you only through it.",
            f"What to do: in {region}, read the queue (SQS console, Poll for messages), read the reports in the AWS Health "
            "Dashboard at once, fix the cause (the forwarder's role, an SCP, this region's bus), then redrive or purge "
            "the queue: the alarm tells again only after it was empty.",
        ]
    )
    return abuse_events.subject_line(subject), body


def message_key(event: Mapping[str, Any]) -> str:
    """An AWS Health event: deduplication.health_event_key (its copies from two regions are one
    message); anything else: its EventBridge event id (a delivery made twice)."""
    if event.get("source") == abuse_events.SOURCE:
        return deduplication.health_event_key(event)
    return f"event#{event.get('id')}"


def format_event(event: Any) -> tuple[str, str] | None:
    if not isinstance(event, Mapping) or not isinstance(event.get("detail"), Mapping):
        return None
    detail_type = event.get("detail-type")
    if event.get("source") == "aws.config" and detail_type == "Config Rules Compliance Change":
        if str(event["detail"].get("configRuleName", "")).startswith("mamori-"):
            return format_compliance_change(event)
        return None
    if event.get("source") == abuse_events.SOURCE and detail_type == abuse_events.DETAIL_TYPE:
        try:
            report = abuse_events.parse_abuse_event(event)
        except abuse_events.NotAnAbuseReport:
            return None
        return format_abuse_report(report, automation.utc_now(), os.environ.get("ABUSE_RESPONSE") == "on")
    if event.get("source") == ALARM_SOURCE and detail_type == ALARM_DETAIL_TYPE:
        return format_forwarder_alarm(event)
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
    topic = os.environ["TOPIC_ARN"]
    told = deduplication.publish_once(
        deduplication.from_environment(os.environ, boto3.client),
        message_key(event),
        WINDOW,
        automation.utc_now(),
        lambda: boto3.client("sns").publish(TopicArn=topic, Subject=subject, Message=messages.signed(body, topic)),
    )
    if not told:
        return {"published": False, "duplicate": True, "subject": subject}
    return {"published": True, "subject": subject}
