"""mamori-stale-access-keys and -restore, run from template.yaml by the document runner
(moto runs no SSM Automation: harness.pack executes each aws:executeScript step's inlined
script, under the IAM actions the template grants the document's role). Every test
re-reads the live keys afterwards."""

import datetime
import json
import time
from typing import Any

import boto3
import botocore.client
import botocore.exceptions
import pytest

from harness.aws import Sandbox
from harness.config_events import periodic_event
from harness.iam_state import key_created_ago, key_ids, key_used_ago, make_user
from harness.pack import (
    AUTOMATION_ROLE_ARN,
    AutomationResult,
    deployed_rule_parameters,
    invoke_rule,
    remediation_parameters,
    run_document,
)
from mamori.records import load_record
from tests.closed_loop import assert_closed_loop
from tests.exempt import SOON

RULE = "mamori-stale-access-keys"
RULE_ID = "stale-access-keys"
REMEDIATE = "mamori-stale-access-keys"
RESTORE = "mamori-stale-access-keys-restore"
DAY = datetime.timedelta(days=1)


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    """The rule waits between polls of the credential report; tests don't."""
    monkeypatch.setattr(time, "sleep", lambda seconds: None)


def evaluate(sandbox: Sandbox, user_id: str) -> tuple[str, str]:
    invoke_rule(sandbox, RULE_ID, periodic_event(RULE, deployed_rule_parameters(RULE_ID)))
    return sandbox.config.compliance(RULE)[user_id]


def remediate(sandbox: Sandbox, user_id: str, **overrides: Any) -> Any:
    return run_document(sandbox, REMEDIATE, remediation_parameters(RULE_ID, user_id, **overrides))


def restore(sandbox: Sandbox, user_id: str, **extra: Any) -> Any:
    return run_document(sandbox, RESTORE, {"AutomationAssumeRole": AUTOMATION_ROLE_ARN, "UserId": user_id, **extra})


def statuses(name: str) -> dict[str, str]:
    keys = boto3.client("iam").list_access_keys(UserName=name)["AccessKeyMetadata"]
    return {k["AccessKeyId"]: k["Status"] for k in keys}


def tags(name: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in boto3.client("iam").list_user_tags(UserName=name)["Tags"]}


def record(user_id: str) -> Any:
    found = load_record(boto3.client("ssm"), "stale-access-keys", user_id)
    assert found is not None, f"no record of {user_id}"
    return found.changed


def no_records() -> bool:
    return not boto3.client("ssm").get_parameters_by_path(Path="/mamori", Recursive=True)["Parameters"]


def two_key_user(name: str = "alice", **kwargs: Any) -> tuple[str, str, str]:
    """(user id, stale key, fresh key): the first key unused for 120 days, the second used yesterday."""
    user_id = make_user(name, keys=2, **kwargs)
    key_created_ago(name, 0, 400 * DAY)
    key_used_ago(name, 0, 120 * DAY)
    key_created_ago(name, 1, 30 * DAY)
    key_used_ago(name, 1, 1 * DAY)
    stale, fresh = key_ids(name)
    return user_id, stale, fresh


@pytest.mark.closed_loop("stale-access-keys")
def test_closed_loop(sandbox: Sandbox) -> None:
    alice, stale, fresh = two_key_user()

    def deactivated_the_stale_key(result: AutomationResult) -> None:
        last_used = datetime.datetime.now(datetime.UTC) - 120 * DAY
        assert result.outputs["Remediate.Deactivated"] == [
            f"{stale}: key …{stale[-4:]} unused for 120 days (last used {last_used:%Y-%m-%d})"
        ]
        assert statuses("alice") == {stale: "Inactive", fresh: "Active"}  # deactivated, not deleted; the fresh key untouched
        assert [key["keyId"] for key in record(alice)["deactivated"]] == [stale]
        assert tags("alice")["mamori:remediated"].endswith(
            f"stale-access-keys deactivated {stale} - undo with mamori-stale-access-keys-restore"
        )

    def unchanged(result: AutomationResult) -> None:
        assert statuses("alice") == {stale: "Inactive", fresh: "Active"}
        assert len(record(alice)["history"]) == 1

    def reactivated(result: AutomationResult) -> None:
        assert result.outputs["Restore.Reactivated"] == [stale]
        assert statuses("alice") == {stale: "Active", fresh: "Active"}
        assert "mamori:remediated" not in tags("alice")
        assert no_records()

    loop = assert_closed_loop(
        sandbox,
        RULE_ID,
        alice,
        after_remediation=deactivated_the_stale_key,
        after_second_run=unchanged,
        after_restore=reactivated,
    )

    assert loop.evaluations[1] == ("COMPLIANT", "")


