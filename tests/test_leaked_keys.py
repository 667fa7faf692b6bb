"""An access key found in public (AWS Health AWS_RISK_CREDENTIALS_EXPOSED), contained at once by
mamori-leaked-key-responder: its real handler, with the environment template.yaml gives it and
only the actions its role is granted; the restore is the real mamori-stale-access-keys-restore
document from template.yaml (harness/pack.py's runner).

Stood in: AWS Health (events built from AWS's published sample, named below); CloudTrail's
LookupEvents and OpsCenter, which moto 5.2.5 lacks (tests/incident_helpers.py,
tests/root_helpers.py); the root user's key, which no API sets up (harness.aws.RootCredentials).
"""

import datetime
import json
from typing import Any

import boto3
import pytest

from harness.aws import ACCOUNT, REGION, RootAccessKey, RootCredentials, Sandbox
from harness.iam_state import key_ids, key_used_ago, make_user
from harness.incident_events import EVENT_ARN, SAMPLE, exposed
from harness.pack import AUTOMATION_ROLE_ARN, granted_actions, lambda_principal, run_document, template
from harness.responders import invoke_responder, responder_environment
from mamori import leaked_keys
from mamori.exemption import EXEMPT_TAG
from mamori.leaked_keys import NotAnExposedKeyEvent, parse_exposed_key_event
from mamori.records import REMEDIATED_TAG, load_record
from tests.exempt import SOON
from tests.incident_helpers import CloudTrailHistory, unsigned
from tests.root_helpers import OpsCenter, subscribe_inbox

RESPONDER = "leaked-keys"
PRINCIPAL = lambda_principal("mamori-leaked-key-responder")
ROLE = "LeakedKeyResponderRole"
MEMBER = "210987654321"


class World:
    def __init__(self, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
        self.sandbox = sandbox
        self.ops = OpsCenter()
        self.trail = CloudTrailHistory()
        self.topic, self.inbox = subscribe_inbox()
        self.iam = boto3.client("iam")
        self.monkeypatch = monkeypatch
        self.configure()

    def configure(self, **pack_values: str) -> None:
        """As `sam deploy --config-env enforce` deploys it (AutoRemediation "true"), unless told otherwise."""
        for key, value in responder_environment(RESPONDER, self.topic, **{"AutoRemediation": "true", **pack_values}).items():
            self.monkeypatch.setenv(key, value)

    def deliver(self, event: Any) -> Any:
        self.sandbox.reset_counts()
        return invoke_responder(self.sandbox, RESPONDER, event)

    def statuses(self, name: str) -> dict[str, str]:
        return {k["AccessKeyId"]: k["Status"] for k in self.iam.list_access_keys(UserName=name)["AccessKeyMetadata"]}

    def tags(self, name: str) -> dict[str, str]:
        return {t["Key"]: t["Value"] for t in self.iam.list_user_tags(UserName=name)["Tags"]}


@pytest.fixture
def world(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> World:
    return World(sandbox, monkeypatch)


# --- reading the event ----------------------------------------------------------------------


def test_published_sample_reads_as_a_report() -> None:
    event = json.loads(json.dumps(SAMPLE))
    event["detail"]["affectedEntities"] = [{"entityValue": "AKIAIOSFODNN7EXAMPLE"}]

    report = parse_exposed_key_event(event)

    assert report.key_ids == ("AKIAIOSFODNN7EXAMPLE",)
    assert report.affected_account == report.delivered_to_account == "123456789012"
    assert report.event_arn == SAMPLE["detail"]["eventArn"]
    assert report.received == datetime.datetime(2016, 6, 5, 6, 27, 57, tzinfo=datetime.UTC)  # the earlier of the two
    assert report.descriptions == ("A description of the event will be provided here",)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda e: e.update(source="mamori.forged"), "source 'mamori.forged'"),
        (lambda e: e.update({"detail-type": "AWS Health Abuse Event"}), "detail-type 'AWS Health Abuse Event'"),
        (lambda e: e["detail"].update(eventTypeCode="AWS_EC2_OPERATIONAL_ISSUE"), "is not AWS_RISK_CREDENTIALS_EXPOSED"),
        (lambda e: e.update(detail="AKIAIOSFODNN7EXAMPLE"), "no detail object"),
        (lambda e: e["detail"].update(affectedEntities=[{"entityValue": "ACCESS_KEY_ID_HERE"}]), "names no access key id"),
        (lambda e: e["detail"].update(affectedEntities="AKIAIOSFODNN7EXAMPLE"), "affectedEntities is not a list"),
        (lambda e: e["detail"].update(affectedAccount="member"), "'member' is not an account id"),
        (lambda e: e["detail"].pop("eventArn"), "eventArn None is not an ARN"),
    ],
    ids=["forged-source", "abuse-event", "other-code", "detail", "placeholder-key", "entities", "account", "arn"],
)
def test_what_is_not_an_exposed_key_event_is_rejected_with_its_reason(change: Any, reason: str) -> None:
    event = exposed("AKIAIOSFODNN7EXAMPLE")
    change(event)

    with pytest.raises(NotAnExposedKeyEvent, match=reason):
        parse_exposed_key_event(event)


