"""mamori-budget-alert and -restore, run from template.yaml by the document runner (moto runs
no SSM Automation: harness.pack executes each aws:executeScript step's inlined script, under
the IAM actions the template grants the document's role). Budgets, alerts and subscribers live
in moto's budgets backend and are re-read after every run (subscribers through the sandbox's
DescribeSubscribersForNotification, which moto lacks); the records in moto's SSM."""

import json
from typing import Any

import boto3
import pytest

from harness.aws import ACCOUNT, Sandbox
from harness.config_events import periodic_event
from harness.pack import (
    AUTOMATION_ROLE_ARN,
    AutomationResult,
    deployed_rule_parameters,
    invoke_rule,
    remediation_parameters,
    run_document,
    template,
)
from mamori.budgets import parse_budget_amount
from mamori.records import load_record
from tests.closed_loop import assert_closed_loop

RULE = "mamori-budget-alert"
RULE_ID = "budget-alert"
REMEDIATE = "mamori-budget-alert"
RESTORE = "mamori-budget-alert-restore"
BUDGET = "mamori-monthly-cost"
ACTUAL_80 = {"NotificationType": "ACTUAL", "ComparisonOperator": "GREATER_THAN", "Threshold": 80.0, "ThresholdType": "PERCENTAGE"}
FORECAST_100 = {**ACTUAL_80, "NotificationType": "FORECASTED", "Threshold": 100.0}


@pytest.fixture
def topic(sandbox: Sandbox) -> str:
    """The pack's topic (its policy admitting budgets.amazonaws.com is in template/base.yaml)."""
    return str(boto3.client("sns").create_topic(Name="mamori-notifications")["TopicArn"])


def evaluate(sandbox: Sandbox) -> str:
    invoke_rule(sandbox, RULE_ID, periodic_event(RULE, deployed_rule_parameters(RULE_ID)))
    return sandbox.config.compliance(RULE)[ACCOUNT][0]


def remediate(sandbox: Sandbox, topic: str, email: str | None = "finance@example.com", **overrides: Any) -> Any:
    pack = {"NotificationTopic": topic} | ({"NotificationEmail": email} if email else {})
    return run_document(sandbox, REMEDIATE, remediation_parameters(RULE_ID, ACCOUNT, pack_values=pack, **overrides))


def restore(sandbox: Sandbox, **extra: Any) -> Any:
    return run_document(sandbox, RESTORE, {"AutomationAssumeRole": AUTOMATION_ROLE_ARN, "AccountId": ACCOUNT, **extra})


def budgets() -> dict[str, dict[str, Any]]:
    return {b["BudgetName"]: b for b in boto3.client("budgets").describe_budgets(AccountId=ACCOUNT).get("Budgets", [])}


def alerts(name: str = BUDGET) -> dict[str, list[tuple[str, str]]]:
    """{"ACTUAL 80.0": [(subscription type, address), ...]} of a budget, re-read."""
    client = boto3.client("budgets")
    found = {}
    for notification in client.describe_notifications_for_budget(AccountId=ACCOUNT, BudgetName=name)["Notifications"]:
        subscribers = client.describe_subscribers_for_notification(AccountId=ACCOUNT, BudgetName=name, Notification=notification)
        key = f"{notification['NotificationType']} {notification['Threshold']}"
        found[key] = sorted((s["SubscriptionType"], s["Address"]) for s in subscribers["Subscribers"])
    return found


def make_budget(name: str, kind: str = "COST", notifications: list[dict[str, Any]] | None = None, **extra: Any) -> None:
    boto3.client("budgets").create_budget(
        AccountId=ACCOUNT,
        Budget={"BudgetName": name, "BudgetType": kind, "TimeUnit": "MONTHLY", "BudgetLimit": {"Amount": "40", "Unit": "USD"}}
        | extra,
        NotificationsWithSubscribers=[
            {"Notification": n, "Subscribers": [{"SubscriptionType": "EMAIL", "Address": "cfo@example.com"}]}
            for n in notifications or []
        ],
    )


def record() -> Any:
    found = load_record(boto3.client("ssm"), RULE_ID, ACCOUNT)
    assert found is not None, f"no record of {ACCOUNT}"
    return found.changed


