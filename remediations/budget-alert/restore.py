"""mamori-budget-alert-restore: delete what mamori-budget-alert created, as recorded at
/mamori/budget-alert/<account>: the budget mamori-monthly-cost if it created it, or else only
the alerts it added to it. A budget mamori created that has since got alerts of someone
else's keeps them: then only mamori's alerts are deleted.

Switch AutoRemediation off, or create your own whole-account cost budget with an alert, first:
otherwise the rule finds no alert again and automatic remediation creates the budget again.
"""

from dataclasses import dataclass
from typing import Any

import boto3
import botocore.exceptions

from mamori.account_unit import AccountScoped
from mamori.budgets import MAMORI_BUDGET, budget_notifications, iter_recorded_alerts, notification_key, same_notification
from mamori.records import Record
from mamori.restoration import Nothing, Plan, Restore, run_restore


@dataclass(frozen=True)
class RecordedBudget:
    name: str
    ours: list[dict[str, Any]]  # the alerts mamori added
    others: list[dict[str, Any]]  # alerts someone else added since to a budget mamori created
    created: bool


def _gone(error: botocore.exceptions.ClientError) -> bool:
    return error.response["Error"]["Code"] == "NotFoundException"


class DeleteBudgetAlert(AccountScoped, Restore[RecordedBudget]):
    remediation_id = "budget-alert"
    list_outputs = ("Changes", "Missing")

    def read_parameters(self) -> None:
        self.budgets = boto3.client("budgets")

    def find(self, record: Record | None) -> RecordedBudget:
        changed = record.changed if record else {}
        name = str(changed.get("budgetName") or MAMORI_BUDGET)
        ours = list(iter_recorded_alerts(changed))
        created = bool(changed.get("createdBudget"))
        live = budget_notifications(self.budgets, self.resource_id, name) if created else []
        others = [n for n in live if not any(same_notification(n, alert) for alert in ours)]
        return RecordedBudget(name, ours, others, created)

    def plan(self, target: RecordedBudget, record: Record | None) -> Plan | Nothing:
        delete_budget = target.created and not target.others
        if delete_budget:
            changes = [f"delete budget {target.name}"]
        else:
            changes = [f"delete alert {notification_key(alert)} of {target.name}" for alert in target.ours]
        return Plan(changes, data=delete_budget, outputs={"Changes": changes})

    def apply(self, target: RecordedBudget, plan: Plan, record: Record | None) -> None:
        missing: list[str] = self.outputs["Missing"]
        if plan.data:
            try:
                self.budgets.delete_budget(AccountId=self.resource_id, BudgetName=target.name)
            except botocore.exceptions.ClientError as error:
                if not _gone(error):
                    raise
                missing.append(f"budget {target.name}")
            return
        for alert in target.ours:
            try:
                self.budgets.delete_notification(AccountId=self.resource_id, BudgetName=target.name, Notification=alert)
            except botocore.exceptions.ClientError as error:
                if not _gone(error):
                    raise
                missing.append(f"alert {notification_key(alert)}")

    def exempt_hint(self, target: RecordedBudget) -> str:
        return (
            " Unless another cost budget alerts someone, the rule is NON_COMPLIANT again and automatic remediation "
            "creates the budget again."
        )

    def done_message(self, target: RecordedBudget, plan: Plan) -> str:
        kept = f" Kept {target.name}: it has {len(target.others)} alert(s) added by someone else." if target.others else ""
        missing = f" Already gone: {', '.join(self.outputs['Missing'])}." if self.outputs["Missing"] else ""
        return f"Done: {'; '.join(plan.changes)}.{kept}{missing}"


def handler(events: dict[str, Any], context: Any) -> dict[str, Any]:
    return run_restore(DeleteBudgetAlert(events))
