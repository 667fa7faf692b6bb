"""mamori-guardduty-enabled and -restore, run from template.yaml by the document runner
(moto runs no SSM Automation: harness.pack executes each aws:executeScript step's inlined
script, under the IAM actions the template grants the document's role). GuardDuty detectors
live in moto region by region; the sandbox stands in for the enabled regions, refused
regions (`deny_region`) and errors that outlast botocore's retries (`answer_next`). Every
test re-reads the live detectors afterwards."""

import json
from typing import Any

import boto3
import pytest

from harness.aws import ACCOUNT, DEFAULT_REGIONS, Sandbox
from harness.pack import (
    AUTOMATION_ROLE_ARN,
    AutomationResult,
    remediation_parameters,
    run_document,
)
from mamori.records import load_record
from tests.closed_loop import assert_closed_loop
from tests.conftest import write_mamori_record
from tests.rules.test_guardduty_enabled import RULE_ID, detectors, guardduty, make_detector

REMEDIATE = "mamori-guardduty-enabled"
RESTORE = "mamori-guardduty-enabled-restore"
RECORD = f"/mamori/guardduty-enabled/{ACCOUNT}"
TAG = "mamori:remediated"


def remediate(sandbox: Sandbox, **overrides: Any) -> Any:
    return run_document(sandbox, REMEDIATE, remediation_parameters(RULE_ID, ACCOUNT, **overrides))


def restore(sandbox: Sandbox, **extra: Any) -> Any:
    return run_document(sandbox, RESTORE, {"AutomationAssumeRole": AUTOMATION_ROLE_ARN, "AccountId": ACCOUNT, **extra})


def record() -> Any:
    found = load_record(boto3.client("ssm"), RULE_ID, ACCOUNT)
    assert found is not None, f"no record at {RECORD}"
    return found.changed


def no_records() -> bool:
    return not boto3.client("ssm").get_parameters_by_path(Path="/mamori", Recursive=True)["Parameters"]


def states() -> dict[str, list[str]]:
    """{region: [status of each detector]} of every default region, read live."""
    return {region: sorted(d["Status"] for d in detectors(region).values()) for region in DEFAULT_REGIONS}


@pytest.mark.closed_loop("guardduty-enabled")
def test_closed_loop(sandbox: Sandbox) -> None:
    """The detector that was on before survives the restore; the one that was suspended before
    is suspended again."""
    mine = make_detector("us-east-1")
    suspended = make_detector("eu-west-3", enabled=False)
    created: dict[str, str] = {}

    def on_everywhere(result: AutomationResult) -> None:
        created.update(item.split(": ") for item in result.outputs["Remediate.Created"])
        assert sorted(created) == sorted(set(DEFAULT_REGIONS) - {"us-east-1", "eu-west-3"})
        assert result.outputs["Remediate.Enabled"] == [f"eu-west-3: {suspended}"]
        assert result.outputs["Remediate.Refused"] == []
        assert states() == {region: ["ENABLED"] for region in DEFAULT_REGIONS}
        new = detectors("ap-south-1")[created["ap-south-1"]]
        assert new["FindingPublishingFrequency"] == "FIFTEEN_MINUTES"
        assert new["Tags"][TAG].endswith(
            " mamori-guardduty-enabled created this detector - undo with mamori-guardduty-enabled-restore"
        )
        assert TAG not in detectors("us-east-1")[mine].get("Tags", {})
        assert (record()["created"], record()["enabled"]) == (created, {"eu-west-3": suspended})
        assert result.outputs["Remediate.Message"].startswith(
            "Turned GuardDuty on in 16 region(s): created a detector in ap-northeast-1, "
        )

    def unchanged(result: AutomationResult) -> None:
        assert (result.outputs["Remediate.Created"], result.outputs["Remediate.Enabled"]) == ([], [])
        assert record()["created"] == created

    def as_before(result: AutomationResult) -> None:
        assert sorted(result.outputs["Restore.Deleted"]) == sorted(f"{r}: {i}" for r, i in created.items())
        assert result.outputs["Restore.Suspended"] == [f"eu-west-3: {suspended}"]
        message = result.outputs["Restore.Message"]
        assert message.startswith("Deleted 15 detector(s) mamori created and suspended 1 it enabled.")
        assert "Deleting a detector discards its findings" in message
        assert "automatic remediation turns it back on" in message and "AutoRemediation is false" in message
        assert states() == {
            region: {"us-east-1": ["ENABLED"], "eu-west-3": ["DISABLED"]}.get(region, []) for region in DEFAULT_REGIONS
        }
        assert list(detectors("us-east-1")) == [mine]
        assert no_records()

    loop = assert_closed_loop(
        sandbox, RULE_ID, ACCOUNT, after_remediation=on_everywhere, after_second_run=unchanged, after_restore=as_before
    )

    assert loop.evaluations[1] == ("COMPLIANT", "GuardDuty is on in all 17 enabled regions.")
    assert loop.evaluations[2][1].startswith("GuardDuty is off in 16 of 17 enabled regions: ")


