"""mamori-unapproved-regions and -restore, run from template.yaml by the document runner, on EC2
instances made in moto in several regions. Every test re-reads the live instance afterwards.

Stood in: moto runs no SSM Automation, so harness.pack executes each document's inlined
aws:executeScript script under the IAM actions the template grants the document's role; the
sandbox (harness.aws) answers DescribeRegions as an account would, refuses regions
(deny_region) and injects EC2's answers where moto differs from EC2 (answer_next: moto stops
a one-time Spot instance, EC2 answers UnsupportedOperation)."""

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from harness.aws import Sandbox
from harness.config_events import periodic_event
from harness.ec2_state import launch, launched, stop, terminate
from harness.pack import (
    AUTOMATION_ROLE_ARN,
    AutomationResult,
    deploy_rule,
    deployed_rule_parameters,
    invoke_rule,
    remediation_parameters,
    run_document,
)
from mamori.deployed_rule import RuleNotDeployed, rule_parameters
from mamori.records import Record, load_record
from tests.closed_loop import assert_closed_loop
from tests.exempt import SOON
from tools.limits import commercial_regions

RULE = "mamori-unapproved-regions"
RULE_ID = "unapproved-regions"
REMEDIATE = "mamori-unapproved-regions"
RESTORE = "mamori-unapproved-regions-restore"
PARIS = "eu-west-3"
APPROVED = "us-east-1,eu-west-1"


def evaluate(sandbox: Sandbox, instance_id: str) -> tuple[str, str]:
    parameters = deployed_rule_parameters(RULE_ID, ApprovedRegions=APPROVED)
    invoke_rule(sandbox, RULE_ID, periodic_event(RULE, parameters))
    return sandbox.config.compliance(RULE)[instance_id]


def remediate(sandbox: Sandbox, instance_id: str, approved: str = APPROVED, **overrides: Any) -> Any:
    deploy_rule(sandbox, RULE_ID, ApprovedRegions=approved)
    return run_document(sandbox, REMEDIATE, remediation_parameters(RULE_ID, instance_id, **overrides))


def restore(sandbox: Sandbox, instance_id: str, **extra: Any) -> Any:
    return run_document(sandbox, RESTORE, {"AutomationAssumeRole": AUTOMATION_ROLE_ARN, "InstanceId": instance_id, **extra})


def live(instance_id: str, region: str = PARIS) -> tuple[str, dict[str, str]]:
    """(state, tags) of the instance as EC2 has it now."""
    ec2 = boto3.client("ec2", region_name=region)
    instance = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
    return instance["State"]["Name"], {tag["Key"]: tag["Value"] for tag in instance.get("Tags", [])}


def saved_record(instance_id: str) -> Record:
    found = load_record(boto3.client("ssm"), RULE_ID, instance_id)
    assert found is not None, f"no record of {instance_id}"
    return found


def record(instance_id: str) -> Any:
    return saved_record(instance_id).changed


def no_records() -> bool:
    return not boto3.client("ssm").get_parameters_by_path(Path="/mamori", Recursive=True)["Parameters"]


@pytest.fixture
def stop_requests() -> Iterator[list[dict[str, Any]]]:
    """The parameters of every StopInstances call (moto ignores Force; EC2 would not)."""
    requests: list[dict[str, Any]] = []

    def keep(params: dict[str, Any], **_: Any) -> None:
        requests.append(dict(params))

    assert boto3.DEFAULT_SESSION is not None
    boto3.DEFAULT_SESSION.events.register("provide-client-params.ec2.StopInstances", keep)
    yield requests
    boto3.DEFAULT_SESSION.events.unregister("provide-client-params.ec2.StopInstances", keep)


