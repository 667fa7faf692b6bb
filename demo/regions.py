"""Act 3: the nine regions. With the leaked root key, attackers ran mining instances in regions
nobody used, where AWS Config was not even recording; GuardDuty was off there, no budget alert
told anyone, and abuse reports had no security contact to go to.

mamori-unapproved-regions asks every enabled region at once and stops (never terminates) the
instances outside ApprovedRegions; the readiness rules (security contact, GuardDuty in every
region, a budget alert) are fixed by their remediations. EC2 instances, GuardDuty detectors,
Budgets and the account's alternate contacts are moto's; the enabled regions (17 default ones
and one opted in to) are the sandbox's (moto lists every region of every partition).
"""

from collections.abc import Mapping
from typing import Any

import boto3

from demo.kit import (
    Demo,
    compliance_table,
    evaluate_periodic,
    expect_compliance,
    output,
    remediate_noncompliant,
    remediation_document,
    run_remediation,
    say,
    step,
    table,
)
from harness.aws import ACCOUNT
from harness.ec2_state import launch, state, stop, tags
from harness.pack import AUTOMATION_ROLE_ARN, remediation_parameters
from mamori.records import REMEDIATED_TAG, load_record
from tests.root_helpers import subscribe_inbox

RULE_ID = "unapproved-regions"
READINESS_RULES = ("security-contact", "guardduty-enabled", "budget-alert")
APPROVED = "us-east-1,eu-west-1"
OPTED_IN = "ap-east-1"  # enabled by someone long ago; nobody remembers why
SECURITY_EMAIL = "security@example.com"
# The pack's parameters as a security engineer sets them at deployment (sam deploy --guided).
PACK = {
    "ApprovedRegions": APPROVED,
    "ExpectedSecurityEmail": SECURITY_EMAIL,
    "SecurityContactName": "Security team",
    "SecurityContactPhone": "+81 3-0000-0000",
    "NotificationEmail": "cloud-alerts@example.com",
}


def show_fleet(fleet: Mapping[str, tuple[str, str]]) -> dict[str, str]:
    """Print every instance with its live state; the first mamori:remediated tag in full, the others as 'yes'."""
    rows, shown = [], ""
    for instance_id, (region, label) in fleet.items():
        tag = tags(region, instance_id).get(REMEDIATED_TAG, "")
        rows.append([region, instance_id, state(region, instance_id), "tagged" if tag else "", label])
        shown = shown or tag
    table(["Region", "Instance", "State", REMEDIATED_TAG, "What"], rows)
    if shown:
        say(f"e.g. {REMEDIATED_TAG} = {shown}", indent=2, hang=5)
    return {instance_id: state(region, instance_id) for instance_id, (region, _) in fleet.items()}


def guardduty_regions(regions: list[str]) -> dict[str, str]:
    """{region: 'on' | 'suspended' | 'off'} as GuardDuty answers in each region."""
    found = {}
    for region in regions:
        guardduty = boto3.client("guardduty", region_name=region)
        statuses = [guardduty.get_detector(DetectorId=d)["Status"] for d in guardduty.list_detectors()["DetectorIds"]]
        found[region] = "on" if "ENABLED" in statuses else ("suspended" if statuses else "off")
    return found


def security_contact() -> dict[str, Any] | None:
    try:
        contact: dict[str, Any] = boto3.client("account").get_alternate_contact(AlternateContactType="SECURITY")[
            "AlternateContact"
        ]
        return contact
    except boto3.client("account").exceptions.ResourceNotFoundException:
        return None


def budget_alerts() -> list[tuple[str, str, list[str]]]:
    """(budget, alert, subscribers) of every budget of the account."""
    budgets = boto3.client("budgets")
    found = []
    for budget in budgets.describe_budgets(AccountId=ACCOUNT).get("Budgets", []):
        name = budget["BudgetName"]
        for alert in budgets.describe_notifications_for_budget(AccountId=ACCOUNT, BudgetName=name)["Notifications"]:
            subscribers = budgets.describe_subscribers_for_notification(AccountId=ACCOUNT, BudgetName=name, Notification=alert)[
                "Subscribers"
            ]
            what = f"{alert['NotificationType']} > {alert['Threshold']:g} %"
            found.append((name, what, [s["Address"] for s in subscribers]))
    return found


