"""`make demo`: replay the incidents mamori exists for on an embedded moto. No AWS account needed.

Each incident is an Act: it builds the broken state in the (mock) account, lets the real rule
Lambda evaluate it the way AWS Config would, shows the compliance table, runs the paired
remediation document the way automatic remediation would, re-evaluates and shows the table
again, checking along the way that the fix changed exactly what it should. A new rule adds its
incident by writing one `play_…` function and listing it in ACTS.

Act 1 is the open proxy (a security group opened a proxy port to the internet); Act 2 is the
forgotten root key (a years-old root access key, no root MFA, plus the IAM users around it:
a console password without MFA and a key nobody uses). Besides moto and harness/ (Config
stand-in, document runner, dated IAM users), Act 2 reuses two stand-ins from the tests,
imported from tests/root_helpers.py: OpsCenter (moto has no OpsItems) and the notification
topic read back through an SQS subscription. Root's credentials, which no API sets up, are
the sandbox's (Sandbox.root); a person signing in as root to fix them is stood in for there.

The demo is also a smoke test: it exits 1 when any expectation fails, 0 otherwise.
"""

import datetime
import io
import json
import os
import shutil
import sys
import textwrap
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import boto3
from moto import mock_aws

from harness.aws import ACCOUNT, RootAccessKey, RootCredentials, Sandbox, fake_credentials
from harness.config_events import change_event, periodic_event, security_group_item
from harness.iam_state import create_managed_policy, key_created_ago, key_ids, key_used_ago, make_user, user_created_ago
from harness.pack import (
    AUTOMATION_ROLE_ARN,
    AutomationResult,
    deployed_rule_parameters,
    invoke_rule,
    lambda_principal,
    remediation_parameters,
    rule_spec,
    run_document,
    template,
)
from tests.root_helpers import OpsCenter, subscribe_inbox

# Fit a 100-120 column terminal; 110 when not a terminal (stable output for logs and READMEs).
WIDTH = min(120, max(100, shutil.get_terminal_size((110, 40)).columns))
MIN_LAST_COLUMN = 40
OK, FAILED = "✓", "✗"


# --- output ------------------------------------------------------------------------------


def say(text: str = "", indent: int = 0, hang: int = 0) -> None:
    """Print text wrapped to WIDTH (paragraphs kept), indented; continuation lines `hang` further in."""
    if not text:
        print()
        return
    pad = " " * indent
    for line in text.split("\n"):
        wrapped = textwrap.fill(line, WIDTH, initial_indent=pad, subsequent_indent=pad + " " * hang, break_on_hyphens=False)
        print(wrapped if line else "")


def banner(title: str) -> None:
    print()
    print("=" * WIDTH)
    print(title)
    print("=" * WIDTH)


def step(title: str) -> None:
    print()
    print(f"--- {title} " + "-" * max(3, WIDTH - len(title) - 5))