@pytest.mark.closed_loop("unapproved-regions")
def test_closed_loop(sandbox: Sandbox, stop_requests: list[dict[str, Any]]) -> None:
    [miner] = launch(PARIS, instance_type="c5.4xlarge", tags={"Name": "miner"})
    stopped: list[tuple[str, dict[str, str]]] = []

    def stopped_and_recorded(result: AutomationResult) -> None:
        assert result.outputs["Remediate.Region"] == PARIS
        assert result.outputs["Remediate.Message"].startswith(f"Stopped {miner} in {PARIS} (was running c5.4xlarge, launched ")
        assert stop_requests == [{"InstanceIds": [miner]}]  # never Force: a clean shutdown
        state, tags = live(miner)
        assert state == "stopped"  # stopped, not terminated
        assert tags["Name"] == "miner"
        assert tags["mamori:remediated"].endswith(
            f"Z mamori-unapproved-regions stopped it: {PARIS} is not approved - undo with mamori-unapproved-regions-restore"
        )
        saved = record(miner)
        assert saved_record(miner).resource == miner
        assert {key: saved[key] for key in ("region", "instanceType", "previousState", "spot")} == {
            "region": PARIS,
            "instanceType": "c5.4xlarge",
            "previousState": "running",
            "spot": False,
        }
        assert saved_record(miner).at == tags["mamori:remediated"].split(" ")[0]
        stopped.append((state, tags))

    def unchanged(result: AutomationResult) -> None:
        assert len(stop_requests) == 1
        assert [live(miner)] == stopped

    def started(result: AutomationResult) -> None:
        assert result.outputs["Restore.Region"] == PARIS
        assert "tagged mamori:exempt" in result.outputs["Restore.Message"]  # warns it will be stopped again
        state, tags = live(miner)
        assert state in ("pending", "running")
        assert "mamori:remediated" not in tags
        assert no_records()

    loop = assert_closed_loop(
        sandbox,
        RULE_ID,
        miner,
        pack={"ApprovedRegions": APPROVED},
        after_remediation=stopped_and_recorded,
        after_second_run=unchanged,
        after_restore=started,
    )

    assert loop.evaluations[1] == (
        "COMPLIANT",
        f"{PARIS}: stopped c5.4xlarge, launched {launched(PARIS, miner)}; {PARIS} is not an approved region, "
        "but the instance is stopped.",
    )


def test_dry_run_changes_nothing(sandbox: Sandbox) -> None:
    [miner] = launch(PARIS)

    result = remediate(sandbox, miner, DryRun="true")

    assert (result.status, result.outputs["Remediate.Status"]) == ("Success", "DRY_RUN")
    assert result.outputs["Remediate.Message"].startswith(f"Would stop {miner} in {PARIS} (running t3.micro")
    assert live(miner) == ("running", {})
    assert no_records()


def test_finds_the_instance_in_a_region_opted_in_to(sandbox: Sandbox) -> None:
    sandbox.opted_in_regions = ["me-south-1"]
    [bahrain] = launch("me-south-1")

    result = remediate(sandbox, bahrain)

    assert (result.outputs["Remediate.Status"], result.outputs["Remediate.Region"]) == ("REMEDIATED", "me-south-1")
    assert live(bahrain, "me-south-1")[0] == "stopped"


def test_an_instance_gone_is_nothing_to_do(sandbox: Sandbox) -> None:
    [miner] = launch(PARIS)
    terminate(PARIS, miner)

    gone = remediate(sandbox, miner)
    never = remediate(sandbox, "i-0123456789abcdef0")

    for result in (gone, never):
        assert (result.status, result.outputs["Remediate.Status"]) == ("Success", "NOT_FOUND")
        assert result.outputs["Remediate.Region"] == ""
    assert no_records()


def test_an_instance_not_found_says_which_regions_could_not_be_searched(sandbox: Sandbox) -> None:
    sandbox.deny_region("ap-south-1", "UnauthorizedOperation")

    result = remediate(sandbox, "i-0123456789abcdef0")

    assert result.outputs["Remediate.Status"] == "NOT_FOUND"
    assert result.outputs["Remediate.Message"].endswith("Could not search ap-south-1 (UnauthorizedOperation).")


