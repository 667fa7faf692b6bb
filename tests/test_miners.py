"""A GuardDuty mining finding, contained by mamori-miner-responder in the region GuardDuty found it:
its real handler, with the environment template.yaml gives it (the home region as a member stack
resolves it) and only the actions its role is granted; the restore is the real
mamori-unapproved-regions-restore document from template.yaml (harness/pack.py's runner).

Stood in: GuardDuty itself. The events follow AWS's documented shape, named in mamori/miners.py:
the EventBridge envelope of the GuardDuty User Guide (its example id cd2d702e-…) and the finding
in GuardDuty's finding format (botocore's guardduty model names its members), with the values
GuardDuty's sample finding for CryptoCurrency:EC2/BitcoinTool.B!DNS carries.
"""

import copy
from typing import Any

import boto3
import pytest

from harness.aws import ACCOUNT, REGION, Sandbox
from harness.incident_events import MINING_REGION, finding
from harness.pack import AUTOMATION_ROLE_ARN, lambda_principal, run_document, template
from harness.responders import invoke_responder, responder_environment
from mamori.exemption import EXEMPT_TAG
from mamori.miners import NotAFinding, parse_finding, type_matches
from mamori.records import REMEDIATED_TAG, load_record
from tests.exempt import SOON
from tests.incident_helpers import regional_inbox

RESPONDER = "guardduty-findings"
PRINCIPAL = lambda_principal("mamori-miner-responder")
IMAGE = "ami-12c6146b"
OTHER_ACCOUNT = "210987654321"


