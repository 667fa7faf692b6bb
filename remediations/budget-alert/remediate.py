"""mamori-budget-alert: make sure a sudden bill reaches someone. Unless a whole-account cost
budget already has an alert with a subscriber (re-checked live with the rule's own decision),
create the monthly cost budget mamori-monthly-cost with two alerts, 80% of the amount actually
spent and 100% forecasted, each to the mamori topic (and an email address when given).

If mamori-monthly-cost exists as a whole-account cost budget without alerts, the two alerts are
added to it instead. What was created is recorded at /mamori/budget-alert/<account> before
anything changes, for the restore document.
"""

from typing import Any

import boto3

from mamori.automation import flag, required_input, timestamp, utc_now
from mamori.budgets import (
    MAMORI_ALERTS,
    MAMORI_BUDGET,
    alert_subscribers,
    find_budget_alert,
    notification_key,
    parse_budget_amount,
)
from mamori.records import load_record, record_path, save_record

REMEDIATION_ID = "budget-alert"
TOPIC_ARN_PATTERN = r"arn:aws[a-z0-9-]*:sns:[a-z0-9-]+:\d{12}:[\w-]{1,256}"
EMAIL_PATTERN = r"[^@\s]+@[^@\s]+\.[^@\s]+"


def handler(events: dict[str, Any], context: Any) -> dict[str, Any]:
    account_id = required_input(events, "AccountId", r"\d{12}")
    amount = parse_budget_amount(str(events.get("BudgetAmount", "")))
    topic_arn = required_input(events, "TopicArn", TOPIC_ARN_PATTERN)
    email = str(events.get("Email") or "").strip()
    if email:
        email = required_input(events, "Email", EMAIL_PATTERN)
    dry_run = flag(events, "DryRun")
    budgets = boto3.client("budgets")
    result: dict[str, Any] = {"AccountId": account_id, "DryRun": dry_run, "Changes": []}

    finding = find_budget_alert(budgets, account_id)
    if finding.compliant:
        return {**result, "Status": "NOTHING_TO_DO", "Message": f"{finding.annotation} Nothing to do for {account_id}."}
    existing = finding.reason_for(MAMORI_BUDGET)
    if existing:
        raise RuntimeError(
            f"A budget named {MAMORI_BUDGET} exists but is {existing}, so alerts on it would not cover the account's "
            "costs; rename or delete it, or create your own whole-account cost budget with an alert. Nothing changed."
        )
    create_budget = existing is None
    alerts = [dict(alert) for alert in MAMORI_ALERTS]
    subscribers = alert_subscribers(topic_arn, email)
    to = " and ".join(subscriber["Address"] for subscriber in subscribers)
    changes = ([f"budget {MAMORI_BUDGET} ({amount} USD monthly)"] if create_budget else []) + [
        f"alert {notification_key(alert)} to {to}" for alert in alerts
    ]
    result["Changes"] = changes
    if dry_run:
        return {**result, "Status": "DRY_RUN", "Message": f"Would create: {'; '.join(changes)}. Changed nothing."}

    # Record first, so that restore can find what was made even if a call below fails.
    ssm = boto3.client("ssm")
    path = record_path(REMEDIATION_ID, account_id)
    record = load_record(ssm, path) or {"accountId": account_id, "budgetName": MAMORI_BUDGET, "notifications": []}
    # A budget mamori created earlier and someone deleted since is mamori's again once recreated.
    record["createdBudget"] = create_budget or bool(record.get("createdBudget"))
    recorded = {notification_key(alert): alert for alert in [*record.get("notifications", []), *alerts]}
    record["notifications"] = list(recorded.values())
    record["at"] = timestamp(utc_now())
    save_record(ssm, path, record)

    if create_budget:
        budgets.create_budget(
            AccountId=account_id,
            Budget={
                "BudgetName": MAMORI_BUDGET,
                "BudgetType": "COST",
                "TimeUnit": "MONTHLY",
                "BudgetLimit": {"Amount": amount, "Unit": "USD"},
            },
            NotificationsWithSubscribers=[{"Notification": alert, "Subscribers": subscribers} for alert in alerts],
        )
    else:
        for alert in alerts:
            budgets.create_notification(
                AccountId=account_id, BudgetName=MAMORI_BUDGET, Notification=alert, Subscribers=subscribers
            )

    # Same decision, live state: fail loudly unless someone is now told.
    after = find_budget_alert(budgets, account_id)
    if not after.compliant:
        raise RuntimeError(f"Still no alert that reaches someone after the change: {after.annotation} Recorded at {path}.")
    done = "Created" if create_budget else f"Added to the existing {MAMORI_BUDGET}"
    return {
        **result,
        "Status": "REMEDIATED",
        "Message": f"{done}: {'; '.join(changes)}. Recorded at {path}; undo with mamori-budget-alert-restore.",
    }
