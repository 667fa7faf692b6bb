"""mamori-root-mfa (notify + OpsItem), run from template.yaml by the document runner under
the IAM actions the template grants its role. OpsItems are read back from the OpsCenter
stand-in (moto has none: tests/root_helpers.py), notifications through an SQS subscription
to the topic. Nothing in IAM may change: only root can assign root's MFA."""

from collections.abc import Callable
from typing import Any

import pytest

from harness.aws import ACCOUNT, RootAccessKey, RootCredentials, Sandbox
from harness.config_events import periodic_event
from harness.pack import (
    AUTOMATION_ROLE_ARN,
    AutomationResult,
    deployed_rule_parameters,
    invoke_rule,
    remediation_parameters,
    run_document,
)
from mamori.status import NOTHING_TO_DO
from tests.closed_loop import assert_closed_loop
from tests.root_helpers import OpsCenter, assign_root_virtual_mfa, subscribe_inbox

RULE = "mamori-root-mfa"
DOCUMENT = "mamori-root-mfa"
Inbox = tuple[str, Callable[[], list[dict[str, Any]]]]


@pytest.fixture
def ops(sandbox: Sandbox) -> OpsCenter:
    return OpsCenter()


@pytest.fixture
def inbox(sandbox: Sandbox) -> Inbox:
    return subscribe_inbox()


def evaluate(sandbox: Sandbox, **parameters: str) -> str:
    invoke_rule(sandbox, "root-mfa", periodic_event(RULE, deployed_rule_parameters("root-mfa", **parameters)))
    return sandbox.config.compliance(RULE)[ACCOUNT][0]


def remediate(sandbox: Sandbox, topic: str, **overrides: Any) -> Any:
    parameters = remediation_parameters("root-mfa", ACCOUNT, pack_values={"NotificationTopic": topic}, **overrides)
    return run_document(sandbox, DOCUMENT, parameters)


@pytest.mark.closed_loop("root-mfa")
def test_closed_loop(sandbox: Sandbox, ops: OpsCenter, inbox: Inbox) -> None:
    """Notify + OpsItem, still NON_COMPLIANT until a person acts, nothing new a second time; then
    the person assigns MFA -> COMPLIANT -> remediate again (nothing to do). No restore
    document: nothing was changed."""
    topic, received = inbox
    root = sandbox.root = RootCredentials(password=True, mfa_active=False, access_keys=[RootAccessKey()])

    def notified(result: AutomationResult) -> None:
        [item] = ops.open_items()
        assert result.outputs["Remediate.OpsItemId"] == item["OpsItemId"]
        assert item["Title"] == f"Root user of {ACCOUNT} has no MFA: assign MFA"
        assert "root has a password and an access key and no MFA device" in item["Description"]
        assert "Assign MFA device" in item["Description"] and "IAMDeleteRootUserCredentials" in item["Description"]
        [message] = received()
        assert message["Subject"] == f"[mamori] ACTION NEEDED: Root user of {ACCOUNT} has no MFA: assign MFA"
        assert root.mfa_active is False

    def nothing_new(result: AutomationResult) -> None:
        assert result.outputs["Remediate.OpsItemId"] == ops.open_items()[0]["OpsItemId"]
        assert len(ops.items) == 1 and received() == []

    assert_closed_loop(
        sandbox, "root-mfa", ACCOUNT, pack={"NotificationTopic": topic}, after_remediation=notified, after_second_run=nothing_new
    )

    root.mfa_active = True  # the person signed in as root and assigned a security key
    assert evaluate(sandbox) == "COMPLIANT"

    third = remediate(sandbox, topic)

    assert (third.status, third.outputs["Remediate.Status"]) == ("Success", NOTHING_TO_DO)
    assert third.outputs["Remediate.Message"] == f"Root has MFA. Nothing to do for {ACCOUNT}."
    assert len(ops.items) == 1 and received() == []


def test_virtual_mfa_with_hardware_required(sandbox: Sandbox, ops: OpsCenter, inbox: Inbox) -> None:
    topic, received = inbox
    sandbox.root = RootCredentials(password=True, mfa_active=True)
    serial = assign_root_virtual_mfa()
    assert evaluate(sandbox, RequireHardwareMfa="true") == "NON_COMPLIANT"

    relaxed = remediate(sandbox, topic)  # the pack's default: RequireHardwareMfa=false
    strict = remediate(sandbox, topic, RequireHardwareMfa="true")

    assert relaxed.outputs["Remediate.Status"] == "NOTHING_TO_DO"
    assert strict.outputs["Remediate.Status"] == "NOTIFIED", strict.failure
    [item] = ops.open_items()
    assert item["Title"] == f"Root user of {ACCOUNT} has virtual MFA only: assign hardware MFA"
    assert f"virtual MFA device assigned to root: {serial}" in item["Description"]
    assert "Passkey or security key" in item["Description"]
    assert len(received()) == 1


def test_root_without_credentials_is_nothing_to_do(sandbox: Sandbox, ops: OpsCenter, inbox: Inbox) -> None:
    topic, received = inbox
    sandbox.root = RootCredentials(password=False, mfa_active=False, access_keys=[])
    assert evaluate(sandbox) == "NOT_APPLICABLE"

    result = remediate(sandbox, topic, RequireHardwareMfa="true")

    assert (result.status, result.outputs["Remediate.Status"]) == ("Success", "NOTHING_TO_DO")
    assert result.outputs["Remediate.Message"].startswith("Root has no password and no access key")
    assert ops.items == {} and received() == []


def test_dry_run_changes_nothing(sandbox: Sandbox, ops: OpsCenter, inbox: Inbox) -> None:
    topic, received = inbox
    sandbox.root = RootCredentials(password=True, mfa_active=False)

    result = remediate(sandbox, topic, DryRun=True)

    assert (result.status, result.outputs["Remediate.Status"]) == ("Success", "DRY_RUN")
    assert f"Root user of {ACCOUNT} has no MFA" in result.outputs["Remediate.Message"]
    assert ops.items == {} and received() == []


@pytest.mark.parametrize(
    ("parameters", "failure"),
    [
        ({"AccountId": ACCOUNT, "RequireHardwareMfa": "yes"}, "does not match allowedPattern"),
        ({"AccountId": "arn:aws:iam::123456789012:root"}, "does not match allowedPattern"),
        ({"AccountId": ACCOUNT, "TopicArn": ["a", "b"]}, "must be a String"),
        ({"AccountId": ACCOUNT, "DryRun": "maybe"}, "must be a Boolean"),
    ],
)
def test_bad_input_fails_clearly_and_changes_nothing(
    sandbox: Sandbox, ops: OpsCenter, inbox: Inbox, parameters: dict[str, Any], failure: str
) -> None:
    topic, received = inbox
    sandbox.root = RootCredentials(password=True, mfa_active=False)

    result = run_document(sandbox, DOCUMENT, {"AutomationAssumeRole": AUTOMATION_ROLE_ARN, "TopicArn": topic, **parameters})

    assert result.status == "Failed"
    assert failure in result.failure
    assert ops.items == {} and received() == []


def test_script_refuses_a_bad_require_hardware_value_itself(sandbox: Sandbox, ops: OpsCenter) -> None:
    from mamori.catalog import load_unit_module

    handler = load_unit_module("remediation", "root-mfa", "remediate.py").handler

    with pytest.raises(ValueError, match=r"RequireHardwareMfa must be true or false, got 'sure'"):
        handler({"AccountId": ACCOUNT, "TopicArn": f"arn:aws:sns:us-east-1:{ACCOUNT}:t", "RequireHardwareMfa": "sure"}, None)