class World:
    def __init__(self, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
        self.sandbox = sandbox
        self.monkeypatch = monkeypatch
        self.topic, self.inbox = regional_inbox(MINING_REGION)  # the topic of the stack in that region
        self.ec2 = boto3.client("ec2", region_name=MINING_REGION)
        self.configure()

    def configure(self, **pack_values: str) -> None:
        """As `sam deploy --config-env enforce` deploys it (AutoRemediation "true"), unless told otherwise."""
        for key, value in responder_environment(RESPONDER, self.topic, **{"AutoRemediation": "true", **pack_values}).items():
            self.monkeypatch.setenv(key, value)
        # As the member StackSet deploys it in ap-southeast-1 of an account whose home is us-east-1.
        self.monkeypatch.setenv("AWS_REGION", MINING_REGION)
        self.monkeypatch.setenv("HOME_REGION", REGION)

    def launch(self, tags: dict[str, str] | None = None) -> str:
        request: dict[str, Any] = {"ImageId": IMAGE, "MinCount": 1, "MaxCount": 1, "InstanceType": "c5.4xlarge"}
        if tags:
            request["TagSpecifications"] = [
                {"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
            ]
        return str(self.ec2.run_instances(**request)["Instances"][0]["InstanceId"])

    def deliver(self, event: Any) -> Any:
        self.sandbox.reset_counts()
        return invoke_responder(self.sandbox, RESPONDER, event, region=MINING_REGION)

    def state(self, instance_id: str) -> str:
        return str(self.ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]["State"]["Name"])

    def tags(self, instance_id: str) -> dict[str, str]:
        described = self.ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
        return {t["Key"]: t["Value"] for t in described.get("Tags", [])}

    def snapshots(self) -> list[dict[str, Any]]:
        return list(self.ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"])


@pytest.fixture
def world(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> World:
    return World(sandbox, monkeypatch)


def home_record(instance_id: str) -> Any:
    return load_record(boto3.client("ssm", region_name=REGION), "unapproved-regions", instance_id)


def test_a_miner_is_snapshotted_stopped_tagged_recorded_and_restorable(world: World) -> None:
    miner = world.launch()
    [volume] = [
        mapping["Ebs"]["VolumeId"]
        for mapping in world.ec2.describe_instances(InstanceIds=[miner])["Reservations"][0]["Instances"][0]["BlockDeviceMappings"]
    ]

    result = world.deliver(finding(miner))

    assert (result["acted"], result["status"]) == (True, "REMEDIATED")
    assert world.state(miner) in ("stopping", "stopped")
    [snapshot] = world.snapshots()
    assert snapshot["VolumeId"] == volume
    assert {t["Key"]: t["Value"] for t in snapshot["Tags"]}["mamori:evidence"] == (
        "CryptoCurrency:EC2/BitcoinTool.B!DNS b0baa89de4ab301f8d0a8c9a3dfd5726"
    )
    # Tags take only some characters: "!" becomes a space.
    assert (
        "mamori-miner-responder stopped it: CryptoCurrency:EC2/BitcoinTool.B DNS - undo with" in world.tags(miner)[REMEDIATED_TAG]
    )
    record = home_record(miner)  # in the home region, where the restore document reads it
    assert record is not None and record.changed["region"] == MINING_REGION
    assert record.changed["snapshots"] == [snapshot["SnapshotId"]]
    assert (
        record.changed["reason"]
        == "GuardDuty CryptoCurrency:EC2/BitcoinTool.B!DNS (severity 8, finding b0baa89de4ab301f8d0a8c9a3dfd5726)"
    )
    [message] = world.inbox()
    assert message["Subject"] == f"[mamori] Miner {miner} in {MINING_REGION}: stopped"
    assert f"volumes snapshotted first: {snapshot['SnapshotId']}" in message["Message"]
    assert f"mamori-unapproved-regions-restore with InstanceId {miner}" in message["Message"]
    # From the finding to the stop: the instance, the record (read, written, written with the
    # snapshots, each signed), the snapshot, the stop, the tag, the re-read, the message.
    assert world.sandbox.calls_by(PRINCIPAL) == {
        "ec2:DescribeInstances": 2,
        "ssm:GetParameter": 1,
        "kms:GenerateMac": 2,
        "ssm:PutParameter": 2,
        "ec2:CreateSnapshots": 1,
        "ec2:StopInstances": 1,
        "ec2:CreateTags": 1,
        "sns:Publish": 1,
    }

    world.ec2.stop_instances(InstanceIds=[miner])  # moto: stopping -> stopped, as EC2 gets there
    restored = run_document(
        world.sandbox, "mamori-unapproved-regions-restore", {"AutomationAssumeRole": AUTOMATION_ROLE_ARN, "InstanceId": miner}
    )

    assert restored.status == "Success" and restored.outputs["Restore.Status"] == "RESTORED", restored.failure
    assert world.state(miner) in ("pending", "running")
    assert REMEDIATED_TAG not in world.tags(miner) and home_record(miner) is None
    assert len(world.snapshots()) == 1  # the evidence stays


def test_without_snapshots_it_only_stops(world: World) -> None:
    miner = world.launch()
    world.configure(SnapshotBeforeStop="false")

    world.deliver(finding(miner))

    assert world.state(miner) in ("stopping", "stopped") and world.snapshots() == []
    assert "ec2:CreateSnapshots" not in world.sandbox.calls_by(PRINCIPAL)
    [message] = world.inbox()
    assert "not snapshotted (SnapshotBeforeStop is false)" in message["Message"]


def test_an_exempt_instance_is_left_running_and_the_message_says_so(world: World) -> None:
    worker = world.launch(tags={EXEMPT_TAG: f"research cluster, ticket SEC-7 until={SOON}"})

    result = world.deliver(finding(worker))

    assert result["status"] == "SKIPPED_EXEMPT" and world.state(worker) == "running" and world.snapshots() == []
    [message] = world.inbox()
    assert message["Subject"] == f"[mamori] Miner {worker} in {MINING_REGION}: left running (exempt)"
    assert "Left RUNNING: the instance is tagged mamori:exempt (Exempt by mamori:exempt: research cluster" in message["Message"]


def test_the_same_finding_again_is_handled_once(world: World) -> None:
    miner = world.launch()
    world.deliver(finding(miner))
    world.inbox()
    update = finding(miner)
    update["detail"]["service"]["count"] = 7  # GuardDuty's update of the finding it sent before

    again = world.deliver(update)

    assert again["status"] == "NOTHING_TO_DO" and again["subject"] == ""
    assert world.inbox() == [] and len(world.snapshots()) == 1
    assert "ec2:StopInstances" not in world.sandbox.calls_by(PRINCIPAL)


def test_a_miner_started_again_is_stopped_again_over_mamoris_own_record(world: World) -> None:
    """A person starts the instance mamori stopped, and it mines again: the record left from the
    first stop is verified as mamori's (not refused as a planted one) and this stop is recorded."""
    miner = world.launch()
    world.deliver(finding(miner))
    world.ec2.stop_instances(InstanceIds=[miner])  # moto: stopping -> stopped, as EC2 gets there
    world.ec2.start_instances(InstanceIds=[miner])
    world.inbox()

    again = world.deliver(finding(miner))

    assert (again["acted"], again["status"]) == (True, "REMEDIATED")
    assert world.state(miner) in ("stopping", "stopped")
    calls = world.sandbox.calls_by(PRINCIPAL)
    assert (calls["kms:VerifyMac"], calls["kms:GenerateMac"]) == (1, 2)
    record = home_record(miner)
    assert record is not None and record.changed["previousState"] == "running"


def test_credential_exfiltration_findings_match_by_prefix(world: World) -> None:
    instance = world.launch()
    event = finding(instance, "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS")

    assert world.deliver(event)["status"] == "REMEDIATED"
    assert type_matches(
        "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.InsideAWS",
        ["UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.*"],
    )
    assert not type_matches("CryptoCurrency:EC2/BitcoinTool.B!DNS", ["CryptoCurrency:EC2/BitcoinTool.B"])


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda e: e["detail"].update(type="Recon:EC2/PortProbeUnprotectedPort"), "is not one of MinerFindingTypes"),
        (lambda e: e["detail"].update(severity=2), "severity 2 is below MinerSeverityFloor 4"),
        (lambda e: e["detail"]["service"].update(archived=True), "archived"),
    ],
    ids=["other-type", "low-severity", "archived"],
)
def test_findings_it_does_not_act_on(world: World, change: Any, reason: str) -> None:
    instance = world.launch()
    event = finding(instance)
    change(event)

    result = world.deliver(event)

    assert result["status"] == "IGNORED" and reason in result["reason"]
    assert world.state(instance) == "running" and world.inbox() == []
    assert world.sandbox.calls_by(PRINCIPAL) == {}