def test_a_region_approved_since_is_left_alone(sandbox: Sandbox) -> None:
    [paris] = launch(PARIS)

    result = remediate(sandbox, paris, approved=f"{APPROVED},{PARIS}")

    assert (result.status, result.outputs["Remediate.Status"]) == ("Success", "NOTHING_TO_DO")
    assert live(paris) == ("running", {})
    assert no_records()


def test_an_exempt_instance_is_skipped(sandbox: Sandbox) -> None:
    [lab] = launch(PARIS, tags={"mamori:exempt": f"GPU lab until={SOON}"})

    result = remediate(sandbox, lab)

    assert (result.status, result.outputs["Remediate.Status"]) == ("Success", "SKIPPED_EXEMPT")
    assert result.outputs["Remediate.Message"] == f"Exempt by mamori:exempt: GPU lab (until {SOON})"
    assert result.outputs["Remediate.Region"] == PARIS
    assert live(lab)[0] == "running"


def test_a_one_time_spot_instance_fails_loudly_for_a_person_to_decide(sandbox: Sandbox) -> None:
    [spot] = launch(PARIS, instance_type="g5.xlarge", spot=True)
    sandbox.answer_next("ec2:StopInstances", "UnsupportedOperation")  # what EC2 answers for a one-time Spot instance

    result = remediate(sandbox, spot)

    assert result.status == "Failed"
    assert f"EC2 refused to stop {spot} in {PARIS} (running g5.xlarge (spot)" in result.failure
    assert "A one-time Spot instance (or one with an instance-store root) can only be terminated" in result.failure
    assert "mamori never terminates. A person must decide" in result.failure
    assert live(spot) == ("running", {})
    assert no_records()  # nothing was stopped: nothing for the restore to start


def test_stop_protection_fails_loudly_and_is_left_on(sandbox: Sandbox) -> None:
    [guarded] = launch(PARIS)
    sandbox.answer_next("ec2:StopInstances", "OperationNotPermitted")  # EC2's answer when DisableApiStop is on

    result = remediate(sandbox, guarded)

    assert result.status == "Failed"
    assert "stop protection (DisableApiStop) is on, and mamori does not turn it off" in result.failure
    assert live(guarded) == ("running", {})
    assert no_records()


def test_an_unexpected_stop_error_keeps_the_record(sandbox: Sandbox) -> None:
    """After a server error the stop may have happened: the record stays for the restore."""
    [miner] = launch(PARIS)
    sandbox.answer_next("ec2:StopInstances", "InternalError")

    result = remediate(sandbox, miner)

    assert result.status == "Failed"
    assert "InternalError" in result.failure
    assert record(miner)["previousState"] == "running"
    assert (restore(sandbox, miner).outputs["Restore.Status"]) == "NOTHING_TO_RESTORE"
    assert no_records()


def test_a_region_failing_during_the_search_fails_and_changes_nothing(sandbox: Sandbox) -> None:
    [miner] = launch(PARIS)
    sandbox.deny_region("sa-east-1", "InternalError")

    result = remediate(sandbox, miner)

    assert result.status == "Failed"
    assert f"Could not look for {miner} in every region (sa-east-1: InternalError" in result.failure
    assert live(miner) == ("running", {})
    assert no_records()


