"""Cost budgets and their alerts: what mamori-budget-alert decides, and what its remediation
and restore create and delete, in one place.

In the leaked-root-key incident attackers ran up $2,798 within days and nobody was told. An
account is ready when some cost budget over all of its costs has an alert that reaches
someone: DescribeBudgets (100 a page), then, for such budgets only, DescribeNotificationsForBudget
and DescribeSubscribersForNotification per alert, stopping at the first alert with a subscriber.
A budget filtered to some services, regions or tags does not count: the mining ran in regions
and on services nobody had budgeted for.

Budgets is a global service: boto3 reaches its one endpoint (budgets.amazonaws.com, signed for
us-east-1) from any region. Standard library and botocore only: remediation scripts inline
this module.
"""

import decimal
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import botocore.exceptions

from mamori.compliance import ANNOTATION_LIMIT

MAMORI_BUDGET = "mamori-monthly-cost"
# USD a month, at most two decimals, more than zero (checked before anything changes).
BUDGET_AMOUNT_PATTERN = r"[1-9][0-9]{0,8}(\.[0-9]{1,2})?|0\.([1-9][0-9]?|0[1-9])"
# Most of the month's money is spent; the month is on course to overrun.
MAMORI_ALERTS: tuple[dict[str, Any], ...] = (
    {"NotificationType": "ACTUAL", "ComparisonOperator": "GREATER_THAN", "Threshold": 80.0, "ThresholdType": "PERCENTAGE"},
    {"NotificationType": "FORECASTED", "ComparisonOperator": "GREATER_THAN", "Threshold": 100.0, "ThresholdType": "PERCENTAGE"},
)
NOTIFICATION_KEYS = ("NotificationType", "ComparisonOperator", "Threshold", "ThresholdType")
_OPERATORS = {"GREATER_THAN": ">", "LESS_THAN": "<", "EQUAL_TO": "="}


@dataclass(frozen=True)
class BudgetAlertFinding:
    compliant: bool
    annotation: str  # at most 256 characters, for Config
    # Every budget seen, by name: why it does not count ("" for a whole-account cost budget).
    budgets: tuple[tuple[str, str], ...] = ()

    def reason_for(self, name: str) -> str | None:
        """Why the named budget does not count ("" when it would), None when there is none."""
        return dict(self.budgets).get(name)


def parse_budget_amount(text: str) -> str:
    value = text.strip()
    if not re.fullmatch(BUDGET_AMOUNT_PATTERN, value):
        raise ValueError(f"BudgetAmount: {text!r} is not an amount of USD above 0 with at most two decimals")
    return value


def why_not_whole_account_cost_budget(budget: Mapping[str, Any]) -> str:
    """Empty for a cost budget over every cost of the account; otherwise what it is instead."""
    if budget.get("BudgetType") != "COST":
        return f"{budget.get('BudgetType', 'typeless')} budget"
    if budget.get("CostFilters") or budget.get("FilterExpression"):
        return "filtered"
    return ""


def alert_text(notification: Mapping[str, Any], budget: Mapping[str, Any]) -> str:
    """'actual cost > 80% of 100 USD monthly'"""
    limit = budget.get("BudgetLimit") or {}
    operator = _OPERATORS.get(str(notification.get("ComparisonOperator")), str(notification.get("ComparisonOperator")))
    threshold = decimal.Decimal(str(notification.get("Threshold", 0))).normalize()
    kind = str(notification.get("NotificationType", "")).lower()
    amount = f"{limit.get('Amount', '?')} {limit.get('Unit', '')}".strip() if limit else "the budgeted amount"
    if notification.get("ThresholdType") == "ABSOLUTE_VALUE":
        return f"{kind} cost {operator} {threshold:f} {limit.get('Unit', 'USD')}"
    return f"{kind} cost {operator} {threshold:f}% of {amount} {str(budget.get('TimeUnit', '')).lower()}".strip()


def list_budgets(client: Any, account_id: str) -> list[dict[str, Any]]:
    budgets: list[dict[str, Any]] = []
    token = ""
    while True:
        # Without ShowFilterExpression the answer leaves out a budget's filter expression.
        request: dict[str, Any] = {"AccountId": account_id, "MaxResults": 100, "ShowFilterExpression": True}
        if token:
            request["NextToken"] = token
        try:
            page = client.describe_budgets(**request)
        except botocore.exceptions.ClientError as error:
            # A listing that finds nothing can only mean that there is nothing to list.
            if error.response["Error"]["Code"] == "NotFoundException" and not token:
                return []
            raise
        budgets.extend(page.get("Budgets") or [])
        token = page.get("NextToken") or ""
        if not token:
            return budgets