def test_never_used_key_is_deactivated_counting_from_its_creation(sandbox: Sandbox) -> None:
    old = make_user("old", keys=1)
    key_created_ago("old", 0, 90 * DAY)
    new = make_user("new", keys=1)
    key_created_ago("new", 0, 89 * DAY)

    assert remediate(sandbox, old).outputs["Remediate.Status"] == "REMEDIATED"
    assert remediate(sandbox, new).outputs["Remediate.Status"] == "NOTHING_TO_DO"

    assert list(statuses("old").values()) == ["Inactive"]
    assert list(statuses("new").values()) == ["Active"]


def test_rule_parameters_are_honoured(sandbox: Sandbox) -> None:
    user = make_user("alice", keys=1)
    key_created_ago("alice", 0, 400 * DAY)
    key_used_ago("alice", 0, 40 * DAY)

    assert remediate(sandbox, user).outputs["Remediate.Status"] == "NOTHING_TO_DO"
    assert remediate(sandbox, user, MaxKeyAgeDays="365", DryRun=True).outputs["Remediate.Deactivated"][0].endswith("400 days old")
    assert remediate(sandbox, user, MaxUnusedDays="30").outputs["Remediate.Status"] == "REMEDIATED"
    assert list(statuses("alice").values()) == ["Inactive"]


def test_dry_run_changes_nothing(sandbox: Sandbox) -> None:
    alice, stale, fresh = two_key_user()

    result = remediate(sandbox, alice, DryRun="true")

    assert (result.status, result.outputs["Remediate.Status"]) == ("Success", "DRY_RUN")
    assert result.outputs["Remediate.Deactivated"][0].startswith(f"{stale}: ")
    assert statuses("alice") == {stale: "Active", fresh: "Active"}
    assert "mamori:remediated" not in tags("alice")
    assert no_records()


def test_exempt_user_is_skipped(sandbox: Sandbox) -> None:
    alice, stale, fresh = two_key_user(tags={"mamori:exempt": f"vendor sync until={SOON}"})

    result = remediate(sandbox, alice)

    assert (result.status, result.outputs["Remediate.Status"]) == ("Success", "SKIPPED_EXEMPT")
    assert statuses("alice") == {stale: "Active", fresh: "Active"}


def test_stale_evaluation_never_changes_a_key_used_since(sandbox: Sandbox) -> None:
    alice, stale, fresh = two_key_user()
    assert evaluate(sandbox, alice)[0] == "NON_COMPLIANT"
    key_used_ago("alice", 0, datetime.timedelta(minutes=5))

    result = remediate(sandbox, alice)

    assert result.outputs["Remediate.Status"] == "NOTHING_TO_DO"
    assert statuses("alice") == {stale: "Active", fresh: "Active"}


def test_deleted_user_is_nothing_to_do(sandbox: Sandbox) -> None:
    result = remediate(sandbox, "AIDA0123456789ABCDEFG")

    assert (result.status, result.outputs["Remediate.Status"]) == ("Success", "NOT_FOUND")


@pytest.mark.parametrize(
    ("parameters", "failure"),
    [
        ({"UserId": "alice"}, "does not match allowedPattern"),
        ({"UserId": "AROA0123456789ABCDEFG"}, "does not match allowedPattern"),  # a role, not a user
        ({"DryRun": "maybe"}, "must be a Boolean"),
        ({"MaxUnusedDays": "soon"}, "MaxUnusedDays: 'soon' is not a number of days"),
        ({"MaxKeyAgeDays": "0"}, "MaxKeyAgeDays: '0' is not a number of days"),
        ({"Bogus": "1"}, "unknown ['Bogus']"),
    ],
)
def test_bad_input_fails_clearly_and_changes_nothing(sandbox: Sandbox, parameters: dict[str, Any], failure: str) -> None:
    alice, stale, fresh = two_key_user()

    result = run_document(sandbox, REMEDIATE, {**remediation_parameters(RULE_ID, alice), **parameters})

    assert result.status == "Failed"
    assert failure in result.failure
    assert statuses("alice") == {stale: "Active", fresh: "Active"}
    assert no_records()


