"""mamori-budget-alert-restore: delete what mamori-budget-alert created, as recorded at
/mamori/budget-alert/<account>: the budget mamori-monthly-cost if it created it, or else only
the alerts it added to it. A budget mamori created that has since got alerts of someone
else's keeps them: then only mamori's alerts are deleted.

Switch AutoRemediation off, or create your own whole-account cost budget with an alert, first:
otherwise the rule finds no alert again and automatic remediation creates the budget again.
"""

from typing import Any

import boto3
import botocore.exceptions

from mamori.automation import flag, required_input
from mamori.budgets import MAMORI_BUDGET, budget_notifications, iter_recorded_alerts, notification_key, same_notification
from mamori.records import delete_record, load_record, record_path

REMEDIATION_ID = "budget-alert"


def _gone(error: botocore.exceptions.ClientError) -> bool:
    return error.response["Error"]["Code"] == "NotFoundException"


def handler(events: dict[str, Any], context: Any) -> dict[str, Any]:
    account_id = required_input(events, "AccountId", r"\d{12}")
    dry_run = flag(events, "DryRun")
    budgets, ssm = boto3.client("budgets"), boto3.client("ssm")
    path = record_path(REMEDIATION_ID, account_id)
    result: dict[str, Any] = {"AccountId": account_id, "DryRun": dry_run, "Changes": [], "Missing": []}

    record = load_record(ssm, path)
    if record is None:
        return {**result, "Status": "NOTHING_TO_RESTORE", "Message": f"No mamori record at {path}; nothing to restore."}
    name = str(record.get("budgetName") or MAMORI_BUDGET)
    ours = list(iter_recorded_alerts(record))
    live = budget_notifications(budgets, account_id, name) if record.get("createdBudget") else []
    others = [n for n in live if not any(same_notification(n, alert) for alert in ours)]
    delete_budget = bool(record.get("createdBudget")) and not others
    if delete_budget:
        result["Changes"] = [f"delete budget {name}"]
    else:
        result["Changes"] = [f"delete alert {notification_key(alert)} of {name}" for alert in ours]
    if dry_run:
        return {**result, "Status": "DRY_RUN", "Message": f"Would {'; '.join(result['Changes'])}. Changed nothing."}

    if delete_budget:
        try:
            budgets.delete_budget(AccountId=account_id, BudgetName=name)
        except botocore.exceptions.ClientError as error:
            if not _gone(error):
                raise
            result["Missing"] = [f"budget {name}"]
    else:
        for alert in ours:
            try:
                budgets.delete_notification(AccountId=account_id, BudgetName=name, Notification=alert)
            except botocore.exceptions.ClientError as error:
                if not _gone(error):
                    raise
                result["Missing"].append(f"alert {notification_key(alert)}")
    delete_record(ssm, path)

    kept = f" Kept {name}: it has {len(others)} alert(s) added by someone else." if others else ""
    missing = f" Already gone: {', '.join(result['Missing'])}." if result["Missing"] else ""
    return {
        **result,
        "Status": "RESTORED",
        "Message": (
            f"Done: {'; '.join(result['Changes'])}.{kept}{missing} Unless another cost budget alerts someone, the rule "
            "is NON_COMPLIANT again and automatic remediation creates the budget again."
        ),
    }
