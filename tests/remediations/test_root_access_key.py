"""mamori-root-access-key (notify + OpsItem), run from template.yaml by the document runner
under the IAM actions the template grants its role. OpsItems are read back from the
OpsCenter stand-in (moto has none: tests/root_helpers.py), notifications through an SQS
subscription to the topic. Nothing in IAM may change: only root can delete a root key."""

import datetime
import time
from collections.abc import Callable
from typing import Any

import pytest

from harness.aws import ACCOUNT, RootAccessKey, RootCredentials, Sandbox
from harness.config_events import periodic_event
from harness.pack import (
    AUTOMATION_ROLE_ARN,
    AutomationResult,
    automation_principal,
    deployed_rule_parameters,
    invoke_rule,
    remediation_parameters,
    run_document,
)
from mamori.status import NOTHING_TO_DO
from tests.closed_loop import assert_closed_loop
from tests.root_helpers import OpsCenter, subscribe_inbox

RULE = "mamori-root-access-key"
DOCUMENT = "mamori-root-access-key"
USED = datetime.datetime(2026, 1, 1, 8, 30, tzinfo=datetime.UTC)
Inbox = tuple[str, Callable[[], list[dict[str, Any]]]]


@pytest.fixture
def ops(sandbox: Sandbox) -> OpsCenter:
    return OpsCenter()


@pytest.fixture
def inbox(sandbox: Sandbox) -> Inbox:
    return subscribe_inbox()


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch: Any) -> None:
    monkeypatch.setattr(time, "sleep", lambda seconds: None)


def leaked_root() -> RootCredentials:
    return RootCredentials(
        password=True,
        mfa_active=False,
        access_keys=[RootAccessKey(last_used=USED, last_used_region="us-east-1", last_used_service="ec2")],
    )


def evaluate(sandbox: Sandbox) -> str:
    invoke_rule(sandbox, "root-access-key", periodic_event(RULE, deployed_rule_parameters("root-access-key")))
    return sandbox.config.compliance(RULE)[ACCOUNT][0]


def remediate(sandbox: Sandbox, topic: str, **overrides: Any) -> Any:
    parameters = remediation_parameters("root-access-key", ACCOUNT, pack_values={"NotificationTopic": topic}, **overrides)
    return run_document(sandbox, DOCUMENT, parameters)


@pytest.mark.closed_loop("root-access-key")
def test_closed_loop(sandbox: Sandbox, ops: OpsCenter, inbox: Inbox) -> None:
    """Notify + OpsItem, still NON_COMPLIANT until a person acts, nothing new a second time; then
    the person deletes the key -> COMPLIANT -> remediate again (nothing to do). No restore
    document: nothing was changed."""
    topic, received = inbox
    root = sandbox.root = leaked_root()

    def notified(result: AutomationResult) -> None:
        [item] = ops.open_items()
        assert result.outputs["Remediate.OpsItemId"] == item["OpsItemId"]
        assert item["Title"] == f"Root user of {ACCOUNT} has an access key: delete it"
        assert (item["Source"], item["Category"], item["Severity"]) == ("mamori", "Security", "1")
        assert "Security credentials" in item["Description"] and "aws sts assume-root" in item["Description"]
        assert "last used 2026-01-01 in us-east-1 (ec2)" in item["Description"]
        assert result.outputs["Remediate.Keys"] == [item["OperationalData"]["mamori:root-access-keys"]["Value"]]
        assert result.outputs["Remediate.Keys"][0].startswith("access key 1: active, created 2019-03-01")
        [message] = received()
        assert message["Subject"] == f"[mamori] ACTION NEEDED: Root user of {ACCOUNT} has an access key: delete it"
        assert (
            f"\n\nOpsItem: {item['OpsItemId']}\n\n--\nIs this from mamori? Only if it came through the topic {topic}:"
            in (message["Message"])
        )
        assert root.access_keys, "the remediation must not (and cannot) delete a root key"

    def nothing_new(result: AutomationResult) -> None:
        assert result.outputs["Remediate.OpsItemId"] == ops.open_items()[0]["OpsItemId"]
        assert len(ops.items) == 1
        assert received() == []

    assert_closed_loop(
        sandbox,
        "root-access-key",
        ACCOUNT,
        pack={"NotificationTopic": topic},
        after_remediation=notified,
        after_second_run=nothing_new,
    )

    root.access_keys.clear()  # the person signed in as root and deleted the key
    assert evaluate(sandbox) == "COMPLIANT"

    third = remediate(sandbox, topic)

    assert (third.status, third.outputs["Remediate.Status"]) == ("Success", NOTHING_TO_DO)
    assert third.outputs["Remediate.OpsItemId"] == ""
    assert len(ops.items) == 1
    assert received() == []