def budget_notifications(client: Any, account_id: str, budget_name: str) -> list[dict[str, Any]]:
    """A budget's alerts (at most ten), or [] when the budget is gone."""
    notifications: list[dict[str, Any]] = []
    token = ""
    while True:
        request: dict[str, Any] = {"AccountId": account_id, "BudgetName": budget_name, "MaxResults": 100}
        if token:
            request["NextToken"] = token
        try:
            page = client.describe_notifications_for_budget(**request)
        except botocore.exceptions.ClientError as error:
            if error.response["Error"]["Code"] == "NotFoundException":
                return notifications
            raise
        notifications.extend(page.get("Notifications") or [])
        token = page.get("NextToken") or ""
        if not token:
            return notifications


def notification_subscribers(
    client: Any, account_id: str, budget_name: str, notification: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """An alert's subscribers (one SNS topic and up to ten email addresses)."""
    # The alert as DescribeNotificationsForBudget lists it, less its NotificationState.
    key = {k: notification[k] for k in NOTIFICATION_KEYS if k in notification}
    try:
        page = client.describe_subscribers_for_notification(
            AccountId=account_id, BudgetName=budget_name, Notification=key, MaxResults=100
        )
    except botocore.exceptions.ClientError as error:
        if error.response["Error"]["Code"] == "NotFoundException":
            return []
        raise
    return list(page.get("Subscribers") or [])


def budget_alert_finding(
    budgets: Sequence[Mapping[str, Any]],
    notifications_of: Callable[[str], list[dict[str, Any]]],
    subscribers_of: Callable[[str, Mapping[str, Any]], list[dict[str, Any]]],
) -> BudgetAlertFinding:
    """The rule's decision; the remediation re-checks live state with it too. Alerts are read
    only for whole-account cost budgets, and only until the first one reaches someone."""
    seen: list[tuple[str, str]] = []
    for budget in budgets:
        name = str(budget.get("BudgetName", ""))
        reason = why_not_whole_account_cost_budget(budget)
        if not reason:
            for notification in notifications_of(name):
                subscribers = subscribers_of(name, notification)
                if subscribers:
                    who = f"{len(subscribers)} subscriber" + ("s" if len(subscribers) != 1 else "")
                    annotation = f"Cost budget {name!r} alerts {who} when {alert_text(notification, budget)}."
                    return BudgetAlertFinding(True, annotation[:ANNOTATION_LIMIT], (*seen, (name, "")))
        seen.append((name, reason))
    return BudgetAlertFinding(False, _no_alert_annotation(seen), tuple(seen))


def _no_alert_annotation(seen: Sequence[tuple[str, str]]) -> str:
    head = "No cost budget with an alert that reaches someone"
    tail = f"; remediation creates {MAMORI_BUDGET} alerting at 80% actual, 100% forecasted cost."
    details = "; ".join(f"{name!r}: {reason or 'no subscribed alert'}" for name, reason in seen)
    details = details or "the account has no budgets"
    room = ANNOTATION_LIMIT - len(head) - len(tail) - len(" ()")
    if len(details) > room:
        details = details[: room - 1] + "…"
    return f"{head} ({details}){tail}"


def find_budget_alert(client: Any, account_id: str) -> BudgetAlertFinding:
    return budget_alert_finding(
        list_budgets(client, account_id),
        lambda name: budget_notifications(client, account_id, name),
        lambda name, notification: notification_subscribers(client, account_id, name, notification),
    )


def alert_subscribers(topic_arn: str, email: str) -> list[dict[str, str]]:
    subscribers = [{"SubscriptionType": "SNS", "Address": topic_arn}]
    if email:
        subscribers.append({"SubscriptionType": "EMAIL", "Address": email})
    return subscribers


def same_notification(first: Mapping[str, Any], second: Mapping[str, Any]) -> bool:
    """How Budgets tells an alert of a budget from another: type, comparison and threshold."""
    return (
        first.get("NotificationType") == second.get("NotificationType")
        and first.get("ComparisonOperator") == second.get("ComparisonOperator")
        and float(first.get("Threshold", -1)) == float(second.get("Threshold", -2))
        and first.get("ThresholdType", "PERCENTAGE") == second.get("ThresholdType", "PERCENTAGE")
    )


def notification_key(notification: Mapping[str, Any]) -> str:
    """'ACTUAL GREATER_THAN 80 PERCENTAGE': an alert, as people and records name it."""
    threshold = decimal.Decimal(str(notification.get("Threshold", 0))).normalize()
    return (
        f"{notification.get('NotificationType')} {notification.get('ComparisonOperator')} {threshold:f} "
        f"{notification.get('ThresholdType', 'PERCENTAGE')}"
    )


def iter_recorded_alerts(record: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    for notification in record.get("notifications") or []:
        yield {
            "NotificationType": notification["NotificationType"],
            "ComparisonOperator": notification["ComparisonOperator"],
            "Threshold": float(notification["Threshold"]),
            "ThresholdType": notification.get("ThresholdType", "PERCENTAGE"),
        }