def table(headers: Sequence[str], rows: Iterable[Sequence[str]], indent: int = 2) -> None:
    """A plain table. The last column wraps to fit WIDTH; when that would leave it narrower than
    MIN_LAST_COLUMN, it goes on its own lines under each row instead (empty cells print nothing)."""
    body = [[str(cell) for cell in row] for row in rows]
    widths = [max([len(header)] + [len(row[i]) for row in body]) for i, header in enumerate(headers)]
    room = WIDTH - (sum(widths[:-1]) + 2 * (len(headers) - 1) + indent)
    pad = " " * indent
    below = room < min(widths[-1], MIN_LAST_COLUMN)
    if below:
        widths = widths[:-1]
    else:
        widths[-1] = min(widths[-1], room)

    def line(cells: Sequence[str]) -> str:
        return (pad + "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True))).rstrip()

    if below:
        print(line(headers[:-1]))
        print(f"{pad}    {headers[-1]}")
        print(line(["-" * width for width in widths]))
        for row in body:
            print(line(row[:-1]))
            if row[-1].strip():
                say(row[-1], indent=indent + 4, hang=2)
        return
    print(line(headers))
    print(line(["-" * width for width in widths]))
    for row in body:
        wrapped = textwrap.wrap(row[-1], widths[-1], break_on_hyphens=False) or [""]
        print(line([*row[:-1], wrapped[0]]))
        for more in wrapped[1:]:
            print(line([""] * (len(row) - 1) + [more]))


# --- expectations --------------------------------------------------------------------------


@dataclass
class Demo:
    """What every act shares: the mock account, its Config stand-in, and the checks so far."""

    sandbox: Sandbox
    ec2: Any
    ssm: Any
    checks: list[tuple[bool, str]] = field(default_factory=list)
    act: str = ""

    def check(self, ok: bool, passed: str, failed: str | None = None) -> bool:
        """Print and record one expectation; the demo exits non-zero if any fails."""
        text = passed if ok else (failed or passed)
        self.checks.append((ok, f"{self.act}: {text}"))
        say(f"{OK} {text}" if ok else f"{FAILED} EXPECTED BUT NOT SO: {text}", indent=2, hang=2)
        return ok

    @property
    def failures(self) -> list[str]:
        return [text for ok, text in self.checks if not ok]


# --- what every rule-driven act does -------------------------------------------------------


def evaluate(demo: Demo, rule_id: str, items: Sequence[Mapping[str, Any]]) -> None:
    """Invoke the real rule Lambda once per configuration item, as Config does on a change."""
    spec = rule_spec(rule_id)
    parameters = deployed_rule_parameters(rule_id)
    failures = []
    for item in items:
        demo.sandbox.config.record_item(item)  # what Config keeps (read back for oversized items)
        response = invoke_rule(demo.sandbox, rule_id, change_event(spec.config_rule_name, item, parameters))
        if not isinstance(response, list):  # rdklib answers errors with a dict instead of evaluations
            failures.append(f"{item['resourceId']}: {response}")
    demo.check(
        not failures,
        f"{spec.config_rule_name} evaluated {len(items)} configuration items",
        f"{spec.config_rule_name} did not evaluate: " + "; ".join(failures),
    )


def evaluate_periodic(demo: Demo, rule_id: str) -> None:
    """Invoke the real rule Lambda with a scheduled notification, as Config does for a periodic rule."""
    spec = rule_spec(rule_id)
    response = invoke_rule(demo.sandbox, rule_id, periodic_event(spec.config_rule_name, deployed_rule_parameters(rule_id)))
    demo.check(
        isinstance(response, list),  # rdklib answers errors with a dict instead of evaluations
        f"{spec.config_rule_name} evaluated the account (periodic)",
        f"{spec.config_rule_name} did not evaluate: {response}",
    )


def compliance_table(demo: Demo, rule_id: str, names: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    """Print what the Config dashboard would show for the rule; return {resource id: (compliance, annotation)}."""
    rule_name = rule_spec(rule_id).config_rule_name
    results = demo.sandbox.config.compliance(rule_name)
    order = [rid for rid in names if rid in results] + sorted(rid for rid in results if rid not in names)
    rows = [[rule_name, rid, names.get(rid, ""), results[rid][0], results[rid][1]] for rid in order]
    table(["Rule", "Resource id", "Name", "Compliance", "Annotation"], rows)
    return results


def expect_compliance(demo: Demo, rule_id: str, names: Mapping[str, str], expected: Mapping[str, str], label: str = "") -> None:
    """Check the rule's compliance per resource; label (e.g. the rule's name) goes before the list."""
    results = demo.sandbox.config.compliance(rule_spec(rule_id).config_rule_name)
    wrong = [
        f"{names.get(rid, rid)} is {results.get(rid, ('not evaluated',))[0]}, expected {want}"
        for rid, want in expected.items()
        if results.get(rid, ("",))[0] != want
    ]
    summary = (f"{label}: " if label else "") + ", ".join(f"{names.get(rid, rid)} {want}" for rid, want in expected.items())
    demo.check(not wrong, f"compliance as expected: {summary}", "; ".join(wrong))


def api_calls(demo: Demo) -> dict[str, int]:
    """{action: count} of every call the pack's code made since the sandbox's last reset_counts()."""
    counted: dict[str, int] = {}
    for (_, action), count in demo.sandbox.calls.items():
        counted[action] = counted.get(action, 0) + count
    return counted


def remediation_document(rule_id: str) -> str:
    link = rule_spec(rule_id).remediation
    assert link is not None, f"{rule_id} has no paired remediation"
    return f"mamori-{link.document}"


def run_remediation(demo: Demo, document: str, parameters: Mapping[str, Any], label: str) -> AutomationResult:
    """Run the SSM document with the document runner and print its outputs."""
    result = run_document(demo.sandbox, document, parameters)
    say(f"{document} on {label}: automation {result.status}", indent=2)
    width = max([10] + [len(key.split(".", 1)[-1]) + 1 for key in result.outputs])
    for key, value in result.outputs.items():
        name = key.split(".", 1)[-1]
        values = value if isinstance(value, list) else [value]
        lines = [str(v) for v in values if str(v)] or ["(none)"]
        for index, text in enumerate(lines):
            say(f"{name if index == 0 else '':<{width}}{text}", indent=6, hang=width)
    if result.failure:
        say(f"failure: {result.failure}", indent=6)
    return result


def remediate_noncompliant(
    demo: Demo, rule_id: str, names: Mapping[str, str], pack_values: Mapping[str, str] | None = None
) -> dict[str, AutomationResult]:
    """What automatic remediation does: run the paired document for every NON_COMPLIANT resource.
    pack_values: what Refs to pack resources resolve to ({"NotificationTopic": <topic arn>, …})."""
    rule_name = rule_spec(rule_id).config_rule_name
    document = remediation_document(rule_id)
    results = {}
    for rid, (compliance, _) in demo.sandbox.config.compliance(rule_name).items():
        if compliance == "NON_COMPLIANT":
            label = f"{rid} ({names[rid]})" if rid in names else rid
            parameters = remediation_parameters(rule_id, rid, pack_values=pack_values)
            results[rid] = run_remediation(demo, document, parameters, label)
    return results


def output(result: AutomationResult, name: str) -> Any:
    """An automation output by its name, whatever the step is called."""
    return next((value for key, value in result.outputs.items() if key.split(".", 1)[-1] == name), None)


# --- security groups -----------------------------------------------------------------------


def inbound_rules(ec2: Any, group_id: str) -> dict[str, str]:
    """{'tcp 22 from 203.0.113.0/24': 'office ssh', …}: the live inbound rules, one per source."""
    group = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]
    rules: dict[str, str] = {}
    for permission in group.get("IpPermissions", []):
        protocol = permission["IpProtocol"]
        low, high = permission.get("FromPort"), permission.get("ToPort")
        if protocol == "-1":
            what = "all traffic"
        elif low is None or low == -1:
            what = protocol
        else:
            what = f"{protocol} {low}" if low == high else f"{protocol} {low}-{high}"
        sources = [(r["CidrIp"], r.get("Description", "")) for r in permission.get("IpRanges", [])]
        sources += [(r["CidrIpv6"], r.get("Description", "")) for r in permission.get("Ipv6Ranges", [])]
        sources += [(r["PrefixListId"], r.get("Description", "")) for r in permission.get("PrefixListIds", [])]
        sources += [(r["GroupId"], r.get("Description", "")) for r in permission.get("UserIdGroupPairs", [])]
        for source, description in sources:
            rules[f"{what} from {source}"] = description
    return rules


def tags_of(ec2: Any, group_id: str) -> dict[str, str]:
    group = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]
    return {tag["Key"]: tag["Value"] for tag in group.get("Tags", [])}