# --- an IAM user's key -------------------------------------------------------------------------


def test_an_exposed_user_key_is_deactivated_at_once_recorded_and_restorable(world: World) -> None:
    user_id = make_user("ci-deployer", keys=2)
    leaked, other = key_ids("ci-deployer")
    key_used_ago("ci-deployer", 0, datetime.timedelta(minutes=5), service="ec2")
    now = datetime.datetime.now(datetime.UTC)
    for minutes, name in ((50, "GetCallerIdentity"), (40, "DescribeRegions"), (30, "RunInstances"), (29, "RunInstances")):
        world.trail.record(REGION, leaked, name, now - datetime.timedelta(minutes=minutes))
    world.trail.record(REGION, leaked, "CreateUser", now - datetime.timedelta(minutes=20), error="AccessDenied")
    world.trail.record(REGION, other, "ListBuckets", now - datetime.timedelta(minutes=10))  # the other key: not counted

    result = world.deliver(exposed(leaked))

    assert result["acted"] is True and result["status"] == "REMEDIATED"
    assert world.statuses("ci-deployer") == {leaked: "Inactive", other: "Active"}  # that key only, never deleted
    assert world.tags("ci-deployer")[REMEDIATED_TAG].endswith(
        f"mamori-leaked-key-responder deactivated {leaked}: reported exposed by AWS Health - undo with "
        "mamori-stale-access-keys-restore"
    )
    record = load_record(boto3.client("ssm"), "stale-access-keys", user_id)
    assert record is not None and record.document == "mamori-leaked-key-responder"
    [key] = record.changed["deactivated"]
    assert (key["keyId"], key["event"], key["reason"]) == (
        leaked,
        EVENT_ARN,
        "reported exposed by AWS Health (AWS_RISK_CREDENTIALS_EXPOSED)",
    )
    assert [run["deactivated"] for run in record.changed["history"]] == [[leaked]]
    [item] = world.ops.open_items()
    assert item["Title"] == f"Exposed access key {leaked} of IAM user ci-deployer in {ACCOUNT}: deactivated"
    assert item["dedup"] == f"mamori/leaked-key/{leaked}"
    activity = item["OperationalData"]["mamori:key-activity"]["Value"]
    assert f"CloudTrail event history ({REGION}): 5 calls with this key" in activity
    assert "Actions: RunInstances x2, CreateUser x1, DescribeRegions x1, GetCallerIdentity x1" in activity  # newest first
    assert "1 of them failed (errorCode set: denied or invalid)." in activity
    assert item["OperationalData"]["mamori:event"]["Value"] == EVENT_ARN
    [message] = world.inbox()
    assert message["Subject"] == f"[mamori] Exposed access key {leaked}: deactivated"
    body = message["Message"]
    assert f"Deactivated {leaked} of ci-deployer (not deleted); recorded at /mamori/stale-access-keys/{user_id}" in body
    assert f"Whose: IAM user ci-deployer ({user_id}); last used" in body and "(ec2 in us-east-1)" in body
    assert f"mamori-stale-access-keys-restore with UserId {user_id} reactivates it" in body
    assert unsigned(body).endswith(f"OpsItem: {item['OpsItemId']}")
    # Eleven calls from the event to the case: who (2), the kernel (6), CloudTrail, OpsItem, topic.
    assert world.sandbox.calls_by(PRINCIPAL) == {
        "iam:GetAccessKeyLastUsed": 1,
        "iam:GetUser": 1,
        "iam:ListAccessKeys": 2,
        "ssm:GetParameter": 1,
        "kms:GenerateMac": 1,
        "ssm:PutParameter": 1,
        "iam:UpdateAccessKey": 1,
        "iam:TagUser": 1,
        "cloudtrail:LookupEvents": 1,
        "ssm:CreateOpsItem": 1,
        "sns:Publish": 1,
    }

    again = world.deliver(exposed(leaked))  # the same event delivered again (at least once), or an update

    assert again["status"] == "NOTHING_TO_DO" and again["subject"] == ""
    assert world.inbox() == [] and len(world.ops.items) == 1
    assert world.statuses("ci-deployer") == {leaked: "Inactive", other: "Active"}

    restored = run_document(
        world.sandbox, "mamori-stale-access-keys-restore", {"AutomationAssumeRole": AUTOMATION_ROLE_ARN, "UserId": user_id}
    )

    assert restored.status == "Success" and restored.outputs["Restore.Status"] == "RESTORED"
    assert restored.outputs["Restore.Reactivated"] == [leaked]
    assert world.statuses("ci-deployer") == {leaked: "Active", other: "Active"}
    assert REMEDIATED_TAG not in world.tags("ci-deployer")
    assert load_record(boto3.client("ssm"), "stale-access-keys", user_id) is None