@pytest.mark.parametrize(
    ("parameters", "failure"),
    [
        ({"InstanceId": "i-123"}, "InstanceId value 'i-123' does not match allowedPattern"),
        ({"InstanceId": "sg-0123456789abcdef0"}, "does not match allowedPattern"),
        ({"DryRun": "maybe"}, "must be a Boolean"),
        # A starter cannot pass the regions: they are the deployed rule's.
        ({"ApprovedRegions": "us-east-1"}, "unknown ['ApprovedRegions']"),
    ],
    ids=["short-instance-id", "not-an-instance", "dry-run-not-boolean", "regions-are-the-rules"],
)
def test_bad_input_fails_clearly_and_changes_nothing(sandbox: Sandbox, parameters: dict[str, Any], failure: str) -> None:
    [miner] = launch(PARIS)
    deploy_rule(sandbox, RULE_ID, ApprovedRegions=APPROVED)

    result = run_document(sandbox, REMEDIATE, {**remediation_parameters(RULE_ID, miner), **parameters})

    assert result.status == "Failed"
    assert failure in result.failure
    assert live(miner) == ("running", {})


def test_restore_starts_nothing_mamori_did_not_stop(sandbox: Sandbox) -> None:
    [parked] = launch(PARIS)
    stop(PARIS, parked)

    result = restore(sandbox, parked)

    assert (result.status, result.outputs["Restore.Status"]) == ("Success", "NOTHING_TO_RESTORE")
    assert live(parked)[0] == "stopped"


def test_restore_dry_run_changes_nothing(sandbox: Sandbox) -> None:
    [miner] = launch(PARIS)
    assert remediate(sandbox, miner).outputs["Remediate.Status"] == "REMEDIATED"
    before = live(miner)

    result = restore(sandbox, miner, DryRun=True)

    assert (result.status, result.outputs["Restore.Status"]) == ("Success", "DRY_RUN")
    assert result.outputs["Restore.Message"].startswith(f"Would start {miner} in {PARIS}")
    assert live(miner) == before
    assert record(miner)["region"] == PARIS


def test_restore_of_an_instance_started_by_hand_only_cleans_up(sandbox: Sandbox) -> None:
    [other] = launch(PARIS)
    assert remediate(sandbox, other).outputs["Remediate.Status"] == "REMEDIATED"
    boto3.client("ec2", region_name=PARIS).start_instances(InstanceIds=[other])

    result = restore(sandbox, other)

    assert (result.status, result.outputs["Restore.Status"]) == ("Success", "NOTHING_TO_RESTORE")
    assert result.outputs["Restore.Message"].startswith(f"{other} in {PARIS} was already running. Removed the mamori:remediated")
    assert live(other) == ("running", {})
    assert no_records()


@pytest.mark.parametrize("of_instance", ["self", "i-0123456789abcdef0"], ids=["this-instance", "another-instance"])
def test_an_unsigned_record_is_refused_and_nothing_started(sandbox: Sandbox, of_instance: str) -> None:
    """A record of schema 0 (before the envelope) for an instance a person stopped: written
    before mamori signed its records, or planted to have it started. Refused."""
    [parked] = launch(PARIS)
    stop(PARIS, parked)
    legacy = {"instanceId": parked if of_instance == "self" else of_instance, "region": PARIS, "previousState": "running"}
    boto3.client("ssm").put_parameter(Name=f"/mamori/unapproved-regions/{parked}", Value=json.dumps(legacy), Type="String")

    result = restore(sandbox, parked)

    assert result.status == "Failed"
    assert "Refused" in result.failure and "no mamori signature" in result.failure
    assert live(parked)[0] == "stopped"


def test_restore_of_a_terminated_instance_removes_the_record(sandbox: Sandbox) -> None:
    [miner] = launch(PARIS)
    assert remediate(sandbox, miner).outputs["Remediate.Status"] == "REMEDIATED"
    terminate(PARIS, miner)

    result = restore(sandbox, miner)

    assert (result.status, result.outputs["Restore.Status"]) == ("Success", "NOT_FOUND")
    assert no_records()


def test_restore_of_an_exempt_instance_gives_no_warning(sandbox: Sandbox) -> None:
    [miner] = launch(PARIS)
    assert remediate(sandbox, miner).outputs["Remediate.Status"] == "REMEDIATED"
    boto3.client("ec2", region_name=PARIS).create_tags(
        Resources=[miner], Tags=[{"Key": "mamori:exempt", "Value": f"approved by the CISO until={SOON}"}]
    )

    result = restore(sandbox, miner)

    assert result.outputs["Restore.Message"] == f"Started {miner} in {PARIS}. Removed the mamori:remediated tag and the record."