def all_groups(ec2: Any, first: Sequence[str], vpc_names: Mapping[str, str]) -> dict[str, str]:
    """{group id: name} of every security group in the account (Config records them all), `first` first.
    Each VPC has a group named "default": those are told apart by vpc_names ({vpc id: label})."""
    found = {
        g["GroupId"]: g["GroupName"]
        if g["GroupName"] != "default"
        else f"default ({vpc_names.get(g.get('VpcId', ''), 'default VPC')})"
        for g in ec2.describe_security_groups()["SecurityGroups"]
    }
    rest = sorted((gid for gid in found if gid not in first), key=lambda gid: (found[gid], gid))
    return {gid: found[gid] for gid in [*first, *rest]}


def create_group(
    ec2: Any, vpc_id: str, name: str, description: str, permissions: list[dict[str, Any]], tags: Mapping[str, str]
) -> str:
    group_id: str = ec2.create_security_group(GroupName=name, Description=description, VpcId=vpc_id)["GroupId"]
    if permissions:
        ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=permissions)
    ec2.create_tags(Resources=[group_id], Tags=[{"Key": k, "Value": v} for k, v in {"Name": name, **tags}.items()])
    return group_id


def tcp(port: int, cidr: str, description: str = "") -> dict[str, Any]:
    extra = {"Description": description} if description else {}
    ranges = {"Ipv6Ranges": [{"CidrIpv6": cidr, **extra}]} if ":" in cidr else {"IpRanges": [{"CidrIp": cidr, **extra}]}
    return {"IpProtocol": "tcp", "FromPort": port, "ToPort": port, **ranges}


# --- act: the open proxy -------------------------------------------------------------------