def play_unapproved_regions(demo: Demo) -> None:
    demo.sandbox.opted_in_regions = [OPTED_IN]
    regions = demo.sandbox.enabled_regions
    account = {ACCOUNT: "the account"}

    step(f"The account: {len(regions)} enabled regions, instances in four of them")
    topic, _ = subscribe_inbox()  # the pack's notification topic (the budget alerts go there)
    pack_values = {**PACK, "NotificationTopic": topic}
    fleet: dict[str, tuple[str, str]] = {}
    for region, count, kind, spot, label in (
        ("us-east-1", 2, "t3.medium", False, "the team's web servers (approved region)"),
        ("ap-southeast-1", 2, "c5.4xlarge", False, "mining"),
        ("ap-southeast-1", 1, "c5.4xlarge", True, "mining (spot)"),
        ("sa-east-1", 2, "c5.4xlarge", False, "mining"),
        (OPTED_IN, 2, "g4dn.xlarge", False, "mining (GPU)"),
        ("eu-north-1", 1, "t3.micro", False, "a test box stopped last year"),
    ):
        for instance_id in launch(region, count, kind, spot=spot):
            fleet[instance_id] = (region, f"{kind} {label}")
    old_box = next(iid for iid, (region, _) in fleet.items() if region == "eu-north-1")
    stop("eu-north-1", old_box)
    web = [iid for iid, (region, _) in fleet.items() if region == "us-east-1"]
    miners = [iid for iid, (region, label) in fleet.items() if "mining" in label]
    say(
        f"ApprovedRegions = {APPROVED}. Enabled: the 17 default regions and {OPTED_IN}, opted in to long ago. "
        "AWS Config records only in us-east-1; GuardDuty is off everywhere; there is no budget and no SECURITY "
        "contact, so abuse reports go to the root user's mailbox.",
        indent=2,
        hang=2,
    )
    before = show_fleet(fleet)
    demo.check(
        all(before[iid] == "running" for iid in miners + web) and before[old_box] == "stopped",
        f"the incident is in place: {len(miners)} mining instances running in ap-southeast-1, sa-east-1 and {OPTED_IN}",
    )

    step("Config's schedule fires: the region scan and the three readiness rules evaluate the account")
    demo.sandbox.reset_counts()
    evaluate_periodic(demo, RULE_ID, PACK)
    names = {iid: f"{region} {label}" for iid, (region, label) in fleet.items()} | account
    compliance_table(demo, RULE_ID, names)
    expect_compliance(
        demo,
        RULE_ID,
        names,
        {**dict.fromkeys(miners, "NON_COMPLIANT"), old_box: "COMPLIANT", ACCOUNT: "NON_COMPLIANT"},
        label="mamori-unapproved-regions",
    )
    evaluated = demo.sandbox.config.compliance("mamori-unapproved-regions")
    demo.check(
        not any(iid in evaluated for iid in web),
        "the web servers in the approved region are not evaluated at all (Config bills per evaluation)",
    )
    scans = sum(n for (who, action), n in demo.sandbox.calls.items() if action == "ec2:DescribeInstances")
    demo.check(
        scans == len(regions) - 2,
        f"one DescribeInstances per enabled region outside ApprovedRegions ({scans}), asked all at once",
        f"{scans} DescribeInstances calls for {len(regions) - 2} unapproved regions",
    )
    for rule_id in READINESS_RULES:
        evaluate_periodic(demo, rule_id, PACK)
        compliance_table(demo, rule_id, account)
        expect_compliance(demo, rule_id, account, {ACCOUNT: "NON_COMPLIANT"}, label=f"mamori-{rule_id}")

    step("Automatic remediation: the paired documents run for each NON_COMPLIANT resource")
    stopped = remediate_noncompliant(demo, RULE_ID, names, pack_values)
    demo.check(
        sorted(stopped) == sorted(miners) and all(output(r, "Status") == "REMEDIATED" for r in stopped.values()),
        f"mamori-unapproved-regions stopped the {len(miners)} mining instances, each found in its own region",
        f"stop results: { {rid: (r.status, r.outputs, r.failure) for rid, r in stopped.items()} }",
    )
    readiness = {rule_id: remediate_noncompliant(demo, rule_id, account, pack_values) for rule_id in READINESS_RULES}
    demo.check(
        all(output(results[ACCOUNT], "Status") == "REMEDIATED" for results in readiness.values() if ACCOUNT in results)
        and all(ACCOUNT in results for results in readiness.values()),
        "the security contact is set, GuardDuty is turned on, the budget is created",
        f"readiness results: { {k: {rid: (r.status, r.failure) for rid, r in v.items()} for k, v in readiness.items()} }",
    )

    step("What changed")
    after = show_fleet(fleet)
    demo.check(all(after[iid] == "stopped" for iid in miners), "the mining instances are stopped, not terminated")
    demo.check(
        all(after[iid] == "running" for iid in web)
        and after[old_box] == "stopped"
        and REMEDIATED_TAG not in tags("eu-north-1", old_box),
        "the web servers still run; the old stopped box is untouched (no tag)",
    )
    record = load_record(demo.ssm, RULE_ID, miners[0])
    demo.check(
        record is not None and record.changed.get("region") == fleet[miners[0]][0],
        f"what was stopped is recorded at /mamori/unapproved-regions/<instance id> (region {fleet[miners[0]][0]})",
        f"record for {miners[0]}: {record}",
    )
    contact = security_contact()
    say(
        f"SECURITY contact: {contact['Name']} <{contact['EmailAddress']}>, {contact['PhoneNumber']}"
        if contact
        else "SECURITY contact: none",
        indent=2,
    )
    demo.check(contact is not None and contact["EmailAddress"] == SECURITY_EMAIL, "abuse reports now reach the security team")
    guardduty = guardduty_regions(regions)
    say(f"GuardDuty: on in {sum(v == 'on' for v in guardduty.values())} of {len(regions)} enabled regions", indent=2)
    demo.check(all(v == "on" for v in guardduty.values()), f"GuardDuty is on in every enabled region, {OPTED_IN} included")
    alerts = budget_alerts()
    for name, what, subscribers in alerts:
        say(f"budget {name}: alert {what} to {', '.join(subscribers)}", indent=2)
    demo.check(
        len(alerts) == 2
        and all(topic in subscribers and PACK["NotificationEmail"] in subscribers for _, _, subscribers in alerts),
        "a monthly cost budget alerts the topic and the team's address on actual and forecast spend",
    )

    step("Config evaluates again")
    for rule_id in (RULE_ID, *READINESS_RULES):
        evaluate_periodic(demo, rule_id, PACK)
    compliance_table(demo, RULE_ID, names)
    expect_compliance(
        demo,
        RULE_ID,
        names,
        {**dict.fromkeys(miners, "COMPLIANT"), ACCOUNT: "COMPLIANT"},
        label="mamori-unapproved-regions (stopped instances)",
    )
    for rule_id in READINESS_RULES:
        compliance_table(demo, rule_id, account)
        expect_compliance(demo, rule_id, account, {ACCOUNT: "COMPLIANT"}, label=f"mamori-{rule_id}")

    step("A second run of every remediation changes nothing")
    again = {
        RULE_ID: run_remediation(
            demo,
            remediation_document(RULE_ID),
            {"AutomationAssumeRole": AUTOMATION_ROLE_ARN, "InstanceId": miners[0]},
            miners[0],
        )
    }
    for rule_id in READINESS_RULES:
        again[rule_id] = run_remediation(
            demo, remediation_document(rule_id), remediation_parameters(rule_id, ACCOUNT, pack_values), ACCOUNT
        )
    demo.check(
        output(again[RULE_ID], "Status") == "NOTHING_TO_DO"
        and all(output(again[r], "Status") == "NOTHING_TO_DO" for r in READINESS_RULES),
        "idempotent: already stopped, nothing to do",
        f"second runs: { {k: (output(v, 'Status'), v.failure) for k, v in again.items()} }",
    )
    demo.check(show_fleet(fleet) == after, "no instance changed")

    step("Undo")
    say(
        "Each remediation recorded what it changed; its restore document puts it back. Approve the region (or tag the "
        "instance mamori:exempt with a reason) first, or the next hourly scan stops it again. A dry run:",
        indent=2,
    )
    dry = run_remediation(
        demo,
        f"{remediation_document(RULE_ID)}-restore",
        {"AutomationAssumeRole": AUTOMATION_ROLE_ARN, "InstanceId": miners[0], "DryRun": True},
        f"{miners[0]} (DryRun=true)",
    )
    demo.check(
        output(dry, "Status") == "DRY_RUN" and state(fleet[miners[0]][0], miners[0]) == "stopped",
        "the restore dry run would start the instance again, and changed nothing",
        f"restore dry run: {dry.status} {dry.outputs} {dry.failure}",
    )
    print(f"      aws ssm start-automation-execution --document-name {remediation_document(RULE_ID)}-restore \\")
    print("          --parameters InstanceId=<instance id>,AutomationAssumeRole=<UnapprovedRegionsRestoreAutomationRoleArn>")