def test_a_planted_record_does_not_keep_a_miner_running(sandbox: Sandbox) -> None:
    """The attacker: anyone with ssm:PutParameter plants a record (junk, or one naming another
    instance) where the remediation keeps its own. The remediation reads it (its role may
    ssm:GetParameter its records), trusts none of it, stops the instance and records its own
    over it; then it fails, loudly, because someone planted a record."""
    [miner] = launch(PARIS, instance_type="c5.4xlarge")
    planted = {"instanceId": "i-0123456789abcdef0", "region": "us-east-1", "previousState": "running"}
    boto3.client("ssm").put_parameter(Name=f"/mamori/unapproved-regions/{miner}", Value=json.dumps(planted), Type="String")

    result = remediate(sandbox, miner)

    assert result.status == "Failed"
    assert "holds no mamori signature" in result.failure and "replaced by this run's record, not merged" in result.failure
    assert live(miner)[0] == "stopped"
    assert record(miner)["region"] == PARIS


@pytest.mark.parametrize(
    ("deployed", "failure"),
    [
        ({"AssumeRoleMode": "false"}, "ApprovedRegions must match"),
        ({"AssumeRoleMode": "false", "ApprovedRegions": "us-east1"}, "ApprovedRegions must match"),
    ],
    ids=["rule-without-regions", "rule-with-malformed-regions"],
)
def test_the_regions_come_from_the_deployed_rule_or_nothing_changes(
    sandbox: Sandbox, deployed: dict[str, str], failure: str
) -> None:
    [miner] = launch(PARIS)
    sandbox.config.deploy_rule(RULE, deployed)

    result = run_document(sandbox, REMEDIATE, remediation_parameters(RULE_ID, miner))

    assert result.status == "Failed"
    assert failure in result.failure
    assert live(miner) == ("running", {})
    assert no_records()


def test_every_commercial_region_is_approved_without_cutting_any(sandbox: Sandbox) -> None:
    """Issue 11, item 2: over 400 characters of regions reach the remediation whole (a static
    value would stop at 256)."""
    every = ",".join(commercial_regions())
    assert len(every) > 256
    [paris] = launch(PARIS)

    result = remediate(sandbox, paris, approved=every)

    assert (result.status, result.outputs["Remediate.Status"]) == ("Success", "NOTHING_TO_DO")
    assert live(paris) == ("running", {})


def test_a_rule_that_is_not_deployed_is_said(sandbox: Sandbox) -> None:
    with pytest.raises(RuleNotDeployed, match="The AWS Config rule mamori-unapproved-regions is not deployed in this region"):
        rule_parameters(boto3.client("config"), RULE)


def test_a_miner_started_again_is_stopped_again_and_the_restore_undoes_the_latest_stop(sandbox: Sandbox) -> None:
    """Someone starts the stopped miner again: the next run reads mamori's own record (verified),
    records the new stop over it, and the restore starts the instance from that stop's tag."""
    [miner] = launch(PARIS)
    assert remediate(sandbox, miner).outputs["Remediate.Status"] == "REMEDIATED"
    first = saved_record(miner).at
    boto3.client("ec2", region_name=PARIS).start_instances(InstanceIds=[miner])

    again = remediate(sandbox, miner)

    assert (again.status, again.outputs["Remediate.Status"]) == ("Success", "REMEDIATED"), again.failure
    assert live(miner)[0] == "stopped" and saved_record(miner).at >= first
    assert live(miner)[1]["mamori:remediated"].startswith(saved_record(miner).at)
    assert restore(sandbox, miner).outputs["Restore.Status"] == "RESTORED"
    assert live(miner)[0] in ("pending", "running")
