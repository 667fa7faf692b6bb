"""mamori-abuse-responder: an AWS Health abuse report about an open proxy starts the
open-proxy remediation on the security groups of the reported instances and addresses.

The open-proxy incident: abuse reports about a proxy port open to the internet went to an
inbox nobody read, until AWS blocked starting and stopping EC2 in the region. The notifier
already tells people about every abuse report; this responder also closes the port:

1. Reads the event with mamori.abuse_events (the notifier's reading too). Anything that is not
   an open-proxy abuse report about this account is ignored with a log line.
2. Finds the security groups of the affected entities in this Lambda's region: instances (by
   id or ARN) through one DescribeInstances, public addresses through DescribeNetworkInterfaces.
   Entities in another region are not acted on: the document and its role are regional.
3. Starts mamori-open-proxy-ports once per group with the parameters the rule's
   RemediationConfiguration passes (from the environment the template fills from the
   RemediationLink), and AbuseReport naming the report: an abuse report overrides mamori:exempt,
   because the account is at stake. The automation re-checks the live group and changes only
   what the rule would flag, so a repeated report changes nothing.
4. Publishes one message: what was reported, what was started (naming every group whose
   exemption is overridden, and why it was exempt), what was not and why, the reply deadline
   and what the person must still do. If a start or a look-up failed, it
   raises after publishing, so the failure shows in the Lambda's metrics and is retried.

The same report may arrive twice (from us-east-1 and its backup us-west-2, or delivered twice):
both copies act (the automation re-checks the group, so the second changes nothing), and one
message per outcome goes out (mamori.deduplication; a retry that succeeds after a failure is
told). What failed for good ends in the dead-letter queue, whose alarm tells the topic.
"""

import dataclasses
import datetime
import json
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.exceptions

from mamori import abuse_cases, abuse_events, automation, deduplication, messages
from mamori.abuse_events import AbuseReport, AffectedEntity
from mamori.aws_api import error_text
from mamori.deployed_rule import RuleNotDeployed, rule_parameters
from mamori.exemption import DEFAULT_MAX_EXEMPTION_DAYS, exemption_status, parse_max_exemption_days
from mamori.exposure import DEFAULT_PROXY_PORTS, Trusted, parse_proxy_ports, parse_trusted

OPEN_PROXY_RULE = "mamori-open-proxy-ports"

LOG = logging.getLogger("mamori")
LOG.setLevel(logging.INFO)

# DOCUMENT_PARAMETER_<name>=<value>: the document parameters the RemediationConfiguration
# passes besides GroupId and AutomationAssumeRole. An empty value is left out, as the
# RemediationConfiguration leaves out an optional pack parameter that is not set.
PARAMETER_PREFIX = "DOCUMENT_PARAMETER_"
FILTER_VALUES = 200  # EC2 accepts at most 200 values per filter
WINDOW = datetime.timedelta(days=1)  # copies of one report arrive within minutes


@dataclass
class Lookup:
    """Where the report's entities lead in this region."""

    groups: dict[str, list[str]] = field(default_factory=dict)  # group id -> the entities that led to it
    not_acted: list[tuple[str, str]] = field(default_factory=list)  # (entity, why)
    errors: list[str] = field(default_factory=list)
    instances: dict[str, dict[str, Any]] = field(default_factory=dict)  # the reported instances, as described


@dataclass
class Exemptions:
    """The groups tagged mamori:exempt whose exemption an abuse report overrides."""

    overridden: dict[str, str] = field(default_factory=dict)  # group id -> why it was exempt
    error: str = ""  # why the groups' tags could not be read


@dataclass
class Starts:
    executions: dict[str, str] = field(default_factory=dict)  # group id -> execution id
    failures: dict[str, str] = field(default_factory=dict)  # group id -> error


def chunks(values: Sequence[str]) -> Iterator[list[str]]:
    for start in range(0, len(values), FILTER_VALUES):
        yield list(values[start : start + FILTER_VALUES])