def test_dry_run_changes_nothing(sandbox: Sandbox) -> None:
    suspended = make_detector("eu-west-3", enabled=False)

    result = remediate(sandbox, DryRun="true")

    assert (result.status, result.outputs["Remediate.Status"]) == ("Success", "DRY_RUN")
    assert len(result.outputs["Remediate.Created"]) == 16
    assert result.outputs["Remediate.Created"][0] == "ap-northeast-1: (dry run)"
    assert result.outputs["Remediate.Enabled"] == [f"eu-west-3: {suspended}"]
    assert result.outputs["Remediate.Message"].startswith("Would create a detector in ap-northeast-1, ")
    assert states() == {region: ["DISABLED"] if region == "eu-west-3" else [] for region in DEFAULT_REGIONS}
    assert no_records()


def test_refused_regions_are_reported_and_left_alone(sandbox: Sandbox) -> None:
    sandbox.deny_region("sa-east-1", "AccessDeniedException")

    result = remediate(sandbox)

    assert result.status == "Success", result.failure
    assert result.outputs["Remediate.Refused"] == ["sa-east-1 (AccessDeniedException)"]
    assert result.outputs["Remediate.Message"].endswith(" Not checked (refused): sa-east-1 (AccessDeniedException).")
    assert "sa-east-1" not in record()["created"]
    sandbox.region_faults.clear()
    assert states()["sa-east-1"] == []
    assert sum(1 for found in states().values() if found == ["ENABLED"]) == 16


def test_a_failed_create_fails_loudly_after_recording_what_was_done(sandbox: Sandbox) -> None:
    """One region's CreateDetector fails (standing in for an error that outlasted the
    retries): the others are turned on, the record names their detectors, the automation
    fails naming the region; Config's next attempt finishes the job."""
    sandbox.answer_next("guardduty:CreateDetector", "InternalServerErrorException")

    result = remediate(sandbox)

    assert result.status == "Failed"
    assert "GuardDuty is still off in 1 region(s): " in result.failure
    assert "InternalServerErrorException" in result.failure
    failed = next(iter(record()["failed"]))
    assert "InternalServerErrorException" in record()["failed"][failed]
    on = {region for region, found in states().items() if found == ["ENABLED"]}
    assert on == set(DEFAULT_REGIONS) - {failed}
    assert {region: bool(i) for region, i in record()["created"].items()} == {
        region: region != failed for region in DEFAULT_REGIONS
    }

    retried = remediate(sandbox)

    assert retried.status == "Success", retried.failure
    assert [item.split(": ")[0] for item in retried.outputs["Remediate.Created"]] == [failed]
    assert all(record()["created"].values()) and "failed" not in record()
    assert all(found == ["ENABLED"] for found in states().values())


def test_a_detector_managed_elsewhere_fails_with_a_hint(sandbox: Sandbox) -> None:
    """A suspended detector the account may not enable (as when a GuardDuty delegated
    administrator manages it) leaves the region off: the automation fails and says where to
    turn it on; nothing is recorded as enabled by mamori."""
    for region in DEFAULT_REGIONS:
        make_detector(region, enabled=region != "eu-west-1")
    sandbox.answer_next("guardduty:UpdateDetector", "BadRequestException")

    result = remediate(sandbox)

    assert result.status == "Failed"
    assert "GuardDuty is still off in 1 region(s): eu-west-1: BadRequestException" in result.failure
    assert "delegated administrator" in result.failure
    assert record()["enabled"] == {}
    assert states()["eu-west-1"] == ["DISABLED"]