def play_open_proxy(demo: Demo) -> None:
    rule_id = "open-proxy-ports"
    rule_name = rule_spec(rule_id).config_rule_name
    document = remediation_document(rule_id)
    ec2 = demo.ec2

    step("The account: a shared VPC with three security groups")
    vpc_id = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    shared = create_group(
        ec2,
        vpc_id,
        "shared-dev",
        "Shared by the dev team",
        [
            tcp(22, "203.0.113.0/24", "office ssh"),
            tcp(443, "0.0.0.0/0", "public https"),
            tcp(3128, "0.0.0.0/0"),  # the incident: squid, "just for a quick test"
            tcp(3128, "::/0"),
        ],
        {"team": "dev"},
    )
    ec2.authorize_security_group_ingress(
        GroupId=shared,
        IpPermissions=[{"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": shared, "Description": "cluster peers"}]}],
    )
    web = create_group(
        ec2, vpc_id, "web", "Public web servers", [tcp(80, "0.0.0.0/0"), tcp(443, "0.0.0.0/0"), tcp(443, "::/0")], {}
    )
    exemption = "lab proxy, approved by secops until=2099-12-31"
    lab = create_group(ec2, vpc_id, "lab-proxy", "Research proxy", [tcp(8080, "0.0.0.0/0")], {"mamori:exempt": exemption})
    legitimate = {
        "tcp 22 from 203.0.113.0/24": "office ssh",
        "tcp 443 from 0.0.0.0/0": "public https",
        f"all traffic from {shared}": "cluster peers",
    }
    incident = ["tcp 3128 from 0.0.0.0/0", "tcp 3128 from ::/0"]
    before = inbound_rules(ec2, shared)
    lab_before = inbound_rules(ec2, lab)
    names = all_groups(ec2, [shared, web, lab], {vpc_id: "shared VPC"})
    say(f"shared-dev {shared}: someone opened the HTTP proxy port 3128 to 0.0.0.0/0 and ::/0, beside its real rules:", indent=2)
    for rule, description in before.items():
        say(f"{rule}" + (f"  ({description})" if description else ""), indent=6)
    say(f"web {web}: 80 and 443 open to the world, as a web server should be (443 is not a proxy port).", indent=2)
    say(f"lab-proxy {lab}: 8080 open to 0.0.0.0/0, tagged mamori:exempt = {exemption!r}.", indent=2)
    say("Plus the default group of each VPC: AWS Config records every security group, so the rule sees them all.", indent=2)
    demo.check(set(legitimate) | set(incident) <= set(before), "the incident is in place")

    step("Config sends one change notification per group; the real rule Lambda evaluates each")
    demo.sandbox.reset_counts()
    evaluate(demo, rule_id, [security_group_item(ec2, gid) for gid in names])
    calls = api_calls(demo)  # only the rule Lambda ran since the reset
    demo.check(
        set(calls) == {"config:PutEvaluations"},
        f"the rule read only the configuration items: its only API calls were {calls}",
        f"the rule made API calls besides PutEvaluations: {calls}",
    )
    step(f"Compliance ({rule_name}), before remediation")
    results = compliance_table(demo, rule_id, names)
    expected = {gid: "COMPLIANT" for gid in names} | {shared: "NON_COMPLIANT", lab: "NOT_APPLICABLE"}
    expect_compliance(demo, rule_id, names, expected)
    annotation = results.get(shared, ("", ""))[1]
    demo.check(
        all(entry in annotation for entry in incident) and "remediation revokes" in annotation,
        "the annotation names both offending entries and what the remediation will do",
        f"the annotation of shared-dev does not name {incident}: {annotation!r}",
    )
    demo.check(
        "lab proxy, approved by secops" in results.get(lab, ("", ""))[1],
        "the exempt group's annotation gives the exemption's reason",
        f"the exempt group's annotation lacks the reason: {results.get(lab)}",
    )

    step(f"Automatic remediation runs {document} for each NON_COMPLIANT group")
    runs = remediate_noncompliant(demo, rule_id, names)
    fixed = runs.get(shared)
    demo.check(set(runs) == {shared}, "remediation ran for shared-dev only", f"remediation ran for {sorted(runs)}")
    if fixed is not None:
        demo.check(
            fixed.status == "Success" and output(fixed, "Status") == "REMEDIATED",
            "the automation succeeded: REMEDIATED",
            f"the automation did not remediate: {fixed.status} {output(fixed, 'Status')} {fixed.failure}",
        )
        demo.check(
            sorted(output(fixed, "Revoked") or []) == sorted(incident) and not output(fixed, "KeptOpen"),
            "it revoked exactly the two 3128 entries and had nothing to narrow",
            f"it revoked {output(fixed, 'Revoked')} and kept open {output(fixed, 'KeptOpen')}",
        )
    say("Config does not remediate NOT_APPLICABLE resources; even run by hand, the document leaves lab-proxy alone:", indent=2)
    skipped = run_remediation(demo, document, remediation_parameters(rule_id, lab), f"{lab} (lab-proxy)")
    demo.check(
        output(skipped, "Status") == "SKIPPED_EXEMPT" and inbound_rules(ec2, lab) == lab_before,
        "exempt group skipped, its 8080 untouched",
        f"the exempt group was not skipped: {output(skipped, 'Status')}, its rules now {sorted(inbound_rules(ec2, lab))}",
    )

    step("The changes are configuration changes too: Config sends them, the rule evaluates again")
    evaluate(demo, rule_id, [security_group_item(ec2, gid) for gid in names])
    step(f"Compliance ({rule_name}), after remediation")
    compliance_table(demo, rule_id, names)
    expect_compliance(demo, rule_id, names, {gid: "COMPLIANT" for gid in names} | {lab: "NOT_APPLICABLE"})

    step(f"What changed on shared-dev {shared}")
    after = inbound_rules(ec2, shared)
    rows = []
    for rule in list(before) + [rule for rule in after if rule not in before]:
        state = "open" if rule in after else "REVOKED"
        rows.append(
            [
                rule,
                "open" if rule in before else "-",
                state if rule in before else "ADDED",
                before.get(rule, after.get(rule, "")) or "-",
            ]
        )
    table(["Inbound rule", "Before", "After", "Description"], rows)
    kept = [rule for rule, description in legitimate.items() if after.get(rule) == description]
    demo.check(
        len(kept) == len(legitimate),
        "legitimate rules untouched: " + ", ".join(legitimate),
        "legitimate rules lost or changed: " + ", ".join(rule for rule in legitimate if rule not in kept),
    )
    demo.check(
        not any(rule in after for rule in incident) and set(after) == set(before) - set(incident),
        "tcp 3128 is closed to 0.0.0.0/0 and ::/0, and nothing else changed",
        f"inbound rules after remediation: {sorted(after)}",
    )

    tag = tags_of(ec2, shared).get("mamori:remediated")
    say(f"Tag mamori:remediated = {tag!r}", indent=2, hang=4)
    demo.check(
        tag is not None and all(entry in tag for entry in incident) and "mamori-open-proxy-ports-restore" in tag,
        "the group's tag says what was revoked, when, and how to restore it",
        "the group carries no complete mamori:remediated tag",
    )

    path = f"/mamori/{rule_id}/{shared}"
    record = read_record(demo, path)
    say(f"Parameter Store {path} (what the restore document reads):", indent=2)
    if record is not None:
        say(f"groupId  {record.get('groupId')}", indent=6)
        for number, change in enumerate(record.get("changes", []), 1):
            say(f"change {number} at {change.get('at')}", indent=6)
            for kind in ("revoked", "authorized"):
                entries = [json.dumps(entry, sort_keys=True) for entry in change.get(kind, [])] or ["(none)"]
                for index, text in enumerate(entries):
                    label = f"{kind if index == 0 else '':<11}"
                    say(label + text, indent=10, hang=len(label) + 2)
    recorded = [
        f"{e.get('protocol')} {e.get('fromPort')} from {e.get('source')}"
        for c in (record or {}).get("changes", [])
        for e in c.get("revoked", [])
    ]
    demo.check(
        sorted(recorded) == sorted(incident),
        f"{path} holds the revoked entries",
        f"{path} holds {record!r}",
    )

    step("Idempotent: a second run (Config retries, or someone re-runs it) changes nothing")
    again = run_remediation(demo, document, remediation_parameters(rule_id, shared), f"{shared} (shared-dev)")
    record_again = read_record(demo, path)
    demo.check(
        again.status == "Success" and output(again, "Status") == "NOTHING_TO_DO",
        "second run: Success, NOTHING_TO_DO",
        f"second run: {again.status} {output(again, 'Status')} {again.failure}",
    )
    demo.check(
        inbound_rules(ec2, shared) == after and record_again == record,
        "the group and its record are unchanged by the second run",
        "the second run changed the group or its record",
    )

    step("Undo")
    restore = f"{document}-restore"
    say(
        f"{restore} puts back what {path} records. Tag the group mamori:exempt first (with a reason), or the rule "
        "flags it again and automatic remediation revokes it again. A dry run shows what it would do:",
        indent=2,
    )
    dry = run_remediation(
        demo, restore, {"AutomationAssumeRole": AUTOMATION_ROLE_ARN, "GroupId": shared, "DryRun": True}, f"{shared} (DryRun=true)"
    )
    demo.check(
        output(dry, "Status") == "DRY_RUN"
        and sorted(output(dry, "Restored") or []) == sorted(incident)
        and inbound_rules(ec2, shared) == after,
        "the restore would put back exactly the two 3128 entries (dry run: nothing changed)",
        f"restore dry run: {dry.status} {dry.outputs} {dry.failure}",
    )
    say("For real (the role is the stack's OpenProxyPortsRestoreAutomationRoleArn output):", indent=2)
    print(f"      aws ssm start-automation-execution --document-name {restore} \\")
    print(f"          --parameters GroupId={shared},AutomationAssumeRole=<role arn>")


