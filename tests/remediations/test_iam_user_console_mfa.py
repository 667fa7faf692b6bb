"""mamori-iam-user-console-mfa and -restore, run from template.yaml by the document runner
(moto runs no SSM Automation: harness.pack executes each aws:executeScript step's inlined
script, under the IAM actions the template grants the document's role). Every test
re-reads the live user afterwards."""

import datetime
import time
from typing import Any

import boto3
import pytest

from harness.aws import Sandbox
from harness.config_events import periodic_event
from harness.iam_state import create_managed_policy, make_user, user_created_ago
from harness.pack import (
    AUTOMATION_ROLE_ARN,
    AutomationResult,
    deployed_rule_parameters,
    invoke_rule,
    remediation_parameters,
    run_document,
    template,
)
from tests.closed_loop import assert_closed_loop
from tests.exempt import SOON

# What the dashboard says of a user the deny policy contains: COMPLIANT, yet MFA is still missing.
CONTAINED_TEXT = "Contained: no MFA yet, access limited until the user adds MFA (mamori-deny-without-mfa attached)."

RULE = "mamori-iam-user-console-mfa"
RULE_ID = "iam-user-console-mfa"
REMEDIATE = "mamori-iam-user-console-mfa"
RESTORE = "mamori-iam-user-console-mfa-restore"
POLICY = template()["Resources"]["DenyWithoutMfaPolicy"]


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    """The rule waits between polls of the credential report; tests don't."""
    monkeypatch.setattr(time, "sleep", lambda seconds: None)


@pytest.fixture
def policy_arn(sandbox: Sandbox) -> str:
    """The pack's DenyWithoutMfaPolicy, created as the stack would create it."""
    return create_managed_policy(POLICY)


def evaluate(sandbox: Sandbox, user_id: str) -> tuple[str, str]:
    invoke_rule(sandbox, RULE_ID, periodic_event(RULE, deployed_rule_parameters(RULE_ID)))
    return sandbox.config.compliance(RULE)[user_id]


def remediate(sandbox: Sandbox, user_id: str, policy_arn: str, **overrides: Any) -> Any:
    parameters = remediation_parameters(RULE_ID, user_id, pack_values={"DenyWithoutMfaPolicy": policy_arn}, **overrides)
    return run_document(sandbox, REMEDIATE, parameters)


def restore(sandbox: Sandbox, user_id: str, **extra: Any) -> Any:
    return run_document(sandbox, RESTORE, {"AutomationAssumeRole": AUTOMATION_ROLE_ARN, "UserId": user_id, **extra})


def attached(name: str) -> list[str]:
    return [p["PolicyArn"] for p in boto3.client("iam").list_attached_user_policies(UserName=name)["AttachedPolicies"]]


def tags(name: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in boto3.client("iam").list_user_tags(UserName=name)["Tags"]}


def console_user(name: str = "alice", **kwargs: Any) -> str:
    user_id = make_user(name, password=True, **kwargs)
    user_created_ago(name, datetime.timedelta(days=3))
    return user_id


@pytest.mark.closed_loop("iam-user-console-mfa")
def test_closed_loop(sandbox: Sandbox, policy_arn: str) -> None:
    alice = console_user()

    def attached_and_tagged(result: AutomationResult) -> None:
        assert result.outputs["Remediate.UserName"] == "alice"
        assert attached("alice") == [policy_arn]
        assert tags("alice")["mamori:remediated"].endswith(
            "iam-user-console-mfa attached mamori-deny-without-mfa-us-east-1 - undo with mamori-iam-user-console-mfa-restore"
        )

    def unchanged(result: AutomationResult) -> None:
        assert attached("alice") == [policy_arn]

    def detached(result: AutomationResult) -> None:
        assert result.outputs["Restore.Detached"] == [policy_arn]
        assert attached("alice") == []
        assert "mamori:remediated" not in tags("alice")

    loop = assert_closed_loop(
        sandbox,
        RULE_ID,
        alice,
        pack={"DenyWithoutMfaPolicy": policy_arn},
        after_remediation=attached_and_tagged,
        after_second_run=unchanged,
        after_restore=detached,
    )

    assert loop.evaluations[1] == ("COMPLIANT", CONTAINED_TEXT)


