"""The two documents of the budget-alert remediation, what each may call, and the budget
amount it creates the budget with."""

from mamori.budgets import BUDGET_AMOUNT_PATTERN, MAMORI_BUDGET
from mamori.catalog import (
    ACCOUNT_ID,
    TOPIC_ARN,
    DocumentParameter,
    Parameter,
    Permission,
    RemediationSpec,
    allow,
    document,
    record_permissions,
)

# Service Authorization Reference, AWS Budget Service: ViewBudget and ModifyBudget require the
# `budget` resource type, arn:${Partition}:budgets::${Account}:budget/${BudgetName}. The
# remediation reads every budget (the rule's decision) but changes only mamori's own.
ANY_BUDGET = "arn:${AWS::Partition}:budgets::${AWS::AccountId}:budget/*"
MAMORIS_BUDGET = f"arn:${{AWS::Partition}}:budgets::${{AWS::AccountId}}:budget/{MAMORI_BUDGET}"
OUTPUTS = (("Changes", "StringList"),)

REMEDIATION = RemediationSpec(
    id="budget-alert",
    pack_parameters=(
        Parameter(
            "BudgetAmount",
            f"Monthly cost in USD of the budget {MAMORI_BUDGET} the remediation creates (alerts at 80% actual and "
            "100% forecasted).",
            "100",
            allowed_pattern=f"^({BUDGET_AMOUNT_PATTERN})$",
            max_length=16,
            constraint="an amount in USD above 0, with at most two decimals (e.g. 100 or 49.50)",
        ),
    ),
    remediate=document(
        "budget-alert",
        description=(
            f"Unless a whole-account cost budget already alerts someone (re-checked live with mamori-budget-alert's own "
            f"code), creates the monthly cost budget {MAMORI_BUDGET} with alerts at 80% actual and 100% forecasted cost "
            "to the mamori topic (and an email address), or adds those alerts to it if it exists without any. Records "
            "what it created for mamori-budget-alert-restore."
        ),
        parameters=(
            ACCOUNT_ID,
            DocumentParameter(
                "BudgetAmount",
                "String",
                "The budget's monthly cost in USD (the pack's BudgetAmount).",
                default="100",
                allowed_pattern=f"^({BUDGET_AMOUNT_PATTERN})$",
            ),
            TOPIC_ARN,
            DocumentParameter(
                "Email",
                "String",
                "An email address the alerts go to besides the topic (the pack's NotificationEmail); empty for none.",
                default="",
                allowed_pattern=r"^$|^[^@\s]+@[^@\s]+\.[^@\s]+$",
            ),
        ),
        permissions=(
            Permission("budgets:ViewBudget", ANY_BUDGET),
            # CreateBudget, or CreateNotification on an existing mamori-monthly-cost.
            Permission("budgets:ModifyBudget", MAMORIS_BUDGET),
            *record_permissions("budget-alert", "PutParameter"),
        ),
        outputs=OUTPUTS,
    ),
    restore=document(
        "budget-alert",
        restore=True,
        description=(
            f"Deletes what mamori-budget-alert created, as recorded at /mamori/budget-alert/<account>: the budget "
            f"{MAMORI_BUDGET} if it created it (only its own alerts if others were added since), else the alerts it "
            "added. Switch AutoRemediation off or create your own budget first, or the remediation runs again."
        ),
        parameters=(ACCOUNT_ID,),
        permissions=(
            *allow("budgets:ViewBudget", "budgets:ModifyBudget", on=MAMORIS_BUDGET),
            *record_permissions("budget-alert", "DeleteParameter"),
        ),
        outputs=(*OUTPUTS, ("Missing", "StringList")),
    ),
)