def test_a_key_that_comes_back_after_the_item_was_resolved_opens_a_new_one(
    sandbox: Sandbox, ops: OpsCenter, inbox: Inbox
) -> None:
    topic, received = inbox
    sandbox.root = leaked_root()
    first = remediate(sandbox, topic).outputs["Remediate.OpsItemId"]
    ops.resolve(first)
    received()

    again = remediate(sandbox, topic)

    assert again.outputs["Remediate.Status"] == "NOTIFIED"
    assert again.outputs["Remediate.OpsItemId"] != first
    assert [item["OpsItemId"] for item in ops.open_items()] == [again.outputs["Remediate.OpsItemId"]]
    assert len(received()) == 1


def test_dry_run_changes_nothing(sandbox: Sandbox, ops: OpsCenter, inbox: Inbox) -> None:
    topic, received = inbox
    sandbox.root = leaked_root()

    result = remediate(sandbox, topic, DryRun="true")

    assert (result.status, result.outputs["Remediate.Status"]) == ("Success", "DRY_RUN")
    assert result.outputs["Remediate.Message"].endswith("Changed nothing.")
    assert result.outputs["Remediate.Keys"][0].startswith("access key 1: active")
    assert ops.items == {}
    assert received() == []


def test_race_lost_to_another_run_is_already_open_not_a_second_item(sandbox: Sandbox, ops: OpsCenter, inbox: Inbox) -> None:
    """Another run opened the item after this one looked: Systems Manager's /aws/dedup
    refuses the duplicate, and this run neither opens nor notifies."""
    topic, received = inbox
    sandbox.root = leaked_root()
    opened = remediate(sandbox, topic).outputs["Remediate.OpsItemId"]
    received()
    sandbox.answer_next("ssm:DescribeOpsItems", {"OpsItemSummaries": []})  # it looked before the other run created it

    result = remediate(sandbox, topic)

    assert (result.outputs["Remediate.Status"], result.outputs["Remediate.OpsItemId"]) == ("NOTHING_TO_DO", opened)
    assert "deduplicated" in result.outputs["Remediate.Message"]
    assert len(ops.items) == 1
    assert received() == []


def test_a_failed_notification_fails_the_automation_loudly(sandbox: Sandbox, ops: OpsCenter, inbox: Inbox) -> None:
    topic, _ = inbox
    sandbox.root = leaked_root()
    sandbox.answer_next("sns:Publish", "KMS.KMSAccessDeniedException")

    result = remediate(sandbox, topic)

    assert result.status == "Failed"
    [item] = ops.open_items()
    assert f"Opened OpsItem {item['OpsItemId']}" in result.failure and "KMS.KMSAccessDeniedException" in result.failure
    assert item["OperationalData"]["mamori:notified"]["Value"] == "false"  # recorded as not delivered