def describe_instances(ec2: Any, instance_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The instances that exist, by id. A filter, not InstanceIds=: one unknown id must not
    fail the look-up of the others (InvalidInstanceID.NotFound)."""
    found: dict[str, dict[str, Any]] = {}
    paginator = ec2.get_paginator("describe_instances")
    for ids in chunks(instance_ids):
        for page in paginator.paginate(Filters=[{"Name": "instance-id", "Values": ids}]):
            for reservation in page.get("Reservations", []):
                for instance in reservation.get("Instances", []):
                    found[instance["InstanceId"]] = instance
    return found


def instance_groups(instance: Mapping[str, Any]) -> list[str]:
    """Every security group of every network interface (an instance launched with explicit
    interfaces lists its groups only there), then the instance's own list."""
    groups = [group["GroupId"] for interface in instance.get("NetworkInterfaces", []) for group in interface.get("Groups", [])]
    groups += [group["GroupId"] for group in instance.get("SecurityGroups", [])]
    return list(dict.fromkeys(groups))


def interface_addresses(interface: Mapping[str, Any]) -> set[str]:
    """The public IPv4 addresses (primary and secondary, elastic or not) and IPv6 addresses of an interface."""
    associations = [interface.get("Association") or {}] + [
        private.get("Association") or {} for private in interface.get("PrivateIpAddresses", [])
    ]
    addresses = {association["PublicIp"] for association in associations if association.get("PublicIp")}
    addresses |= {item["Ipv6Address"] for item in interface.get("Ipv6Addresses", []) if item.get("Ipv6Address")}
    return addresses


def describe_interfaces(ec2: Any, filter_name: str, addresses: Sequence[str]) -> list[dict[str, Any]]:
    interfaces: list[dict[str, Any]] = []
    paginator = ec2.get_paginator("describe_network_interfaces")
    for values in chunks(addresses):
        for page in paginator.paginate(Filters=[{"Name": filter_name, "Values": values}]):
            interfaces.extend(page.get("NetworkInterfaces", []))
    return interfaces


def find_groups(ec2: Any, entities: Sequence[AffectedEntity], region: str, account: str) -> Lookup:
    lookup = Lookup()
    instances: dict[str, AffectedEntity] = {}
    addresses: dict[str, AffectedEntity] = {}
    for entity in entities:
        if entity.region is not None and entity.region != region:
            lookup.not_acted.append(
                (
                    entity.value,
                    f"in {entity.region}; this responder acts in {region} only (the document and its role are "
                    f"regional): deploy mamori in {entity.region} and run mamori-open-proxy-ports there on the "
                    "instance's security groups, or close the port by hand",
                )
            )
        elif entity.account is not None and entity.account != account:
            lookup.not_acted.append((entity.value, f"belongs to account {entity.account}, not {account}"))
        elif entity.instance_id:
            instances[entity.instance_id] = entity
        elif entity.address is not None:
            addresses[str(entity.address)] = entity
        else:
            lookup.not_acted.append((entity.value, "not an instance or an IP address"))
    where = f"in {region}"

    if instances:
        try:
            found = describe_instances(ec2, list(instances))
        except botocore.exceptions.ClientError as error:
            lookup.errors.append(f"DescribeInstances failed: {error_text(error)}")
            lookup.not_acted += [(entity.value, "could not be looked up (see the error below)") for entity in instances.values()]
        else:
            for instance_id, entity in instances.items():
                instance = found.get(instance_id)
                if instance is None:
                    lookup.not_acted.append((entity.value, f"no such instance {where} (terminated, or in another region)"))
                    continue
                lookup.instances[instance_id] = instance
                groups = instance_groups(instance)
                if not groups:
                    state = (instance.get("State") or {}).get("Name", "unknown")
                    lookup.not_acted.append((entity.value, f"the instance ({state}) has no security group"))
                for group in groups:
                    lookup.groups.setdefault(group, []).append(entity.value)

    for version, filter_name in ((4, "association.public-ip"), (6, "ipv6-addresses.ipv6-address")):
        wanted = {text: entity for text, entity in addresses.items() if entity.address and entity.address.version == version}
        if not wanted:
            continue
        try:
            interfaces = describe_interfaces(ec2, filter_name, list(wanted))
        except botocore.exceptions.ClientError as error:
            lookup.errors.append(f"DescribeNetworkInterfaces failed: {error_text(error)}")
            lookup.not_acted += [(entity.value, "could not be looked up (see the error below)") for entity in wanted.values()]
            continue
        matched: set[str] = set()
        for interface in interfaces:
            for address in interface_addresses(interface) & set(wanted):
                matched.add(address)
                for group in interface.get("Groups", []):
                    lookup.groups.setdefault(group["GroupId"], []).append(wanted[address].value)
        for address in sorted(set(wanted) - matched):
            lookup.not_acted.append((wanted[address].value, f"no network interface {where} has this address (released?)"))
    return lookup


def exempt_groups(ec2: Any, groups: Sequence[str], environ: Mapping[str, str]) -> Exemptions:
    """Which of the groups carry an exemption that holds (so that the message can say it is
    overridden). One DescribeSecurityGroups per 200 groups; a failure only loses the list."""
    found = Exemptions()
    max_days = parse_max_exemption_days(environ.get(f"{PARAMETER_PREFIX}MaxExemptionDays") or str(DEFAULT_MAX_EXEMPTION_DAYS))
    today = automation.utc_now().date()
    try:
        for ids in chunks(list(groups)):
            for page in ec2.get_paginator("describe_security_groups").paginate(Filters=[{"Name": "group-id", "Values": ids}]):
                for group in page.get("SecurityGroups", []):
                    status = exemption_status(group.get("Tags"), today, max_days)
                    if status is not None and status.applies:
                        found.overridden[group["GroupId"]] = status.message
    except botocore.exceptions.ClientError as error:
        found.error = error_text(error)
    return found


def document_parameters(environ: Mapping[str, str]) -> dict[str, str]:
    return {
        name.removeprefix(PARAMETER_PREFIX): value
        for name, value in sorted(environ.items())
        if name.startswith(PARAMETER_PREFIX) and value != ""
    }


def start_remediations(ssm: Any, groups: Sequence[str], environ: Mapping[str, str], abuse_report: str = "") -> Starts:
    starts = Starts()
    base = {"AutomationAssumeRole": [environ["AUTOMATION_ASSUME_ROLE"]]} | {
        name: [value] for name, value in document_parameters(environ).items()
    }
    if abuse_report:
        base["AbuseReport"] = [abuse_report]
    for group in groups:
        try:
            response = ssm.start_automation_execution(
                DocumentName=environ["DOCUMENT_NAME"], Parameters={environ["RESOURCE_ID_PARAMETER"]: [group], **base}
            )
        except botocore.exceptions.ClientError as error:
            starts.failures[group] = error_text(error)
            continue
        starts.executions[group] = response["AutomationExecutionId"]
    return starts


def format_message(
    report: AbuseReport,
    region: str,
    lookup: Lookup,
    starts: Starts,
    environ: Mapping[str, str],
    exemptions: Exemptions | None = None,
) -> tuple[str, str]:
    exemptions = exemptions or Exemptions()
    document = environ["DOCUMENT_NAME"]
    if starts.failures:
        subject = f"[mamori] Open proxy report: remediation FAILED on {len(starts.failures)} of {len(lookup.groups)} groups"
    elif lookup.errors:
        subject = "[mamori] Open proxy report: look-up FAILED"
    elif starts.executions:
        count = len(starts.executions)
        subject = f"[mamori] Open proxy report: remediation started on {count} group{'s' if count > 1 else ''}"
    else:
        subject = "[mamori] Open proxy report: nothing remediated automatically"
    subject += f" - {abuse_events.reply_by_short(report)}"

    received = abuse_events.format_time(report.received) if report.received else "at an unknown time"
    lines = [
        f"What: AWS Trust & Safety reported an open proxy in account {report.affected_account} ({report.code_text}), "
        f"received {received}.",
        f"Reported: {abuse_events.reported_text(report)}",
        f"Affected resources: {abuse_events.entities_text(report)}",
    ]

    def via(group: str) -> str:
        return f"{group} (via {', '.join(lookup.groups[group])})"

    parameters = "".join(f", {name}={value}" for name, value in document_parameters(environ).items())
    if starts.executions:
        lines.append(f"Remediation started in {region} ({document}{parameters}) on:")
        lines += [f"- {via(group)}: execution {execution}" for group, execution in starts.executions.items()]
    if exemptions.overridden:
        lines.append(
            "Exemptions overridden: an AWS abuse report puts the account at stake, so these groups are remediated "
            "although they are tagged mamori:exempt:"
        )
        lines += [f"- {group}: {why}" for group, why in sorted(exemptions.overridden.items())]
    if exemptions.error:
        lines.append(
            f"Could not read the groups' mamori:exempt tags ({exemptions.error}); any exemption is overridden all the same."
        )
    if lookup.groups and not report.reference:
        lines.append("The report names no event ARN or abuse code: groups tagged mamori:exempt are skipped (SKIPPED_EXEMPT).")
    if starts.failures:
        lines.append(f"FAILED to start {document} on:")
        lines += [f"- {via(group)}: {error}" for group, error in starts.failures.items()]
        lines.append(
            f"Lambda retries this event up to twice; if a group still fails, run {document} on it from Systems "
            f"Manager > Automation ({region}) or close the port by hand."
        )
    if lookup.errors:
        lines.append("FAILED to look up: " + "; ".join(lookup.errors))
    if lookup.not_acted:
        lines.append("Not acted on:")
        lines += [f"- {entity}: {why}" for entity, why in lookup.not_acted]
    if not report.entities:
        lines.append("Not acted on: the report names no instance or address; find the proxy yourself.")
    if lookup.groups:
        lines.append(
            f"What {document} does: it re-reads each group and revokes only the inbound entries that let the "
            "internet reach a proxy port (wide ranges are narrowed, not lost), records them and tags the group "
            f"mamori:remediated; {document}-restore undoes it. Read each execution's Status and Revoked outputs in "
            f"Systems Manager > Automation ({region}). NOTHING_TO_DO means no proxy port of that group was open to "
            "the internet: the proxy is reached another way (another port, group or load balancer), close it by "
            "hand. An abuse report overrides mamori:exempt: an exempt group is remediated too, and its Message says so."
        )
    lines += [
        f"Deadline: {abuse_events.deadline_text(report, automation.utc_now())}. Without a reply AWS may restrict the "
        "account (in the open-proxy incident it blocked starting and stopping EC2 in the region).",
        "What you must still do: answer the report in the AWS Health Dashboard / the abuse case: what was open, "
        "that it is closed (the executions above), and how it will not happen again. mamori does not reply for you.",
    ]
    problems = abuse_events.problems_text(report)
    if problems:
        lines.append(problems)
    return abuse_events.subject_line(subject), "\n".join(lines)


def this_account(context: Any, report: AbuseReport) -> str | None:
    """The Lambda's account (from its ARN); the account the event was delivered to otherwise."""
    arn = getattr(context, "invoked_function_arn", None)
    if isinstance(arn, str) and len(arn.split(":")) > 4 and arn.split(":")[4]:
        return arn.split(":")[4]
    return report.delivered_to_account


def ignored(reason: str) -> dict[str, Any]:
    LOG.info("Ignored: %s", reason)
    return {"acted": False, "ignored": reason}


def case_section(case: abuse_cases.Case, reminder: abuse_cases.Reminder | None) -> list[str]:
    """What the message adds about the case: the OpsItem, the reminders, the reply draft."""
    start, due = case.clock
    if case.ops_item:
        item = f"Case: OpsItem {case.ops_item}" + ("" if case.opened else " (already open for this report)")
    else:
        item = "Case: NOT opened (" + "; ".join(case.errors) + ")"
    if reminder is not None:
        times = [start + (due - start) * share for share in abuse_cases.REMINDER_AT[reminder.step :]]
        reminders = "Reminders until the OpsItem is resolved: " + ", ".join(abuse_cases.format_time(t) for t in times)
    else:
        reminders = "Reminders: none (" + ("; ".join(case.errors) or "the deadline is near or passed") + ")"
    return [
        item,
        reminders,
        "",
        "Reply draft (check it, complete the [brackets], send it, then resolve the OpsItem):",
        case.draft(),
    ]


def other_report_message(case: abuse_cases.Case) -> tuple[str, str]:
    _, due = case.clock
    subject = f"[mamori] Abuse report {case.report.code_text}: case opened - reply by {abuse_events.format_time(due)}"
    return abuse_events.subject_line(subject), case.description()


def track(case: abuse_cases.Case, ssm: Any, context: Any, environ: Mapping[str, str]) -> abuse_cases.Reminder | None:
    """Open the case and, when it is new, schedule its reminders. Failures go to case.errors."""
    abuse_cases.open_case(ssm, case)
    if not case.opened:
        return None
    reminder = abuse_cases.next_reminder(case, automation.utc_now())
    if reminder is None:
        return None
    try:
        abuse_cases.schedule(
            boto3.client("scheduler"), reminder, context.invoked_function_arn, environ["REMINDER_ROLE_ARN"], create=True
        )
    except botocore.exceptions.ClientError as error:
        case.errors.append(f"CreateSchedule failed: {error_text(error)}")
        return None
    case.schedule = reminder.schedule
    return reminder


def remind(event: Mapping[str, Any], context: Any, environ: Mapping[str, str]) -> dict[str, Any]:
    """A reminder Scheduler invoked: tell the topic how much time is left, unless the case is
    resolved (then delete its schedule), and move the schedule to the next reminder."""
    try:
        reminder = abuse_cases.read_reminder(event)
    except abuse_cases.NotAReminder as error:
        LOG.warning("Ignored a reminder invocation: %s: %s", error, json.dumps(event, default=str)[:500])
        return {"acted": False, "ignored": str(error)}
    scheduler = boto3.client("scheduler")
    try:
        item = boto3.client("ssm").get_ops_item(OpsItemId=reminder.ops_item)["OpsItem"]
    except botocore.exceptions.ClientError as error:
        if error.response.get("Error", {}).get("Code") != "OpsItemNotFoundException":
            raise
        item = {"Status": "deleted"}
    if item.get("Status") not in abuse_cases.OPEN:
        try:
            scheduler.delete_schedule(Name=reminder.schedule, GroupName=abuse_cases.SCHEDULE_GROUP)
        except botocore.exceptions.ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise
        LOG.info("Case %s is %s: deleted its schedule %s", reminder.ops_item, item.get("Status"), reminder.schedule)
        return {"acted": False, "case": item.get("Status"), "schedule": "deleted"}
    now = automation.utc_now()
    subject, body = abuse_cases.reminder_message(reminder, item, now)
    boto3.client("sns").publish(
        TopicArn=environ["TOPIC_ARN"],
        Subject=abuse_events.subject_line(subject),
        Message=messages.signed(body, environ["TOPIC_ARN"]),
    )
    following = (
        dataclasses.replace(reminder, step=reminder.step + 1) if reminder.step + 1 < len(abuse_cases.REMINDER_AT) else None
    )
    if following is not None and following.at() > now:
        abuse_cases.schedule(scheduler, following, context.invoked_function_arn, environ["REMINDER_ROLE_ARN"], create=False)
        return {"acted": True, "reminded": reminder.step, "next": following.step}
    return {"acted": True, "reminded": reminder.step, "next": None}


def proxy_settings() -> tuple[tuple[int, ...], Trusted, str]:
    """The deployed rule's ProxyPorts and TrustedCidrs, as its remediation reads them
    (mamori.deployed_rule); the defaults, said, when the rule is not deployed in this region."""
    try:
        parameters = rule_parameters(boto3.client("config"), OPEN_PROXY_RULE)
    except RuleNotDeployed as error:
        return DEFAULT_PROXY_PORTS, Trusted(), f"judged with the default ProxyPorts: {error}"
    ports = parameters.get("ProxyPorts") or ",".join(str(port) for port in DEFAULT_PROXY_PORTS)
    return parse_proxy_ports(ports), parse_trusted(parameters.get("TrustedCidrs", "")), ""


def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    if abuse_cases.is_reminder(event):
        return remind(event, context, os.environ)
    try:
        report = abuse_events.parse_abuse_event(event)
    except abuse_events.NotAnAbuseReport as error:
        LOG.warning("Ignored an event that is not an abuse report (%s): %s", error, json.dumps(event, default=str)[:500])
        return {"acted": False, "ignored": str(error)}
    account = report.affected_account
    if account is None or account != this_account(context, report):
        # Organizational views deliver member accounts' reports to the management account:
        # acting there would need a role in the member account. The notifier tells people.
        about = f"account {account}" if account else "an unknown account"
        return ignored(f"the report is about {about}, not this account {this_account(context, report)}")

    region = os.environ["AWS_REGION"]
    ec2 = boto3.client("ec2")
    proxy = abuse_events.is_open_proxy_report(report)
    case = abuse_cases.Case(report, account, region, automation.utc_now(), acting=proxy)
    lookup = find_groups(ec2, report.entities, region, account)
    # What was open, read before anything changes it: the root cause the reply names.
    if lookup.groups:
        ports, trusted, note = proxy_settings()
        case.groups, read_error = abuse_cases.read_groups(ec2, lookup.groups, ports, trusted)
        case.errors += [read_error] if read_error else []
        case.not_looked_at += [("the groups", note)] if note else []
    case.not_looked_at += list(lookup.not_acted)
    case.contained = abuse_cases.contained_before(lookup.instances)
    starts, ssm, exemptions = Starts(), boto3.client("ssm"), Exemptions()
    if proxy and os.environ.get("CONTAIN", "true") == "true":
        if lookup.groups and report.reference:
            exemptions = exempt_groups(ec2, list(lookup.groups), os.environ)
        starts = start_remediations(ssm, list(lookup.groups), os.environ, report.reference)
    case.started, case.failed = dict(starts.executions), dict(starts.failures)
    reminder = track(case, ssm, context, os.environ)
    if not case.opened and not case.errors and not starts.failures and not starts.executions:
        LOG.info("Report %s: case %s is open already and nothing changed; notified nothing", report.event_arn, case.ops_item)
        return {"acted": False, "case": case.ops_item, "subject": ""}
    if proxy:
        subject, body = format_message(report, region, lookup, starts, os.environ, exemptions)
    else:
        subject, body = other_report_message(case)
    body = "\n".join([body, "", *case_section(case, reminder)])
    failed = bool(starts.failures or lookup.errors or case.errors)
    topic = os.environ["TOPIC_ARN"]
    told = deduplication.publish_once(
        deduplication.from_environment(os.environ, boto3.client),
        f"{deduplication.health_event_key(event)}#{'failed' if failed else 'done'}",
        WINDOW,
        automation.utc_now(),
        lambda: boto3.client("sns").publish(TopicArn=topic, Subject=subject, Message=messages.signed(body, topic)),
    )
    LOG.info("Published %r" if told else "Told already, not published: %r", subject)
    if failed:
        problems = [*lookup.errors, *case.errors, *(f"{g}: {e}" for g, e in starts.failures.items())]
        raise RuntimeError(f"{subject}: " + "; ".join(problems))
    return {
        "acted": bool(starts.executions),
        "executions": starts.executions,
        "not_acted": dict(lookup.not_acted),
        "subject": subject,
        "case": case.ops_item,
        "schedule": case.schedule,
        "told": told,
    }