def test_the_policy_blocks_all_but_mfa_setup_without_mfa() -> None:
    """AWS's documented BlockMostAccessUnlessSignedInWithMFA shape: BoolIfExists, so requests
    without the MFA key (long-term access keys) are denied too; allows only for oneself."""
    statements = {s["Sid"]: s for s in POLICY["Properties"]["PolicyDocument"]["Statement"]}
    deny = statements["DenyAllExceptListedIfNoMFA"]
    assert deny["Effect"] == "Deny" and deny["Resource"] == "*" and "Action" not in deny
    assert deny["Condition"] == {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}
    assert {"iam:EnableMFADevice", "iam:CreateVirtualMFADevice", "iam:ChangePassword", "sts:GetSessionToken"} <= set(
        deny["NotAction"]
    )
    own = statements["AllowManageOwnPasswordAndMFA"]
    assert all(r["Fn::Sub"].endswith("${!aws:username}") for r in own["Resource"])
    allowed = {
        a
        for s in statements.values()
        if s["Effect"] == "Allow"
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert allowed <= set(deny["NotAction"]) | {"iam:DeactivateMFADevice"}


def test_dry_run_changes_nothing(sandbox: Sandbox, policy_arn: str) -> None:
    alice = console_user()

    result = remediate(sandbox, alice, policy_arn, DryRun="true")

    assert (result.status, result.outputs["Remediate.Status"]) == ("Success", "DRY_RUN")
    assert attached("alice") == []
    assert "mamori:remediated" not in tags("alice")


def test_exempt_user_is_skipped(sandbox: Sandbox, policy_arn: str) -> None:
    alice = console_user(tags={"mamori:exempt": f"break-glass until={SOON}"})

    result = remediate(sandbox, alice, policy_arn)

    assert (result.status, result.outputs["Remediate.Status"]) == ("Success", "SKIPPED_EXEMPT")
    assert "break-glass" in result.outputs["Remediate.Message"]
    assert attached("alice") == []


def test_stale_evaluation_never_changes_a_user_who_set_up_mfa(sandbox: Sandbox, policy_arn: str) -> None:
    alice = console_user()
    assert evaluate(sandbox, alice)[0] == "NON_COMPLIANT"
    iam = boto3.client("iam")
    serial = iam.create_virtual_mfa_device(VirtualMFADeviceName="alice")["VirtualMFADevice"]["SerialNumber"]
    iam.enable_mfa_device(UserName="alice", SerialNumber=serial, AuthenticationCode1="111111", AuthenticationCode2="222222")

    result = remediate(sandbox, alice, policy_arn)

    assert (result.status, result.outputs["Remediate.Status"]) == ("Success", "NOTHING_TO_DO")
    assert attached("alice") == []


def test_user_in_grace_period_or_without_password_is_left_alone(sandbox: Sandbox, policy_arn: str) -> None:
    new = make_user("new", password=True)
    robot = make_user("robot", keys=1)

    in_grace = remediate(sandbox, new, policy_arn)
    no_password = remediate(sandbox, robot, policy_arn)

    assert in_grace.outputs["Remediate.Status"] == "NOTHING_TO_DO"
    assert "grace period ends" in in_grace.outputs["Remediate.Message"]
    assert no_password.outputs["Remediate.Status"] == "NOTHING_TO_DO"
    assert attached("new") == attached("robot") == []


def test_deleted_user_is_nothing_to_do(sandbox: Sandbox, policy_arn: str) -> None:
    result = remediate(sandbox, "AIDA0123456789ABCDEFG", policy_arn)

    assert (result.status, result.outputs["Remediate.Status"]) == ("Success", "NOT_FOUND")
    assert restore(sandbox, "AIDA0123456789ABCDEFG").outputs["Restore.Status"] == "NOT_FOUND"


@pytest.mark.parametrize(
    ("parameters", "failure"),
    [
        ({"UserId": "alice"}, "does not match allowedPattern"),
        ({"PolicyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}, "unknown ['PolicyArn']"),
        ({"PolicyArn": "arn:aws:iam::123456789012:policy/mamori/mamori-deny-without-mfa-evil"}, "unknown ['PolicyArn']"),
        ({"DryRun": "maybe"}, "must be a Boolean"),
        ({"GracePeriodHours": "soon"}, "GracePeriodHours: 'soon' is not a whole number of hours"),
        ({"Bogus": "1"}, "unknown ['Bogus']"),
    ],
)
def test_bad_input_fails_clearly_and_changes_nothing(
    sandbox: Sandbox, policy_arn: str, parameters: dict[str, Any], failure: str
) -> None:
    alice = console_user()
    base = remediation_parameters(RULE_ID, alice, pack_values={"DenyWithoutMfaPolicy": policy_arn})

    result = run_document(sandbox, REMEDIATE, {**base, **parameters})

    assert result.status == "Failed"
    assert failure in result.failure
    assert attached("alice") == []
    assert "mamori:remediated" not in tags("alice")


def test_restore_dry_run_changes_nothing(sandbox: Sandbox, policy_arn: str) -> None:
    alice = console_user()
    assert remediate(sandbox, alice, policy_arn).status == "Success"

    result = restore(sandbox, alice, DryRun=True)

    assert result.outputs["Restore.Status"] == "DRY_RUN"
    assert result.outputs["Restore.Detached"] == [policy_arn]
    assert attached("alice") == [policy_arn]
    assert "mamori:remediated" in tags("alice")


def test_restore_leaves_other_policies_and_warns_unless_exempt(sandbox: Sandbox, policy_arn: str) -> None:
    alice = console_user()
    iam = boto3.client("iam")
    other = iam.create_policy(
        PolicyName="team-read",
        PolicyDocument='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}',
    )["Policy"]["Arn"]
    iam.attach_user_policy(UserName="alice", PolicyArn=other)
    assert remediate(sandbox, alice, policy_arn).status == "Success"

    result = restore(sandbox, alice)

    assert attached("alice") == [other]
    assert "not tagged mamori:exempt" in result.outputs["Restore.Message"]