def test_a_failed_deactivation_fails_loudly_after_recording(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    alice, stale, fresh = two_key_user()
    real = botocore.client.BaseClient._make_api_call  # type: ignore[attr-defined]

    def refuse(self: Any, operation: str, params: Any) -> Any:
        if operation == "UpdateAccessKey":
            raise botocore.exceptions.ClientError({"Error": {"Code": "LimitExceeded", "Message": "slow down"}}, operation)
        return real(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", refuse)

    result = remediate(sandbox, alice)

    assert result.status == "Failed"
    assert "LimitExceeded" in result.failure
    assert statuses("alice") == {stale: "Active", fresh: "Active"}
    assert record(alice)["deactivated"][0]["keyId"] == stale


def test_restore_dry_run_changes_nothing(sandbox: Sandbox) -> None:
    alice, stale, fresh = two_key_user()
    assert remediate(sandbox, alice).status == "Success"

    result = restore(sandbox, alice, DryRun=True)

    assert result.outputs["Restore.Status"] == "DRY_RUN"
    assert result.outputs["Restore.Reactivated"] == [stale]
    assert statuses("alice") == {stale: "Inactive", fresh: "Active"}
    assert record(alice)["deactivated"]


def test_restore_names_a_key_deleted_since(sandbox: Sandbox) -> None:
    user = make_user("alice", keys=2)
    key_created_ago("alice", 0, 200 * DAY)
    key_created_ago("alice", 1, 100 * DAY)
    first, second = key_ids("alice")
    assert remediate(sandbox, user).outputs["Remediate.Status"] == "REMEDIATED"
    boto3.client("iam").delete_access_key(UserName="alice", AccessKeyId=first)

    result = restore(sandbox, user)

    assert result.status == "Success", result.failure
    assert (result.outputs["Restore.Reactivated"], result.outputs["Restore.Missing"]) == ([second], [first])
    assert statuses("alice") == {second: "Active"}


def test_restore_when_the_keys_are_active_again_is_nothing_to_restore(sandbox: Sandbox) -> None:
    alice, stale, fresh = two_key_user()
    assert remediate(sandbox, alice).status == "Success"
    iam = boto3.client("iam")
    iam.update_access_key(UserName="alice", AccessKeyId=stale, Status="Active")  # a person put it back by hand
    iam.untag_user(UserName="alice", TagKeys=["mamori:remediated"])

    result = restore(sandbox, alice)

    assert (result.status, result.outputs["Restore.Status"]) == ("Success", "NOTHING_TO_RESTORE")
    assert result.outputs["Restore.Reactivated"] == []
    assert statuses("alice") == {stale: "Active", fresh: "Active"}
    assert no_records()


def test_restore_of_a_deleted_user_fails_and_keeps_the_record(sandbox: Sandbox) -> None:
    user = make_user("alice", keys=1)
    key_created_ago("alice", 0, 200 * DAY)
    assert remediate(sandbox, user).status == "Success"
    iam = boto3.client("iam")
    iam.delete_access_key(UserName="alice", AccessKeyId=key_ids("alice")[0])
    iam.untag_user(UserName="alice", TagKeys=["mamori:remediated"])
    iam.delete_user(UserName="alice")

    result = restore(sandbox, user)

    assert result.status == "Failed"
    assert "record is kept" in result.failure
    assert record(user)["userName"] == "alice"


@pytest.mark.parametrize("of_user", ["self", "AIDA0123456789ABCDEFG"], ids=["this-user", "another-user"])
def test_an_unsigned_record_is_refused_and_no_key_reactivated(sandbox: Sandbox, of_user: str) -> None:
    """A record of schema 0 (before the envelope) naming a key a person deactivated: written
    before mamori signed its records, or planted to have a leaked key reactivated. Refused."""
    alice, stale, fresh = two_key_user()
    boto3.client("iam").update_access_key(UserName="alice", AccessKeyId=stale, Status="Inactive")
    legacy = {
        "userId": alice if of_user == "self" else of_user,
        "userName": "alice",
        "changes": [{"at": "2026-01-02T03:04:05Z", "deactivated": [{"keyId": stale}]}],
    }
    boto3.client("ssm").put_parameter(Name=f"/mamori/stale-access-keys/{alice}", Value=json.dumps(legacy), Type="String")

    result = restore(sandbox, alice)

    assert result.status == "Failed"
    assert "Refused" in result.failure and "no mamori signature" in result.failure
    assert statuses("alice") == {stale: "Inactive", fresh: "Active"}


def test_a_key_that_goes_stale_later_joins_the_record_and_a_deleted_one_leaves_it(sandbox: Sandbox) -> None:
    """Records stay small: the second run reads mamori's record (verified), adds the key that went
    stale since, and drops the one deleted since (it cannot come back). The restore reactivates it."""
    alice, stale, fresh = two_key_user()
    assert remediate(sandbox, alice).outputs["Remediate.Status"] == "REMEDIATED"
    iam = boto3.client("iam")
    iam.delete_access_key(UserName="alice", AccessKeyId=stale)
    key_created_ago("alice", 0, 400 * DAY)  # the fresh key, now the user's only one, went unused since
    key_used_ago("alice", 0, 200 * DAY)

    again = remediate(sandbox, alice)

    assert (again.status, again.outputs["Remediate.Status"]) == ("Success", "REMEDIATED"), again.failure
    assert [key["keyId"] for key in record(alice)["deactivated"]] == [fresh]
    assert len(record(alice)["history"]) == 2
    assert restore(sandbox, alice).outputs["Restore.Reactivated"] == [fresh]