def test_the_pack_parameters_set_the_types_and_the_floor(world: World) -> None:
    instance = world.launch()
    world.configure(MinerFindingTypes="Recon:EC2/PortProbeUnprotectedPort", MinerSeverityFloor="2")
    event = finding(instance, "Recon:EC2/PortProbeUnprotectedPort", severity=2)

    assert world.deliver(event)["status"] == "REMEDIATED"


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (lambda e: e["detail"].update(accountId=OTHER_ACCOUNT), f"account {OTHER_ACCOUNT}, not this account {ACCOUNT}"),
        (lambda e: e["detail"].update(region="eu-west-1"), f"region eu-west-1, not {MINING_REGION}"),
        (lambda e: e["detail"].update(resource={"resourceType": "AccessKey"}), "names no EC2 instance"),
    ],
    ids=["other-account", "other-region", "no-instance"],
)
def test_a_finding_elsewhere_is_notified_never_acted_on(world: World, change: Any, why: str) -> None:
    instance = world.launch()
    event = finding(instance)
    change(event)

    result = world.deliver(event)

    assert result["status"] == "REFUSED" and why in result["reason"]
    assert world.state(instance) == "running"
    [message] = world.inbox()
    assert "not acted on here" in message["Subject"]
    assert world.sandbox.calls_by(PRINCIPAL) == {"sns:Publish": 1}


def test_an_instance_that_no_longer_exists_is_reported(world: World) -> None:
    result = world.deliver(finding("i-0000000000000dead"))

    assert result["status"] == "NOT_FOUND"
    [message] = world.inbox()
    assert "No instance i-0000000000000dead exists in ap-southeast-1 (terminated); nothing to stop." in message["Message"]


def test_a_refused_stop_is_said_raised_and_leaves_no_record(world: World) -> None:
    protected = world.launch()
    world.sandbox.answer_next("ec2:StopInstances", "OperationNotPermitted")

    with pytest.raises(RuntimeError, match=r"refused to stop"):
        world.deliver(finding(protected))

    assert world.state(protected) == "running" and home_record(protected) is None
    assert world.sandbox.calls_by(PRINCIPAL)["ssm:DeleteParameter"] == 1
    [message] = world.inbox()
    assert message["Subject"] == f"[mamori] Miner {protected} in {MINING_REGION}: stop FAILED"
    assert "stop protection (DisableApiStop) is on" in message["Message"]