def no_records() -> bool:
    return not boto3.client("ssm").get_parameters_by_path(Path="/mamori", Recursive=True)["Parameters"]


@pytest.mark.closed_loop("budget-alert")
def test_closed_loop(sandbox: Sandbox, topic: str) -> None:
    """The budget mamori creates alerts the topic and the pack's email; restore deletes it."""
    both = [("EMAIL", "finance@example.com"), ("SNS", topic)]

    def created_with_alerts(result: AutomationResult) -> None:
        assert result.outputs["Remediate.Changes"] == [
            f"budget {BUDGET} (100 USD monthly)",
            f"alert ACTUAL GREATER_THAN 80 PERCENTAGE to {topic} and finance@example.com",
            f"alert FORECASTED GREATER_THAN 100 PERCENTAGE to {topic} and finance@example.com",
        ]
        created = budgets()[BUDGET]
        assert (created["BudgetType"], created["TimeUnit"], created["BudgetLimit"]) == (
            "COST",
            "MONTHLY",
            {"Amount": "100", "Unit": "USD"},
        )
        assert alerts() == {"ACTUAL 80.0": both, "FORECASTED 100.0": both}
        assert record()["createdBudget"] is True and len(record()["notifications"]) == 2

    def unchanged(result: AutomationResult) -> None:
        assert list(budgets()) == [BUDGET] and alerts() == {"ACTUAL 80.0": both, "FORECASTED 100.0": both}

    def deleted(result: AutomationResult) -> None:
        assert result.outputs["Restore.Changes"] == [f"delete budget {BUDGET}"]
        assert budgets() == {}
        assert no_records()

    assert_closed_loop(
        sandbox,
        RULE_ID,
        ACCOUNT,
        pack={"NotificationTopic": topic, "NotificationEmail": "finance@example.com"},
        after_remediation=created_with_alerts,
        after_second_run=unchanged,
        after_restore=deleted,
    )


def test_without_a_notification_email_the_alerts_go_to_the_topic(sandbox: Sandbox, topic: str) -> None:
    """NotificationEmail is optional: the RemediationConfiguration then passes no Email."""
    parameters = remediation_parameters(RULE_ID, ACCOUNT, pack_values={"NotificationTopic": topic})
    assert "Email" not in parameters

    result = run_document(sandbox, REMEDIATE, parameters)

    assert result.outputs["Remediate.Status"] == "REMEDIATED"
    assert alerts() == {"ACTUAL 80.0": [("SNS", topic)], "FORECASTED 100.0": [("SNS", topic)]}


def test_the_budget_amount_is_the_pack_parameter(sandbox: Sandbox, topic: str) -> None:
    parameters = remediation_parameters(RULE_ID, ACCOUNT, pack_values={"NotificationTopic": topic, "BudgetAmount": "250.50"})

    assert run_document(sandbox, REMEDIATE, parameters).status == "Success"
    assert budgets()[BUDGET]["BudgetLimit"] == {"Amount": "250.50", "Unit": "USD"}


def test_an_existing_mamori_budget_without_alerts_gets_them_and_restore_removes_only_those(sandbox: Sandbox, topic: str) -> None:
    make_budget(BUDGET)  # e.g. its alerts were deleted by hand, or someone made it by that name
    assert evaluate(sandbox) == "NON_COMPLIANT"

    result = remediate(sandbox, topic)

    assert result.status == "Success", result.failure
    assert result.outputs["Remediate.Changes"] == [
        f"alert ACTUAL GREATER_THAN 80 PERCENTAGE to {topic} and finance@example.com",
        f"alert FORECASTED GREATER_THAN 100 PERCENTAGE to {topic} and finance@example.com",
    ]
    assert budgets()[BUDGET]["BudgetLimit"] == {"Amount": "40", "Unit": "USD"}  # its amount is kept
    assert len(alerts()) == 2 and record()["createdBudget"] is False
    assert evaluate(sandbox) == "COMPLIANT"

    restored = restore(sandbox)

    assert restored.outputs["Restore.Status"] == "RESTORED"
    assert budgets()[BUDGET]["BudgetLimit"] == {"Amount": "40", "Unit": "USD"}
    assert alerts() == {}
    assert no_records()


