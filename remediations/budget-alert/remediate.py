"""mamori-budget-alert: make sure a sudden bill reaches someone. Unless a whole-account cost
budget already has an alert with a subscriber (re-checked live with the rule's own decision),
create the monthly cost budget mamori-monthly-cost with two alerts, 80% of the amount actually
spent and 100% forecasted, each to the mamori topic (and an email address when given).

If mamori-monthly-cost exists as a whole-account cost budget without alerts, the two alerts are
added to it instead. What was created is recorded at /mamori/budget-alert/<account> before
anything changes, for the restore document.
"""

from dataclasses import dataclass
from typing import Any

import boto3

from mamori.account_unit import AccountScoped
from mamori.automation import required_input
from mamori.budgets import (
    MAMORI_ALERTS,
    MAMORI_BUDGET,
    BudgetAlertFinding,
    alert_subscribers,
    find_budget_alert,
    notification_key,
    parse_budget_amount,
)
from mamori.records import Record
from mamori.remediation import Nothing, Plan, Remediation, run_remediation

TOPIC_ARN_PATTERN = r"arn:aws[a-z0-9-]*:sns:[a-z0-9-]+:\d{12}:[\w-]{1,256}"
EMAIL_PATTERN = r"[^@\s]+@[^@\s]+\.[^@\s]+"


@dataclass(frozen=True)
class BudgetChange:
    create_budget: bool  # False: mamori-monthly-cost exists without alerts; add them to it
    alerts: list[dict[str, Any]]
    subscribers: list[dict[str, str]]


class CreateBudgetAlert(AccountScoped, Remediation[BudgetAlertFinding]):
    remediation_id = "budget-alert"
    list_outputs = ("Changes",)

    def read_parameters(self) -> None:
        self.amount = parse_budget_amount(str(self.events.get("BudgetAmount", "")))
        self.topic_arn = required_input(self.events, "TopicArn", TOPIC_ARN_PATTERN)
        self.email = required_input(self.events, "Email", EMAIL_PATTERN) if str(self.events.get("Email") or "").strip() else ""
        self.budgets = boto3.client("budgets")

    def find(self) -> BudgetAlertFinding:
        return find_budget_alert(self.budgets, self.resource_id)

    def plan(self, target: BudgetAlertFinding) -> Plan | Nothing:
        if target.compliant:
            return Nothing(f"{target.annotation} Nothing to do for {self.resource_id}.")
        existing = target.reason_for(MAMORI_BUDGET)
        if existing:
            raise RuntimeError(
                f"A budget named {MAMORI_BUDGET} exists but is {existing}, so alerts on it would not cover the account's "
                "costs; rename or delete it, or create your own whole-account cost budget with an alert. Nothing changed."
            )
        change = BudgetChange(
            existing is None, [dict(alert) for alert in MAMORI_ALERTS], alert_subscribers(self.topic_arn, self.email)
        )
        to = " and ".join(subscriber["Address"] for subscriber in change.subscribers)
        changes = ([f"budget {MAMORI_BUDGET} ({self.amount} USD monthly)"] if change.create_budget else []) + [
            f"alert {notification_key(alert)} to {to}" for alert in change.alerts
        ]
        return Plan(changes, data=change, outputs={"Changes": changes})

    def dry_run_message(self, target: BudgetAlertFinding, plan: Plan) -> str:
        return f"Would create: {'; '.join(plan.changes)}. Changed nothing."

    def record(self, target: BudgetAlertFinding, plan: Plan, previous: Record | None) -> dict[str, Any]:
        change: BudgetChange = plan.data
        kept = previous.changed if previous else {}
        recorded = {notification_key(alert): alert for alert in [*kept.get("notifications", []), *change.alerts]}
        return {
            "budgetName": MAMORI_BUDGET,
            # A budget mamori created earlier and someone deleted since is mamori's again once recreated.
            "createdBudget": change.create_budget or bool(kept.get("createdBudget")),
            "notifications": list(recorded.values()),
        }

    def apply(self, target: BudgetAlertFinding, plan: Plan) -> None:
        change: BudgetChange = plan.data
        if change.create_budget:
            self.budgets.create_budget(
                AccountId=self.resource_id,
                Budget={
                    "BudgetName": MAMORI_BUDGET,
                    "BudgetType": "COST",
                    "TimeUnit": "MONTHLY",
                    "BudgetLimit": {"Amount": self.amount, "Unit": "USD"},
                },
                NotificationsWithSubscribers=[
                    {"Notification": alert, "Subscribers": change.subscribers} for alert in change.alerts
                ],
            )
            return
        for alert in change.alerts:
            self.budgets.create_notification(
                AccountId=self.resource_id, BudgetName=MAMORI_BUDGET, Notification=alert, Subscribers=change.subscribers
            )

    def still_wrong(self, target: BudgetAlertFinding, plan: Plan) -> str | None:
        # The finding found before the change is stale: read the budgets again.
        after = self.find()
        return None if after.compliant else f"still no alert that reaches someone: {after.annotation}"

    def done_message(self, target: BudgetAlertFinding, plan: Plan) -> str:
        done = "Created" if plan.data.create_budget else f"Added to the existing {MAMORI_BUDGET}"
        return f"{done}: {'; '.join(plan.changes)}. Recorded at {self.record_path}; undo with {self.restore_document}."


def handler(events: dict[str, Any], context: Any) -> dict[str, Any]:
    return run_remediation(CreateBudgetAlert(events))