def read_record(demo: Demo, path: str) -> dict[str, Any] | None:
    try:
        value = demo.ssm.get_parameter(Name=path)["Parameter"]["Value"]
    except demo.ssm.exceptions.ParameterNotFound:
        return None
    record = json.loads(value)
    return record if isinstance(record, dict) else None


# --- act: the forgotten root key -----------------------------------------------------------

ROOT_RULES = ("root-access-key", "root-mfa")
USER_RULES = ("iam-user-console-mfa", "stale-access-keys")
DAY = datetime.timedelta(days=1)


def key_statuses(iam: Any, name: str) -> dict[str, str]:
    return {k["AccessKeyId"]: k["Status"] for k in iam.list_access_keys(UserName=name)["AccessKeyMetadata"]}


def attached_policies(iam: Any, name: str) -> list[str]:
    return [p["PolicyArn"] for p in iam.list_attached_user_policies(UserName=name)["AttachedPolicies"]]


def user_tags(iam: Any, name: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in iam.list_user_tags(UserName=name)["Tags"]}


def user_state(iam: Any, names: Mapping[str, str]) -> dict[str, Any]:
    """What the remediations may change on each user: key statuses, attached policies, tags."""
    return {name: (key_statuses(iam, name), attached_policies(iam, name), user_tags(iam, name)) for name in names.values()}


def show_messages(demo: Demo, messages: Sequence[Mapping[str, Any]]) -> None:
    say("Messages on mamori-notifications (read back through an SQS subscription to the topic):", indent=2)
    for message in messages:
        say(f"Subject: {message.get('Subject')}", indent=6, hang=9)
        last = str(message.get("Message", "")).strip().splitlines()[-1:] or [""]
        say(f"... {last[0]}", indent=9)
    if not messages:
        say("(none)", indent=6)