def test_the_record_keeps_what_stale_keys_deactivated_before(world: World) -> None:
    """One record per user: an earlier stale-keys entry stays, and the restore puts back both."""
    user_id = make_user("builder", keys=2)
    stale, leaked = key_ids("builder")
    from harness.iam_state import key_created_ago

    key_created_ago("builder", 0, datetime.timedelta(days=200))
    run_document(world.sandbox, "mamori-stale-access-keys", {"AutomationAssumeRole": AUTOMATION_ROLE_ARN, "UserId": user_id})
    assert world.statuses("builder") == {stale: "Inactive", leaked: "Active"}

    world.deliver(exposed(leaked))

    assert world.statuses("builder") == {stale: "Inactive", leaked: "Inactive"}
    record = load_record(boto3.client("ssm"), "stale-access-keys", user_id)
    assert record is not None
    assert [key["keyId"] for key in record.changed["deactivated"]] == [stale, leaked]
    assert [run["deactivated"] for run in record.changed["history"]] == [[stale], [leaked]]
    restored = run_document(
        world.sandbox, "mamori-stale-access-keys-restore", {"AutomationAssumeRole": AUTOMATION_ROLE_ARN, "UserId": user_id}
    )
    assert restored.outputs["Restore.Reactivated"] == [stale, leaked]


def test_an_exempt_user_keeps_its_key_and_the_message_says_so(world: World) -> None:
    make_user("vendor-sync", keys=1, tags={EXEMPT_TAG: f"vendor integration, ticket SEC-42 until={SOON}"})
    [leaked] = key_ids("vendor-sync")

    result = world.deliver(exposed(leaked))

    assert result["status"] == "SKIPPED_EXEMPT" and result["acted"] is False
    assert world.statuses("vendor-sync") == {leaked: "Active"}
    assert REMEDIATED_TAG not in world.tags("vendor-sync")
    [item] = world.ops.open_items()
    assert item["Title"].endswith(": NOT deactivated (exempt)")
    [message] = world.inbox()
    assert (
        "NOT deactivated: the user vendor-sync is tagged mamori:exempt (Exempt by mamori:exempt: vendor integration"
        in (message["Message"])
    )
    assert "deactivate it by hand" in message["Message"]
    assert "iam:UpdateAccessKey" not in world.sandbox.calls_by(PRINCIPAL)


def test_with_auto_remediation_off_it_only_tells(world: World) -> None:
    make_user("reporter", keys=1)
    [leaked] = key_ids("reporter")
    world.configure(AutoRemediation="false")

    result = world.deliver(exposed(leaked))

    assert result["status"] == "NOTIFIED"
    assert world.statuses("reporter") == {leaked: "Active"}
    [message] = world.inbox()
    assert "NOT deactivated: AutoRemediation is false" in message["Message"]
    assert f"aws iam update-access-key --user-name reporter --access-key-id {leaked} --status Inactive" in message["Message"]
    assert len(world.ops.open_items()) == 1


def test_a_failed_deactivation_is_said_and_raised_after_recording(world: World) -> None:
    user_id = make_user("flaky", keys=1)
    [leaked] = key_ids("flaky")
    world.sandbox.answer_next("iam:UpdateAccessKey", "Throttling")

    with pytest.raises(RuntimeError, match="Throttling"):
        world.deliver(exposed(leaked))

    assert world.statuses("flaky") == {leaked: "Active"}
    assert load_record(boto3.client("ssm"), "stale-access-keys", user_id) is not None  # recorded first
    [message] = world.inbox()
    assert message["Subject"].startswith("[mamori] FAILED: Exposed access key")
    assert "FAILED to contain it: Throttling" in message["Message"]
    assert "retries this event up to twice" in message["Message"]
    # The retry contains it.
    world.deliver(exposed(leaked))
    assert world.statuses("flaky") == {leaked: "Inactive"}


# --- a root key, a key gone, another account ----------------------------------------------------


