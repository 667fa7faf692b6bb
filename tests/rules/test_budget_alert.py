"""mamori-budget-alert through its real lambda_handler, with real-shaped periodic events.
Budgets, alerts and subscribers live in moto's budgets backend (created with the real
CreateBudget); DescribeSubscribersForNotification, which moto lacks, is answered by the sandbox
from that backend. Evaluations are read back from the Config stand-in."""

from collections.abc import Sequence
from typing import Any

import boto3
import pytest
from botocore.config import Config

from harness.aws import ACCOUNT, Sandbox
from harness.config_events import periodic_event
from harness.pack import deployed_rule_parameters, invoke_rule, lambda_principal

RULE = "mamori-budget-alert"
RULE_ID = "budget-alert"
TOPIC = f"arn:aws:sns:us-east-1:{ACCOUNT}:finance-alerts"
ACTUAL_80 = {"NotificationType": "ACTUAL", "ComparisonOperator": "GREATER_THAN", "Threshold": 80.0, "ThresholdType": "PERCENTAGE"}
TAIL = "; remediation creates mamori-monthly-cost alerting at 80% actual, 100% forecasted cost."


def make_budget(
    name: str,
    kind: str = "COST",
    alerts: Sequence[tuple[dict[str, Any], Sequence[dict[str, str]]]] = (),
    **extra: Any,
) -> None:
    """A budget with (notification, subscribers) alerts. AWS requires a subscriber per alert;
    an alert whose subscribers are all gone is made with botocore's validation off, which moto
    then stores as it is."""
    client = boto3.client("budgets", config=Config(parameter_validation=False))
    unit = "USD" if kind == "COST" else "Hrs"
    client.create_budget(
        AccountId=ACCOUNT,
        Budget={"BudgetName": name, "BudgetType": kind, "TimeUnit": "MONTHLY", "BudgetLimit": {"Amount": "500", "Unit": unit}}
        | extra,
        NotificationsWithSubscribers=[{"Notification": n, "Subscribers": list(s)} for n, s in alerts],
    )


def email(address: str = "finance@example.com") -> dict[str, str]:
    return {"SubscriptionType": "EMAIL", "Address": address}


def invoke(sandbox: Sandbox, **parameters: str) -> Any:
    return invoke_rule(sandbox, RULE_ID, periodic_event(RULE, deployed_rule_parameters(RULE_ID, **parameters)))


def evaluate(sandbox: Sandbox) -> tuple[str, str]:
    invoke(sandbox)
    return sandbox.config.compliance(RULE)[ACCOUNT]


def test_an_account_without_budgets_is_non_compliant_after_one_call(sandbox: Sandbox) -> None:
    assert evaluate(sandbox) == (
        "NON_COMPLIANT",
        f"No cost budget with an alert that reaches someone (the account has no budgets){TAIL}",
    )
    assert dict(sandbox.calls_by(lambda_principal(RULE))) == {"budgets:ViewBudget": 1, "config:PutEvaluations": 1}


def test_a_cost_budget_with_a_subscribed_alert_is_compliant_in_three_reads(sandbox: Sandbox) -> None:
    """The budget: DescribeBudgets, DescribeNotificationsForBudget, one
    DescribeSubscribersForNotification (all budgets:ViewBudget), and PutEvaluations."""
    make_budget("monthly", alerts=[(ACTUAL_80, [email()])])

    assert evaluate(sandbox) == (
        "COMPLIANT",
        "Cost budget 'monthly' alerts 1 subscriber when actual cost > 80% of 500 USD monthly.",
    )
    assert dict(sandbox.calls_by(lambda_principal(RULE))) == {"budgets:ViewBudget": 3, "config:PutEvaluations": 1}