def play_forgotten_root_key(demo: Demo) -> None:
    iam = boto3.client("iam")
    now = datetime.datetime.now(datetime.UTC)
    account = {ACCOUNT: "the account"}

    step("The account: a root user nobody signs in as, and three IAM users")
    topic, inbox = subscribe_inbox()  # the pack's notification topic, with an SQS queue to read it back
    ops = OpsCenter()  # moto has no OpsItems (tests/root_helpers.py)
    policy_arn = create_managed_policy(template()["Resources"]["DenyWithoutMfaPolicy"])  # as the stack creates it
    pack_values = {"NotificationTopic": topic, "DenyWithoutMfaPolicy": policy_arn}
    created = datetime.datetime(2019, 3, 1, 10, 0, tzinfo=datetime.UTC)
    last_used = (now - 2 * DAY).replace(hour=3, minute=17, second=0, microsecond=0)
    root = RootCredentials(
        password=True,
        mfa_active=False,
        access_keys=[
            RootAccessKey(created=created, last_used=last_used, last_used_region="ap-southeast-1", last_used_service="ec2")
        ],
    )
    demo.sandbox.root = root  # no API sets up root: the sandbox reports it in GetAccountSummary and the report
    hana = make_user("hana", password=True)
    user_created_ago("hana", 3 * 365 * DAY)
    ci = make_user("ci-deploy", keys=1)
    user_created_ago("ci-deploy", 800 * DAY)
    key_created_ago("ci-deploy", 0, 800 * DAY)
    key_used_ago("ci-deploy", 0, 400 * DAY)
    yuki = make_user("yuki", password=True, mfa=True, keys=1)
    user_created_ago("yuki", 2 * 365 * DAY)
    key_created_ago("yuki", 0, 200 * DAY)
    key_used_ago("yuki", 0, 1 * DAY)
    users = {hana: "hana", ci: "ci-deploy", yuki: "yuki"}
    [ci_key], [yuki_key] = key_ids("ci-deploy"), key_ids("yuki")
    say(
        f"root of {ACCOUNT}: a password, no MFA, and an access key created {created:%Y-%m-%d}, "
        f"last used {last_used:%Y-%m-%d %H:%M} UTC in ap-southeast-1 (ec2), a region nobody here uses.",
        indent=2,
        hang=2,
    )
    say(f"hana {hana}: a console password and no MFA, created three years ago (the grace period is 24 hours).", indent=2)
    say(f"ci-deploy {ci}: no password; access key {ci_key}, active, last used 400 days ago.", indent=2)
    say(f"yuki {yuki}: a console password with MFA; access key {yuki_key}, used yesterday. She must stay COMPLIANT.", indent=2)
    say(
        f"The pack's topic mamori-notifications and its policy {policy_arn.rsplit('/', 1)[-1]} exist, as the stack creates them.",
        indent=2,
    )
    summary = iam.get_account_summary()["SummaryMap"]
    demo.check(
        summary["AccountAccessKeysPresent"] == 1 and summary["AccountMFAEnabled"] == 0,
        "the incident is in place: IAM reports a root access key and no root MFA",
    )
    before = user_state(iam, users)

    step("Config's schedule fires; the four real rule Lambdas evaluate the account and its users")
    demo.sandbox.reset_counts()
    for rule_id in (*ROOT_RULES, *USER_RULES):
        evaluate_periodic(demo, rule_id)
    rows = []
    for rule_id in (*ROOT_RULES, *USER_RULES):
        name = rule_spec(rule_id).config_rule_name
        calls = demo.sandbox.calls_by(lambda_principal(name))
        rows.append([name, ", ".join(f"{action} {n}" for action, n in sorted(calls.items()))])
    table(["Rule", "API calls (IAM's credential report, not one call per user)"], rows)

    step("Compliance, before remediation")
    say("mamori-root-access-key / mamori-root-mfa:", indent=2)
    key_results = compliance_table(demo, "root-access-key", account)
    mfa_results = compliance_table(demo, "root-mfa", account)
    for rule_id in ROOT_RULES:
        expect_compliance(demo, rule_id, account, {ACCOUNT: "NON_COMPLIANT"}, rule_spec(rule_id).config_rule_name)
    key_annotation = key_results.get(ACCOUNT, ("", ""))[1]
    demo.check(
        "created 2019-03-01" in key_annotation and f"last used {last_used:%Y-%m-%d} in ap-southeast-1 (ec2)" in key_annotation,
        "the annotation says how old the root key is, and when and where it was last used",
        f"the root key's annotation lacks its age or last use: {key_annotation!r}",
    )
    demo.check(
        "no MFA" in mfa_results.get(ACCOUNT, ("", ""))[1],
        "the root-mfa annotation names the missing MFA",
        f"the root-mfa annotation: {mfa_results.get(ACCOUNT)}",
    )
    for rule_id in USER_RULES:
        say(f"{rule_spec(rule_id).config_rule_name}:", indent=2)
        compliance_table(demo, rule_id, users)
    # A rule that does not apply to a user (no password; no active key) says so: NOT_APPLICABLE.
    expected_before = {
        "iam-user-console-mfa": {hana: "NON_COMPLIANT", ci: "NOT_APPLICABLE", yuki: "COMPLIANT"},
        "stale-access-keys": {hana: "NOT_APPLICABLE", ci: "NON_COMPLIANT", yuki: "COMPLIANT"},
    }
    for rule_id, expected in expected_before.items():
        expect_compliance(demo, rule_id, users, expected, rule_spec(rule_id).config_rule_name)

    step("Automatic remediation runs the paired document for each NON_COMPLIANT resource")
    runs = {
        rule_id: remediate_noncompliant(demo, rule_id, account | users, pack_values) for rule_id in (*ROOT_RULES, *USER_RULES)
    }
    opened: dict[str, str] = {}
    for rule_id in ROOT_RULES:
        result = runs[rule_id].get(ACCOUNT)
        ops_item = str(output(result, "OpsItemId") or "") if result else ""
        opened[rule_id] = ops_item
        demo.check(
            result is not None
            and result.status == "Success"
            and output(result, "Status") == "NOTIFIED"
            and ops_item in ops.items,
            f"mamori-{rule_id}: NOTIFIED, OpsItem {ops_item} opened",
            f"mamori-{rule_id} did not notify: {result and (result.status, result.outputs, result.failure)}",
        )
    table(
        ["OpsItem", "Status", "Severity", "Title"],
        [[item["OpsItemId"], item["Status"], str(item["Severity"]), item["Title"]] for item in ops.items.values()],
    )
    messages = inbox()
    show_messages(demo, messages)
    demo.check(
        sorted(str(m.get("Message", "")).strip().rsplit("OpsItem: ", 1)[-1] for m in messages) == sorted(opened.values())
        and all(str(m.get("Subject", "")).startswith("[mamori] ACTION NEEDED") for m in messages),
        "one message per finding reached the topic, each naming its OpsItem",
        f"the topic received {len(messages)} message(s): {[m.get('Subject') for m in messages]}",
    )
    demo.check(
        bool(root.access_keys) and not root.mfa_active,
        "root is untouched: the key is still there (only root, or the management account, can delete it)",
        "the remediation changed root's credentials",
    )
    fixed_console = runs["iam-user-console-mfa"].get(hana)
    fixed_keys = runs["stale-access-keys"].get(ci)
    demo.check(
        set(runs["iam-user-console-mfa"]) == {hana} and set(runs["stale-access-keys"]) == {ci},
        "the IAM remediations ran for hana (console MFA) and ci-deploy (stale key) only",
        f"remediations ran for {[users.get(u, u) for r in USER_RULES for u in runs[r]]}",
    )
    demo.check(
        fixed_console is not None
        and output(fixed_console, "Status") == "REMEDIATED"
        and attached_policies(iam, "hana") == [policy_arn],
        f"hana: {policy_arn.rsplit('/', 1)[-1]} attached (everything but setting up MFA denied until she signs in with it)",
        f"hana: {fixed_console and fixed_console.outputs}, attached {attached_policies(iam, 'hana')}",
    )
    demo.check(
        fixed_keys is not None
        and output(fixed_keys, "Status") == "REMEDIATED"
        and key_statuses(iam, "ci-deploy") == {ci_key: "Inactive"},
        f"ci-deploy: key {ci_key} deactivated, not deleted",
        f"ci-deploy: {fixed_keys and fixed_keys.outputs}, keys now {key_statuses(iam, 'ci-deploy')}",
    )
    after = user_state(iam, users)
    demo.check(after["yuki"] == before["yuki"], "yuki untouched: key active, no policy, no tag", f"yuki changed: {after['yuki']}")
    for name in ("hana", "ci-deploy"):
        say(f"Tag mamori:remediated on {name} = {user_tags(iam, name).get('mamori:remediated')!r}", indent=2, hang=4)

    step("The next evaluation")
    for rule_id in (*ROOT_RULES, *USER_RULES):
        evaluate_periodic(demo, rule_id)
    step("Compliance, after remediation")
    say("mamori-root-access-key / mamori-root-mfa:", indent=2)
    compliance_table(demo, "root-access-key", account)
    compliance_table(demo, "root-mfa", account)
    for rule_id in USER_RULES:
        say(f"{rule_spec(rule_id).config_rule_name}:", indent=2)
        compliance_table(demo, rule_id, users)
    expected_after = {
        "iam-user-console-mfa": {hana: "COMPLIANT", ci: "NOT_APPLICABLE", yuki: "COMPLIANT"},
        # ci-deploy's only key is inactive now: no active key, so the rule no longer applies to the user.
        "stale-access-keys": {hana: "NOT_APPLICABLE", ci: "NOT_APPLICABLE", yuki: "COMPLIANT"},
    }
    for rule_id, expected in expected_after.items():
        expect_compliance(demo, rule_id, users, expected, rule_spec(rule_id).config_rule_name)
    for rule_id in ROOT_RULES:
        expect_compliance(demo, rule_id, account, {ACCOUNT: "NON_COMPLIANT"}, rule_spec(rule_id).config_rule_name)
    say(
        "hana is COMPLIANT (limited to setting up MFA); ci-deploy has no active key left, so the stale-key rule no "
        "longer applies to it. The root findings stay NON_COMPLIANT until a person acts: mamori told them how, once.",
        indent=2,
    )

    step("Idempotent: a second run (Config retries, or the next daily finding) changes nothing")
    state = user_state(iam, users)
    second = {
        rule_id: run_remediation(
            demo, remediation_document(rule_id), remediation_parameters(rule_id, ACCOUNT, pack_values), f"{ACCOUNT} (the account)"
        )
        for rule_id in ROOT_RULES
    }
    for uid, rule_id in ((hana, "iam-user-console-mfa"), (ci, "stale-access-keys")):
        second[rule_id] = run_remediation(
            demo, remediation_document(rule_id), remediation_parameters(rule_id, uid, pack_values), f"{uid} ({users[uid]})"
        )
    demo.check(
        all(
            second[r].status == "Success"
            and output(second[r], "Status") == "ALREADY_OPEN"
            and output(second[r], "OpsItemId") == opened[r]
            for r in ROOT_RULES
        )
        and len(ops.items) == 2,
        "root findings: ALREADY_OPEN, the same OpsItems; no second OpsItem",
        f"second run of the root documents: {[(second[r].status, second[r].outputs, second[r].failure) for r in ROOT_RULES]}",
    )
    again = inbox()
    demo.check(not again, "no second message on the topic", f"the topic received {len(again)} more message(s)")
    demo.check(
        all(second[r].status == "Success" and output(second[r], "Status") == "NOTHING_TO_DO" for r in USER_RULES)
        and user_state(iam, users) == state,
        "hana and ci-deploy: NOTHING_TO_DO, and no user changed",
        f"second run of the IAM documents: {[(second[r].status, second[r].outputs) for r in USER_RULES]}",
    )

    step("A person signs in as root, deletes the key and assigns MFA (stand-in)")
    say(
        "No API can do this (only the root user can): this step stands in for a person signing in as root and "
        "following the OpsItem's steps, by changing the root state the sandbox reports to IAM's GetAccountSummary "
        "and credential report. Then the rules evaluate again.",
        indent=2,
    )
    root.access_keys.clear()
    root.mfa_active = True
    for rule_id in ROOT_RULES:
        evaluate_periodic(demo, rule_id)
    compliance_table(demo, "root-access-key", account)
    compliance_table(demo, "root-mfa", account)
    for rule_id in ROOT_RULES:
        expect_compliance(demo, rule_id, account, {ACCOUNT: "COMPLIANT"}, rule_spec(rule_id).config_rule_name)
    late = {
        rule_id: run_remediation(
            demo, remediation_document(rule_id), remediation_parameters(rule_id, ACCOUNT, pack_values), f"{ACCOUNT} (the account)"
        )
        for rule_id in ROOT_RULES
    }
    demo.check(
        all(output(result, "Status") == "NOTHING_TO_DO" for result in late.values()) and len(ops.items) == 2 and not inbox(),
        "a remediation run now re-checks live state: NOTHING_TO_DO, nothing opened or sent",
        f"after the fix: {[(r.status, r.outputs) for r in late.values()]}",
    )
    for ops_item in opened.values():
        ops.resolve(ops_item)  # what the person does last, in the OpsCenter console
    say(f"The person resolves {' and '.join(opened.values())} in OpsCenter.", indent=2)

    step("Undo")
    say(
        "The root documents changed nothing, so there is nothing to undo. The IAM remediations recorded what they "
        "changed; their restore documents put it back (exempt the user first, with a reason, or the rule flags it "
        "again). Dry runs show what they would do:",
        indent=2,
    )
    state = user_state(iam, users)
    for uid, rule_id, what, wanted in (
        (hana, "iam-user-console-mfa", "Detached", [policy_arn]),
        (ci, "stale-access-keys", "Reactivated", [ci_key]),
    ):
        restore = f"{remediation_document(rule_id)}-restore"
        dry = run_remediation(
            demo, restore, {"AutomationAssumeRole": AUTOMATION_ROLE_ARN, "UserId": uid, "DryRun": True}, f"{uid} (DryRun=true)"
        )
        demo.check(
            output(dry, "Status") == "DRY_RUN" and output(dry, what) == wanted,
            f"{restore} would put back {users[uid]}'s {'policy' if what == 'Detached' else 'key'} (dry run)",
            f"{restore} dry run: {dry.status} {dry.outputs} {dry.failure}",
        )
    demo.check(user_state(iam, users) == state, "the dry runs changed nothing", "a dry run changed a user")
    say(
        "For real (the roles are the stack's IamUserConsoleMfaRestoreAutomationRoleArn and "
        "StaleAccessKeysRestoreAutomationRoleArn outputs):",
        indent=2,
    )
    for uid, rule_id in ((hana, "iam-user-console-mfa"), (ci, "stale-access-keys")):
        print(f"      aws ssm start-automation-execution --document-name {remediation_document(rule_id)}-restore \\")
        print(f"          --parameters UserId={uid},AutomationAssumeRole=<role arn>")