def test_restore_keeps_a_created_budget_that_others_added_alerts_to(sandbox: Sandbox, topic: str) -> None:
    assert remediate(sandbox, topic).status == "Success"
    daily = {**ACTUAL_80, "Threshold": 50.0}
    boto3.client("budgets").create_notification(
        AccountId=ACCOUNT,
        BudgetName=BUDGET,
        Notification=daily,
        Subscribers=[{"SubscriptionType": "EMAIL", "Address": "cfo@example.com"}],
    )

    result = restore(sandbox)

    assert result.outputs["Restore.Status"] == "RESTORED"
    assert "Kept mamori-monthly-cost: it has 1 alert(s) added by someone else." in result.outputs["Restore.Message"]
    assert alerts() == {"ACTUAL 50.0": [("EMAIL", "cfo@example.com")]}
    assert no_records()


def test_other_budgets_are_never_touched(sandbox: Sandbox, topic: str) -> None:
    """A usage budget and a cost budget filtered to S3, both with alerts, do not count; the
    remediation adds its own budget beside them and the restore deletes only that."""
    make_budget("ec2-hours", kind="USAGE", notifications=[ACTUAL_80])
    make_budget("s3-only", notifications=[ACTUAL_80], CostFilters={"Service": ["Amazon Simple Storage Service"]})
    before = {name: alerts(name) for name in ("ec2-hours", "s3-only")}

    assert remediate(sandbox, topic).outputs["Remediate.Status"] == "REMEDIATED"
    assert restore(sandbox).outputs["Restore.Status"] == "RESTORED"

    assert sorted(budgets()) == ["ec2-hours", "s3-only"]
    assert {name: alerts(name) for name in ("ec2-hours", "s3-only")} == before


def test_a_budget_that_already_alerts_someone_is_enough(sandbox: Sandbox, topic: str) -> None:
    make_budget("finance", notifications=[FORECAST_100])

    result = remediate(sandbox, topic)

    assert (result.status, result.outputs["Remediate.Status"]) == ("Success", "NOTHING_TO_DO")
    assert list(budgets()) == ["finance"]
    assert no_records()


def test_a_mamori_named_budget_that_cannot_count_fails_and_changes_nothing(sandbox: Sandbox, topic: str) -> None:
    make_budget(BUDGET, kind="USAGE")

    result = remediate(sandbox, topic)

    assert result.status == "Failed"
    assert "A budget named mamori-monthly-cost exists but is USAGE budget" in result.failure
    assert alerts() == {} and no_records()


def test_dry_run_changes_nothing(sandbox: Sandbox, topic: str) -> None:
    result = remediate(sandbox, topic, DryRun=True)

    assert (result.status, result.outputs["Remediate.Status"]) == ("Success", "DRY_RUN")
    assert result.outputs["Remediate.Changes"][0] == f"budget {BUDGET} (100 USD monthly)"
    assert budgets() == {}
    assert no_records()


@pytest.mark.parametrize(
    ("parameters", "failure"),
    [
        ({"BudgetAmount": "0"}, "does not match allowedPattern"),
        ({"BudgetAmount": "0.00"}, "does not match allowedPattern"),
        ({"BudgetAmount": "12.345"}, "does not match allowedPattern"),
        ({"BudgetAmount": "-5"}, "does not match allowedPattern"),
        ({"BudgetAmount": "100 USD"}, "does not match allowedPattern"),
        ({"TopicArn": "mamori-notifications"}, "does not match allowedPattern"),
        ({"Email": "finance"}, "does not match allowedPattern"),
        ({"AccountId": "12345"}, "does not match allowedPattern"),
        ({"DryRun": "maybe"}, "must be a Boolean"),
        ({"Threshold": "50"}, "unknown ['Threshold']"),
    ],
)
def test_bad_input_fails_clearly_and_changes_nothing(
    sandbox: Sandbox, topic: str, parameters: dict[str, Any], failure: str
) -> None:
    result = remediate(sandbox, topic, **parameters)

    assert result.status == "Failed"
    assert failure in result.failure
    assert budgets() == {}
    assert no_records()


def test_the_script_checks_the_amount_too() -> None:
    """Whatever reaches the script (a document edited by hand): the same check, before any call."""
    with pytest.raises(ValueError, match="BudgetAmount: '0' is not an amount of USD above 0"):
        parse_budget_amount("0")
    assert parse_budget_amount(" 0.05 ") == "0.05"