def test_a_failed_snapshot_does_not_keep_a_miner_running(world: World) -> None:
    miner = world.launch()
    world.sandbox.answer_next("ec2:CreateSnapshots", "SnapshotCreationPerVolumeRateExceeded")

    result = world.deliver(finding(miner))

    assert result["status"] == "REMEDIATED" and world.state(miner) in ("stopping", "stopped")
    [message] = world.inbox()
    assert "snapshot FAILED (CreateSnapshots failed: SnapshotCreationPerVolumeRateExceeded" in message["Message"]


def test_with_auto_remediation_off_it_only_tells(world: World) -> None:
    miner = world.launch()
    world.configure(AutoRemediation="false")

    assert world.deliver(finding(miner))["status"] == "NOTIFIED"
    assert world.state(miner) == "running"
    [message] = world.inbox()
    assert f"aws ec2 stop-instances --region {MINING_REGION} --instance-ids {miner}" in message["Message"]


@pytest.mark.parametrize(
    "event",
    ["not an event", {"source": "aws.guardduty", "detail-type": "GuardDuty Finding", "id": "e-7", "detail": {"type": "x"}}],
    ids=["string", "no-id-or-severity"],
)
def test_a_malformed_event_is_logged_with_its_id_and_ignored(world: World, event: Any, caplog: pytest.LogCaptureFixture) -> None:
    result = world.deliver(event)

    assert result["status"] == "IGNORED" and world.inbox() == []
    assert world.sandbox.calls_by(PRINCIPAL) == {}
    assert f"Ignored event {event['id'] if isinstance(event, dict) else '(no id)'}" in caplog.text


def test_parse_rejects_a_forged_source() -> None:
    event = finding("i-0123456789abcdef0")
    forged = copy.deepcopy(event) | {"source": "mamori.forged"}
    with pytest.raises(NotAFinding, match=r"source 'mamori\.forged'"):
        parse_finding(forged)


def test_it_runs_in_every_region_with_the_home_regions_records() -> None:
    import yaml

    from harness.pack import ROOT

    function = template()["Resources"]["MinerResponderFunction"]
    assert function["Condition"] == "MinerResponseOn"
    assert function["Properties"]["Environment"]["Variables"]["HOME_REGION"] == {"Ref": "AWS::Region"}
    member = yaml.safe_load((ROOT / "member-template.yaml").read_text())["Resources"]["MinerResponderFunction"]
    assert member["Condition"] == "MinerResponseOn"  # not the home region only: findings are regional
    assert member["Properties"]["Environment"]["Variables"]["HOME_REGION"] == {"Ref": "HomeRegion"}
    parameters = template()["Parameters"]
    assert parameters["MinerFindingTypes"]["Default"].split(",") == [
        "CryptoCurrency:EC2/BitcoinTool.B",
        "CryptoCurrency:EC2/BitcoinTool.B!DNS",
        "Impact:Runtime/CryptoMinerExecuted",
        "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.*",
    ]
    assert (parameters["MinerSeverityFloor"]["Default"], parameters["SnapshotBeforeStop"]["Default"]) == ("4", "true")


# --- signing the home region's record from another region ----------------------------------
# Stood in: KMS's evaluation of the record key's policy, and IAM's of the role's (the sandbox
# enforces neither): tests/cfn_logic.py resolves the member template as CloudFormation would in
# each stack of the StackSet, and evaluates both policies for kms:GenerateMac.

HOME, MEMBER = "us-east-1", "123456789012"
MEMBER_PARAMETERS = {"HomeRegion": HOME, "ManagementAccountId": "210987654321"}