@pytest.mark.parametrize(
    ("parameters", "failure"),
    [
        ({"AccountId": "12345678901"}, "does not match allowedPattern"),
        ({"AccountId": "arn:aws:iam::123456789012:root"}, "does not match allowedPattern"),
        ({"DryRun": "maybe"}, "must be a Boolean"),
    ],
)
def test_bad_input_fails_clearly_and_changes_nothing(sandbox: Sandbox, parameters: dict[str, Any], failure: str) -> None:
    result = run_document(sandbox, REMEDIATE, {**remediation_parameters(RULE_ID, ACCOUNT), **parameters})

    assert result.status == "Failed"
    assert failure in result.failure
    assert all(found == [] for found in states().values())
    assert no_records()


def test_restore_finds_a_detector_created_before_its_id_was_recorded(sandbox: Sandbox) -> None:
    """A run that stopped between CreateDetector and the record's second write left `null`
    for the region: restore deletes the detector carrying mamori's tag there, and nothing else."""
    ours = make_detector("eu-west-1", Tags={TAG: "2030-01-01T00:00:00Z created by mamori-guardduty-enabled"})
    theirs = make_detector("eu-west-2")
    write_mamori_record(RULE_ID, ACCOUNT, {"created": {"eu-west-1": None, "eu-west-2": None}, "enabled": {}})

    result = restore(sandbox)

    assert result.status == "Success", result.failure
    assert result.outputs["Restore.Deleted"] == [f"eu-west-1: {ours}"]
    assert (list(detectors("eu-west-1")), list(detectors("eu-west-2"))) == ([], [theirs])


def test_restore_leaves_a_detector_suspended_since_alone(sandbox: Sandbox) -> None:
    suspended = make_detector("eu-west-3", enabled=False)
    assert remediate(sandbox).status == "Success"
    guardduty("eu-west-3").update_detector(DetectorId=suspended, Enable=False)

    result = restore(sandbox)

    assert result.outputs["Restore.Suspended"] == []
    assert states()["eu-west-3"] == ["DISABLED"]


def test_restore_dry_run_changes_nothing(sandbox: Sandbox) -> None:
    assert remediate(sandbox).status == "Success"

    result = restore(sandbox, DryRun=True)

    assert (result.status, result.outputs["Restore.Status"]) == ("Success", "DRY_RUN")
    assert len(result.outputs["Restore.Deleted"]) == 17
    assert result.outputs["Restore.Message"].startswith("Would delete 17 detector(s) mamori created and suspend 0")
    assert all(found == ["ENABLED"] for found in states().values())
    assert len(record()["created"]) == 17


def test_restore_keeps_what_a_refused_region_could_not_undo(sandbox: Sandbox) -> None:
    assert remediate(sandbox).status == "Success"
    created = record()["created"]
    sandbox.deny_region("sa-east-1", "AccessDeniedException")

    partial = restore(sandbox)

    assert partial.status == "Failed"  # fails loudly: what is left is kept for another run
    assert f"Restored only part of {ACCOUNT}; what is left is kept at {RECORD}" in partial.failure
    assert "Not restored: sa-east-1: AccessDeniedException (refused)." in partial.failure
    assert record()["created"] == {"sa-east-1": created["sa-east-1"]}
    sandbox.region_faults.clear()
    assert [region for region, found in states().items() if found] == ["sa-east-1"]

    rest = restore(sandbox)

    assert (rest.status, rest.outputs["Restore.Deleted"]) == ("Success", [f"sa-east-1: {created['sa-east-1']}"])
    assert no_records()


@pytest.mark.parametrize("of_account", [ACCOUNT, "210987654321"], ids=["this-account", "another-account"])
def test_an_unsigned_record_is_refused_and_no_detector_touched(sandbox: Sandbox, of_account: str) -> None:
    """A record of schema 0 (before the envelope) naming a person's detectors as mamori's:
    written before mamori signed its records, or planted to have them deleted. Refused."""
    theirs = make_detector("eu-west-1")
    enabled = make_detector("eu-west-3")
    legacy = {"accountId": of_account, "created": {"eu-west-1": theirs}, "enabled": {"eu-west-3": enabled}}
    boto3.client("ssm").put_parameter(Name=RECORD, Type="String", Value=json.dumps(legacy))

    result = restore(sandbox)

    assert result.status == "Failed"
    assert "Refused" in result.failure and "no mamori signature" in result.failure
    assert (list(detectors("eu-west-1")), states()["eu-west-3"]) == ([theirs], ["ENABLED"])
