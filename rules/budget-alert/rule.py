"""mamori-budget-alert: some cost budget over all of the account's costs must have an alert
that reaches someone.

In the leaked-root-key incident attackers ran up $2,798 within days, in regions nobody looked
at, and nobody was told. Reads DescribeBudgets (100 a page) and, for whole-account cost
budgets only, their alerts and each alert's subscribers, until the first alert with a
subscriber. Evaluates the account (AWS::::Account, resource id = account id).
"""

from typing import Any

from rdklib import ComplianceType, ConfigRule, Evaluation, Evaluator

from mamori import config_rule
from mamori.budgets import find_budget_alert

RESOURCE_TYPE = "AWS::::Account"


class BudgetAlert(ConfigRule):  # type: ignore[misc]
    # The only resource is the account, evaluated again each time: nothing old to clean up.
    delete_old_evaluations_on_scheduled_notification = False

    def evaluate_parameters(self, rule_parameters: dict[str, Any]) -> dict[str, Any]:
        config_rule.check_parameter_names(rule_parameters, set())
        return {}

    def evaluate_periodic(self, event: dict[str, Any], client_factory: Any, valid_rule_parameters: dict[str, Any]) -> list[Any]:
        account = config_rule.account_id(event)
        # Budgets is global: boto3 reaches budgets.amazonaws.com from any region.
        finding = find_budget_alert(client_factory.build_client("budgets"), account)
        compliance = ComplianceType.COMPLIANT if finding.compliant else ComplianceType.NON_COMPLIANT
        return [Evaluation(compliance, account, RESOURCE_TYPE, annotation=finding.annotation)]


def lambda_handler(event: Any, context: Any) -> Any:
    return config_rule.handle(Evaluator(BudgetAlert(), [RESOURCE_TYPE]), event, context)