def test_a_failed_creation_fails_loudly_after_recording(sandbox: Sandbox, topic: str) -> None:
    sandbox.answer_next("budgets:CreateBudget", "CreationLimitExceededException")

    result = remediate(sandbox, topic)

    assert result.status == "Failed"
    assert "CreationLimitExceededException" in result.failure
    assert budgets() == {}
    assert record()["createdBudget"] is True

    # Restore copes with a budget that was never made. For a budget that does not exist AWS
    # answers NotFoundException, where moto raises a KeyError: stood in.
    sandbox.answer_next("budgets:DescribeNotificationsForBudget", "NotFoundException")
    restored = restore(sandbox)
    assert restored.outputs["Restore.Missing"] == [f"budget {BUDGET}"]
    assert no_records()


def test_restore_dry_run_changes_nothing(sandbox: Sandbox, topic: str) -> None:
    assert remediate(sandbox, topic).status == "Success"

    result = restore(sandbox, DryRun=True)

    assert (result.status, result.outputs["Restore.Status"]) == ("Success", "DRY_RUN")
    assert result.outputs["Restore.Changes"] == [f"delete budget {BUDGET}"]
    assert BUDGET in budgets() and record()["createdBudget"] is True


def test_the_email_is_passed_only_when_the_pack_has_one() -> None:
    parameters = template()["Resources"]["BudgetAlertRemediation"]["Properties"]["Parameters"]

    assert parameters["Email"] == {
        "Fn::If": ["HasNotificationEmail", {"StaticValue": {"Values": [{"Ref": "NotificationEmail"}]}}, {"Ref": "AWS::NoValue"}]
    }
    assert parameters["TopicArn"] == {"StaticValue": {"Values": [{"Ref": "NotificationTopic"}]}}
    assert parameters["BudgetAmount"] == {"StaticValue": {"Values": [{"Ref": "BudgetAmount"}]}}
    assert "Condition" not in template()["Resources"]["BudgetAlertRemediation"]


@pytest.mark.parametrize("of_account", [ACCOUNT, "210987654321"], ids=["this-account", "another-account"])
def test_an_unsigned_record_is_refused_and_nothing_deleted(sandbox: Sandbox, topic: str, of_account: str) -> None:
    """A record of schema 0 (before the envelope) says the budget is mamori's: written before
    mamori signed its records, or planted by anyone who can write Parameter Store to have a
    person's budget deleted. Nothing tells the two apart, so the restore refuses it."""
    make_budget(BUDGET, notifications=[ACTUAL_80])
    legacy = {"accountId": of_account, "budgetName": BUDGET, "createdBudget": True, "notifications": [ACTUAL_80]}
    boto3.client("ssm").put_parameter(Name=f"/mamori/budget-alert/{ACCOUNT}", Value=json.dumps(legacy), Type="String")

    result = restore(sandbox)

    assert result.status == "Failed"
    assert "Refused" in result.failure and "no mamori signature" in result.failure
    assert BUDGET in budgets() and alerts() == {"ACTUAL 80.0": [("EMAIL", "cfo@example.com")]}


def test_alerts_deleted_by_someone_are_added_again_and_the_budget_stays_mamoris(sandbox: Sandbox, topic: str) -> None:
    """Someone deletes the alerts of the budget mamori created: the next run reads mamori's record
    (verified), adds them again, and still knows the budget is mamori's, so the restore deletes it."""
    assert remediate(sandbox, topic).outputs["Remediate.Status"] == "REMEDIATED"
    client = boto3.client("budgets")
    for notification in client.describe_notifications_for_budget(AccountId=ACCOUNT, BudgetName=BUDGET)["Notifications"]:
        client.delete_notification(AccountId=ACCOUNT, BudgetName=BUDGET, Notification=notification)

    again = remediate(sandbox, topic)

    assert (again.status, again.outputs["Remediate.Status"]) == ("Success", "REMEDIATED"), again.failure
    assert record()["createdBudget"] is True and len(record()["notifications"]) == 2
    assert restore(sandbox).outputs["Restore.Changes"] == [f"delete budget {BUDGET}"]
    assert budgets() == {}