def _home_key_lets_sign(role_arn: str, role_policy: Any = None) -> bool:
    """Whether role_arn may call kms:GenerateMac on the home region's record key: its key policy
    (a member stack's, in the home region) and, when given, the role's own policy."""
    import yaml

    from harness.pack import ROOT
    from mamori.records import MAC_ALGORITHM, RECORD_KEY_ALIAS
    from tests.cfn_logic import Request, Stack, allowed, resolve

    member = yaml.safe_load((ROOT / "member-template.yaml").read_text())
    home = Stack(member, MEMBER_PARAMETERS, region=HOME, account=MEMBER)
    key_policy = resolve(home, member["Resources"]["RecordKey"]["Properties"]["KeyPolicy"])
    request = Request(
        "kms:GenerateMac",
        role_arn,
        HOME,
        f"arn:aws:kms:{HOME}:{MEMBER}:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        context={"kms:MacAlgorithm": MAC_ALGORITHM, "kms:ResourceAliases": [RECORD_KEY_ALIAS]},
    )
    return bool(allowed(key_policy, request)) and (role_policy is None or bool(allowed(role_policy, request)))


def _member_role(region: str, logical_id: str) -> tuple[str, Any]:
    """The role's ARN and its policy as the member stack of that region makes them."""
    import yaml

    from harness.pack import ROOT
    from tests.cfn_logic import Stack, resolve

    member = yaml.safe_load((ROOT / "member-template.yaml").read_text())
    stack = Stack(member, MEMBER_PARAMETERS, region=region, account=MEMBER)
    [policy] = member["Resources"][logical_id]["Properties"]["Policies"]
    return resolve(stack, {"Fn::GetAtt": [logical_id, "Arn"]}), resolve(stack, policy["PolicyDocument"])


def test_the_miner_responder_of_every_region_may_sign_the_home_regions_record() -> None:
    """It keeps its record in the home region, where the restore reads it: the home region's key
    must let the miner responders of the other regions' stacks sign (their roles are not the
    home stack's), and no other role."""
    for region in (HOME, MINING_REGION, "us-isof-south-1"):
        arn, policy = _member_role(region, "MinerResponderRole")
        assert _home_key_lets_sign(arn, policy), f"{region}: {arn}"
    # Only the miner responder's name, under mamori's path, in this account:
    for impostor in (
        f"arn:aws:iam::{MEMBER}:role/mamori/mamori-abuse-responder-{MINING_REGION}",
        f"arn:aws:iam::{MEMBER}:role/mamori-miner-responder-{MINING_REGION}",
        f"arn:aws:iam::{MEMBER}:role/other/mamori-miner-responder-{MINING_REGION}",
        f"arn:aws:iam::{OTHER_ACCOUNT}:role/mamori/mamori-miner-responder-{MINING_REGION}",
    ):
        assert not _home_key_lets_sign(impostor), impostor
    # A writer of records of another region signs only its own region's records.
    arn, policy = _member_role(MINING_REGION, "OpenProxyPortsAutomationRole")
    assert not _home_key_lets_sign(arn, policy)
    assert _home_key_lets_sign(*_member_role(HOME, "OpenProxyPortsAutomationRole"))


def test_the_recommended_fence_leaves_making_such_a_role_to_the_deployment() -> None:
    """SECURITY.md's fence, as written there: only the deployment creates or changes a role under
    /mamori/, so nobody else can make a mamori-miner-responder-<anything> that the key admits."""
    import json
    import re

    from harness.pack import ROOT
    from tests.cfn_logic import Request, denied

    text = (ROOT / "SECURITY.md").read_text()
    [fence] = [
        json.loads(block)
        for block in re.findall(r"```json\n(.*?)```", text, re.S)
        if "OnlyTheDeploymentMakesMamoriRoles" in block
    ]
    role = f"arn:aws:iam::{MEMBER}:role/mamori/mamori-miner-responder-evil"
    for action in ("iam:CreateRole", "iam:PutRolePolicy", "iam:AttachRolePolicy", "iam:UpdateAssumeRolePolicy"):
        assert denied(fence, Request(action, f"arn:aws:iam::{MEMBER}:role/PowerUser", HOME, role)), action
    for deployment in ("stacksets-exec-0123456789abcdef", "YourDeploymentRole"):
        assert not denied(fence, Request("iam:CreateRole", f"arn:aws:iam::{MEMBER}:role/{deployment}", HOME, role))