def test_only_a_whole_account_cost_budget_with_a_subscriber_counts(sandbox: Sandbox) -> None:
    """A usage budget with alerts, a cost budget without alerts, a cost budget whose alert has
    no subscriber and a cost budget filtered to one service (the mining ran on EC2 in regions
    nobody budgeted for) tell nobody about the bill; the last budget does. Alerts are read only
    for whole-account cost budgets, subscribers until the first alert that has one."""
    forecast_100 = {**ACTUAL_80, "NotificationType": "FORECASTED", "Threshold": 100.0}
    make_budget("ec2-hours", kind="USAGE", alerts=[(ACTUAL_80, [email()])])
    make_budget("no-alerts")
    make_budget("nobody-listens", alerts=[(ACTUAL_80, [])])
    make_budget("s3-only", alerts=[(ACTUAL_80, [email()])], CostFilters={"Service": ["Amazon Simple Storage Service"]})
    make_budget("team", alerts=[(ACTUAL_80, []), (forecast_100, [email(), {"SubscriptionType": "SNS", "Address": TOPIC}])])

    assert evaluate(sandbox) == (
        "COMPLIANT",
        "Cost budget 'team' alerts 2 subscribers when forecasted cost > 100% of 500 USD monthly.",
    )
    # DescribeBudgets 1; notifications of no-alerts, nobody-listens, team 3; subscribers 1 + 2.
    assert sandbox.calls_by(lambda_principal(RULE))["budgets:ViewBudget"] == 7


def test_budgets_that_tell_nobody_are_named_in_the_annotation(sandbox: Sandbox) -> None:
    make_budget("ec2-hours", kind="USAGE", alerts=[(ACTUAL_80, [email()])])
    make_budget("no-alerts")
    make_budget("s3-only", alerts=[(ACTUAL_80, [email()])], CostFilters={"Service": ["Amazon Simple Storage Service"]})

    assert evaluate(sandbox) == (
        "NON_COMPLIANT",
        "No cost budget with an alert that reaches someone ('ec2-hours': USAGE budget; 'no-alerts': no subscribed alert; "
        f"'s3-only': filtered){TAIL}",
    )


def test_many_budgets_keep_the_annotation_within_256_characters(sandbox: Sandbox) -> None:
    for number in range(30):
        make_budget(f"usage-budget-of-team-{number:02d}", kind="USAGE")

    compliance, annotation = evaluate(sandbox)

    assert compliance == "NON_COMPLIANT"
    assert len(annotation) <= 256 and "…)" in annotation and annotation.endswith(TAIL)


def test_the_budget_list_is_read_page_by_page(sandbox: Sandbox) -> None:
    """DescribeBudgets gives at most 100 budgets a page (moto gives one page): a first page
    with only a usage budget is stood in, moto answers the second."""
    make_budget("monthly", alerts=[(ACTUAL_80, [email()])])
    first_page = {"Budgets": [{"BudgetName": "hours", "BudgetType": "USAGE", "TimeUnit": "MONTHLY"}], "NextToken": "page-2"}
    sandbox.answer_next("budgets:DescribeBudgets", first_page)

    assert evaluate(sandbox)[0] == "COMPLIANT"
    assert sandbox.calls_by(lambda_principal(RULE))["budgets:ViewBudget"] == 4


def test_not_found_for_the_budget_list_means_no_budgets(sandbox: Sandbox) -> None:
    sandbox.answer_next("budgets:DescribeBudgets", "NotFoundException")

    assert evaluate(sandbox)[0] == "NON_COMPLIANT"


@pytest.mark.parametrize(
    ("action", "code"),
    [
        ("budgets:DescribeBudgets", "AccessDeniedException"),
        ("budgets:DescribeNotificationsForBudget", "ThrottlingException"),
        ("budgets:DescribeSubscribersForNotification", "InternalErrorException"),
    ],
)
def test_api_errors_give_an_error_response_and_no_evaluation(sandbox: Sandbox, action: str, code: str) -> None:
    make_budget("monthly", alerts=[(ACTUAL_80, [email()])])
    sandbox.answer_next(action, code)

    response = invoke(sandbox)

    assert code in response["internalErrorDetails"]
    assert sandbox.config.put_evaluations_calls == 0


def test_malformed_event_gives_a_clear_error(sandbox: Sandbox) -> None:
    event = periodic_event(RULE, deployed_rule_parameters(RULE_ID))
    event["ruleParameters"] = '{"AssumeRoleMode": false}'

    response = invoke_rule(sandbox, RULE_ID, event)

    assert response["customerErrorCode"] == "InvalidEvent"
    assert sandbox.config.put_evaluations_calls == 0
