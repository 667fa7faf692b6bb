"""Act 1: the open proxy. A shared security group opened a proxy port to the internet;
mamori-open-proxy-ports flags it and its remediation revokes exactly those entries."""

import datetime
import json
from collections.abc import Mapping, Sequence
from typing import Any

from demo.incidents import play_abuse_case
from demo.kit import (
    Demo,
    api_calls,
    compliance_table,
    evaluate,
    expect_compliance,
    output,
    read_record,
    remediate_noncompliant,
    remediation_document,
    run_remediation,
    say,
    step,
    table,
)
from harness.config_events import security_group_item
from harness.pack import (
    AUTOMATION_ROLE_ARN,
    remediation_parameters,
    rule_spec,
)
from mamori.records import RECORD_KEY_ALIAS

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
    # An exemption must end, at most MaxExemptionDays (90 by default) ahead.
    until = (datetime.datetime.now(datetime.UTC).date() + datetime.timedelta(days=60)).isoformat()
    exemption = f"lab proxy, approved by secops until={until}"
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
    envelope = read_record(demo, rule_id, shared)
    record = envelope.changed if envelope else None
    say(f"Parameter Store {path} (what the restore document reads):", indent=2)
    if envelope is not None and record is not None:
        say(
            f"record of {envelope.resource}, written by {envelope.document} at {envelope.at}, signed with "
            f"{RECORD_KEY_ALIAS} (a restore acts only on a record whose signature verifies)",
            indent=6,
        )
        for kind in ("revoked", "authorized"):
            entries = [json.dumps(entry, sort_keys=True) for entry in record.get(kind, [])] or ["(none)"]
            for index, text in enumerate(entries):
                label = f"{kind if index == 0 else '':<11}"
                say(label + text, indent=10, hang=len(label) + 2)
        for change in record.get("history", []):
            say(f"run at {change.get('at')}: revoked {change.get('revoked')}, kept open {change.get('authorized')}", indent=6)
    recorded = [f"{e.get('protocol')} {e.get('fromPort')} from {e.get('source')}" for e in (record or {}).get("revoked", [])]
    demo.check(
        sorted(recorded) == sorted(incident),
        f"{path} holds the revoked entries",
        f"{path} holds {record!r}",
    )

    step("Idempotent: a second run (Config retries, or someone re-runs it) changes nothing")
    again = run_remediation(demo, document, remediation_parameters(rule_id, shared), f"{shared} (shared-dev)")
    again_envelope = read_record(demo, rule_id, shared)
    record_again = again_envelope.changed if again_envelope else None
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

    play_abuse_case(demo)  # the report AWS sent, as a tracked case (demo/incidents.py)
