"""Act 2: the forgotten root key. A years-old root access key, no root MFA, and the IAM users
around it: a console password without MFA and a key nobody uses."""

import datetime
from collections.abc import Mapping
from typing import Any

import boto3

from demo.incidents import play_leaked_key_and_miner
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
    show_messages,
    step,
    table,
)
from harness.aws import ACCOUNT, RootAccessKey, RootCredentials
from harness.iam_state import create_managed_policy, key_created_ago, key_ids, key_used_ago, make_user, user_created_ago
from harness.pack import (
    AUTOMATION_ROLE_ARN,
    lambda_principal,
    remediation_parameters,
    rule_spec,
    template,
)
from tests.root_helpers import OpsCenter, subscribe_inbox

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
        # The OpsItem line, then the paragraph that tells mamori's mail from a forgery.
        sorted(str(m.get("Message", "")).rsplit("OpsItem: ", 1)[-1].split()[0] for m in messages) == sorted(opened.values())
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
        # ci-deploy's only key is inactive now: no active key left, the finding is fixed.
        "stale-access-keys": {hana: "NOT_APPLICABLE", ci: "COMPLIANT", yuki: "COMPLIANT"},
    }
    for rule_id, expected in expected_after.items():
        expect_compliance(demo, rule_id, users, expected, rule_spec(rule_id).config_rule_name)
    for rule_id in ROOT_RULES:
        expect_compliance(demo, rule_id, account, {ACCOUNT: "NON_COMPLIANT"}, rule_spec(rule_id).config_rule_name)
    say(
        "hana is COMPLIANT (limited to setting up MFA); ci-deploy is COMPLIANT with no active key left. "
        "The root findings stay NON_COMPLIANT until a person acts: mamori told them how, once.",
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
            and output(second[r], "Status") == "NOTHING_TO_DO"
            and output(second[r], "OpsItemId") == opened[r]
            for r in ROOT_RULES
        )
        and len(ops.items) == 2,
        "root findings: NOTHING_TO_DO (OpsItem already open), the same OpsItems; no second OpsItem",
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

    play_leaked_key_and_miner(demo, ops)  # AWS's own signals, acted on at once (demo/incidents.py)