def test_a_root_key_is_not_touched_and_the_steps_are_given(world: World) -> None:
    world.sandbox.root = RootCredentials(access_keys=[RootAccessKey()])
    root_key = "AKIAROOTKEY000000001"

    result = world.deliver(exposed(root_key))

    assert result["status"] == "NOTIFIED" and result["acted"] is False
    [item] = world.ops.open_items()
    assert item["Title"] == f"Exposed access key {root_key} of the ROOT user in {ACCOUNT}: delete it now"
    [message] = world.inbox()
    body = message["Message"]
    assert "it is no IAM user's key and the root user has an access key, so it is the root key" in body
    assert f"aws sts assume-root --target-principal {ACCOUNT}" in body
    assert f"aws iam delete-access-key --access-key-id {root_key}" in body
    assert "mamori-central-responder deletes a member's root key on this same event" in body
    calls = world.sandbox.calls_by(PRINCIPAL)
    assert calls["iam:GetAccountSummary"] == 1 and "iam:UpdateAccessKey" not in calls


def test_a_key_that_no_longer_exists_is_reported_not_an_error(world: World) -> None:
    result = world.deliver(exposed("AKIAGONE000000000001"))

    assert result["status"] == "NOT_FOUND"
    [item] = world.ops.open_items()
    assert item["Title"].endswith(": no longer exists")
    [message] = world.inbox()
    assert "no IAM user has this key and root has none (deleted)" in message["Message"]


def test_an_event_about_another_account_is_notified_never_acted_on(world: World) -> None:
    make_user("member-user", keys=1)
    [key] = key_ids("member-user")  # the same id in this account must not be touched either

    result = world.deliver(exposed(key, account=ACCOUNT, affected=MEMBER))

    assert result["status"] == "REFUSED" and result["acted"] is False
    assert world.statuses("member-user") == {key: "Active"}
    [message] = world.inbox()
    assert message["Subject"] == f"[mamori] Access key exposed in account {MEMBER}: acted on there, not here"
    assert world.sandbox.calls_by(PRINCIPAL) == {"sns:Publish": 1}
    assert world.ops.items == {}


@pytest.mark.parametrize(
    "event",
    ["not an event", {"source": "aws.health", "detail-type": "AWS Health Event", "id": "e-1", "detail": {}}, exposed()],
    ids=["string", "other-health-event", "no-key"],
)
def test_a_malformed_event_is_logged_with_its_id_and_ignored(world: World, event: Any, caplog: pytest.LogCaptureFixture) -> None:
    result = world.deliver(event)

    assert result["status"] == "IGNORED"
    assert world.sandbox.calls_by(PRINCIPAL) == {} and world.inbox() == []
    expected_id = event.get("id") if isinstance(event, dict) else "(no id)"
    assert f"Ignored event {expected_id}" in caplog.text


# --- the template ---------------------------------------------------------------------------------

RESOURCES = template()["Resources"]


def test_responder_is_deployed_when_leaked_key_response_is_on_and_acts_only_on_aws_health() -> None:
    function = RESOURCES["LeakedKeyResponderFunction"]
    assert function["Condition"] == "LeakedKeyResponseOn"
    assert template()["Conditions"]["LeakedKeyResponseOn"] == {"Fn::Equals": [{"Ref": "LeakedKeyResponse"}, "true"]}
    assert template()["Parameters"]["LeakedKeyResponse"]["Default"] == "true"
    [event] = function["Properties"]["Events"].values()
    assert event["Properties"]["Pattern"] == {
        "source": ["aws.health"],
        "detail-type": ["AWS Health Event"],
        "detail": {"service": ["RISK"], "eventTypeCode": ["AWS_RISK_CREDENTIALS_EXPOSED"]},
    }
    statements = RESOURCES[ROLE]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    by_action = {action: statement["Resource"] for statement in statements for action in statement["Action"]}
    users = {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:user/*"}
    assert by_action["iam:UpdateAccessKey"] == by_action["iam:TagUser"] == by_action["iam:ListAccessKeys"] == users
    records = "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/mamori/stale-access-keys/*"
    assert by_action["ssm:PutParameter"] == {"Fn::Sub": records}
    assert "iam:DeleteAccessKey" not in granted_actions(ROLE)


def test_member_accounts_run_it_in_the_home_region_only() -> None:
    import yaml

    from harness.pack import ROOT

    member = yaml.safe_load((ROOT / "member-template.yaml").read_text())["Resources"]
    assert member["LeakedKeyResponderFunction"]["Condition"] == "LeakedKeyResponseOnInHomeRegion"
    assert member["AbuseResponderFunction"]["Condition"] == "AbuseCasesOn"  # regional: every region


def test_parse_reads_what_leaked_keys_names() -> None:
    assert leaked_keys.KEY_ID.match("AKIAIOSFODNN7EXAMPLE") and not leaked_keys.KEY_ID.match("ASIAIOSFODNN7EXAMPLE")