def test_a_notification_that_failed_is_sent_again_until_delivered(sandbox: Sandbox, ops: OpsCenter, inbox: Inbox) -> None:
    """Issue 11, item 6: the re-run said "already open, notified nothing new" and the message
    was never delivered."""
    topic, received = inbox
    sandbox.root = leaked_root()
    sandbox.answer_next("sns:Publish", "Throttling", "Throttling")
    first = remediate(sandbox, topic)
    second = remediate(sandbox, topic)  # still throttled: fails again, the OpsItem is not opened twice
    assert (first.status, second.status) == ("Failed", "Failed")
    assert "The next run sends the notification again" in second.failure
    [item] = ops.open_items()
    assert received() == []

    third = remediate(sandbox, topic)

    assert (third.status, third.outputs["Remediate.Status"]) == ("Success", "NOTIFIED")
    assert third.outputs["Remediate.OpsItemId"] == item["OpsItemId"]
    assert "which it had not been" in third.outputs["Remediate.Message"]
    [message] = received()
    assert item["OpsItemId"] in message["Message"]
    assert item["OperationalData"]["mamori:notified"]["Value"] == "true"
    assert len(ops.items) == 1
    # Delivered: the next run tells nobody again.
    fourth = remediate(sandbox, topic)
    assert fourth.outputs["Remediate.Status"] == "NOTHING_TO_DO"
    assert "notified nothing new" in fourth.outputs["Remediate.Message"]
    assert received() == []


def test_report_that_takes_several_polls_and_throttles(sandbox: Sandbox, ops: OpsCenter, inbox: Inbox) -> None:
    topic, _ = inbox
    sandbox.root = leaked_root()
    sandbox.answer_next("iam:GenerateCredentialReport", "Throttling", {"State": "STARTED"}, "ReportInProgress")

    result = remediate(sandbox, topic)

    assert result.outputs["Remediate.Status"] == "NOTIFIED", result.failure
    assert sandbox.calls_by(automation_principal(DOCUMENT))["iam:GenerateCredentialReport"] == 5


def test_another_accounts_id_fails_clearly(sandbox: Sandbox, ops: OpsCenter, inbox: Inbox) -> None:
    topic, received = inbox
    sandbox.root = leaked_root()

    result = remediate(sandbox, topic, AccountId="210987654321")

    assert result.status == "Failed"
    assert f"AccountId 210987654321 is not this account ({ACCOUNT})" in result.failure
    assert ops.items == {} and received() == []


@pytest.mark.parametrize(
    ("parameters", "failure"),
    [
        ({"AccountId": "12345"}, "does not match allowedPattern"),
        ({"AccountId": ACCOUNT, "TopicArn": "mamori-notifications"}, "does not match allowedPattern"),
        ({"AccountId": ACCOUNT, "DryRun": "maybe"}, "must be a Boolean"),
        ({"AccountId": ACCOUNT, "Bogus": "1"}, "unknown ['Bogus']"),
        ({}, "Parameter AccountId is required"),
    ],
)
def test_bad_input_fails_clearly_and_changes_nothing(
    sandbox: Sandbox, ops: OpsCenter, inbox: Inbox, parameters: dict[str, Any], failure: str
) -> None:
    topic, received = inbox
    sandbox.root = leaked_root()

    result = run_document(sandbox, DOCUMENT, {"AutomationAssumeRole": AUTOMATION_ROLE_ARN, "TopicArn": topic, **parameters})

    assert result.status == "Failed"
    assert failure in result.failure
    assert ops.items == {} and received() == []


def test_script_refuses_bad_input_itself(sandbox: Sandbox, ops: OpsCenter) -> None:
    """The script checks its inputs too (SSM validates them, a hand-made call might not)."""
    from mamori.catalog import load_unit_module

    handler = load_unit_module("remediation", "root-access-key", "remediate.py").handler

    with pytest.raises(ValueError, match=r"AccountId must match"):
        handler({"AccountId": "root", "TopicArn": "arn:aws:sns:us-east-1:123456789012:t"}, None)
    with pytest.raises(ValueError, match=r"TopicArn must match"):
        handler({"AccountId": ACCOUNT, "TopicArn": "arn:aws:sqs:us-east-1:123456789012:q"}, None)
