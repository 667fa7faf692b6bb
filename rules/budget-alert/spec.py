"""mamori-budget-alert: what the rule is, what it takes, what it may call."""

from mamori.catalog import Permission, RemediationLink, RuleSpec

# Budgets are the `budget` resource type, arn:${Partition}:budgets::${Account}:budget/${BudgetName}
# (Service Authorization Reference, AWS Budget Service; ViewBudget requires it). The
# aws-portal:ViewBilling listed beside it has reached the end of its support: fine-grained
# budgets actions are in effect.
ANY_BUDGET = "arn:${AWS::Partition}:budgets::${AWS::AccountId}:budget/*"

RULE = RuleSpec(
    id="budget-alert",
    description=(
        "NON_COMPLIANT when no cost budget over all of the account's costs has an alert (notification) with at "
        "least one subscriber: nobody would be told about a sudden bill."
    ),
    trigger="periodic",
    resource_types=("AWS::::Account",),
    permissions=(
        Permission("config:PutEvaluations"),
        # DescribeBudgets, DescribeNotificationsForBudget and DescribeSubscribersForNotification.
        Permission("budgets:ViewBudget", ANY_BUDGET),
    ),
    remediation=RemediationLink(
        document="budget-alert",
        resource_id_parameter="AccountId",
        pack_values=(
            ("BudgetAmount", "BudgetAmount"),
            ("TopicArn", "NotificationTopic"),
            ("Email", "NotificationEmail"),
        ),
        maximum_automatic_attempts=3,
        retry_attempt_seconds=300,
    ),
)