# --- the acts ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Act:
    title: str
    story: str
    play: Callable[[Demo], None]


ACTS: list[Act] = [
    Act(
        "Act 1 - The open proxy",
        "In a shared account used by 70+ people, someone opened an HTTP proxy port on a security group to the whole "
        "internet. AWS Trust & Safety sent abuse reports to an inbox nobody read; after four days AWS blocked starting "
        "and stopping EC2 in the region. mamori-open-proxy-ports flags any group that lets the internet reach a proxy "
        "port; its remediation revokes exactly those entries, records them, and can put them back.",
        play_open_proxy,
    ),
    Act(
        "Act 2 - The forgotten root key",
        "A root access key created years earlier leaked. There was no MFA. Attackers ran crypto-mining instances in "
        "nine regions and ran up $2,798 within days, in regions nobody looked at. mamori-root-access-key and "
        "mamori-root-mfa flag the key and the missing MFA; only root can fix those, so their remediations notify and "
        "open one OpsItem each with the steps. The same account's IAM users are checked too: "
        "mamori-iam-user-console-mfa limits a console user without MFA to setting it up, and "
        "mamori-stale-access-keys deactivates (never deletes) keys nobody uses.",
        play_forgotten_root_key,
    ),
]


def header() -> None:
    say(
        'mamori (守り, "protection")\nAWS Config custom rules with paired SSM Automation remediations, deployed with '
        "AWS SAM, that stop two real incidents from happening again: an open proxy and a forgotten root key."
    )
    say()
    say("This demo replays them on an embedded moto: no AWS account, no credentials, nothing leaves this machine.")
    for stand_in in (
        "moto stands in for EC2, IAM, SNS, SQS and SSM Parameter Store.",
        "A small stand-in for AWS Config records the evaluations the rules send (PutEvaluations), as the Config "
        "dashboard would show them.",
        "SSM Automation steps are run by a document runner, from the documents in template.yaml (scripts inlined), as deployed.",
        "OpsCenter: moto has no OpsItems; the tests' small stand-in (tests/root_helpers.py) keeps them, with "
        "Systems Manager's /aws/dedup rule. Notifications are read back through an SQS subscription to the topic.",
        "Root's credentials: no API can set them up, so the sandbox writes the root user's state into IAM's "
        "credential report and GetAccountSummary; a person signing in as root is stood in for the same way.",
        "Time passing: users and keys created and last used years or days ago are dated back in moto's IAM "
        "(harness/iam_state.py), with IAM-shaped AIDA… user ids.",
    ):
        say(f"- {stand_in}", indent=2, hang=2)
    say(
        "The rule Lambdas and remediation scripts are the real ones, each limited to the IAM actions template.yaml "
        f"grants its role. Acts: {'; '.join(act.title for act in ACTS)}."
    )


def main() -> int:
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(errors="replace")  # a non-UTF-8 terminal gets '?' rather than an error
    for name in [n for n in os.environ if n in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE") or n.startswith("AWS_ENDPOINT_URL")]:
        del os.environ[name]  # whatever the shell says, this talks to no real account
    fake_credentials()
    header()
    errors: list[str] = []
    with mock_aws():
        sandbox = Sandbox()
        demo = Demo(sandbox, boto3.client("ec2"), boto3.client("ssm"))
        for act in ACTS:
            banner(act.title)
            say(act.story)
            demo.act = act.title
            try:
                act.play(demo)
            except Exception as error:  # a bug, not an expected path: say where, show the traceback, go on
                print(f"\n{FAILED} unexpected error in {act.title} (a bug in the pack, the harness or this demo):", flush=True)
                traceback.print_exc()
                sys.stderr.flush()
                errors.append(f"{act.title}: unexpected {type(error).__name__}: {error}")
    banner("Result")
    failures = demo.failures + errors
    if failures:
        say(f"{FAILED} {len(failures)} expectation(s) failed ({len(demo.checks)} checks made):")
        for failure in failures:
            say(f"- {failure}", indent=2, hang=2)
        return 1
    say(
        f"{OK} All {len(demo.checks)} checks passed in {len(ACTS)} act(s): detected, remediated, compliant, nothing else touched."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
