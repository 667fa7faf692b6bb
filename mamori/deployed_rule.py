"""The parameters a deployed mamori rule evaluates with, read back from AWS Config.

A remediation takes the rule's list parameters (ProxyPorts, TrustedCidrs, ApprovedRegions) from
the rule itself, not as document parameters: a RemediationConfiguration passes at most 25
static values of 256 characters each (botocore config, StaticParameterValues and
StringWithCharLimit256), and the 34 commercial regions comma-joined are over 400. The rule's
InputParameters (at most 1,024 characters) are the one source of truth, and whoever may start
the document cannot pass wider ports or narrower regions than the deployed pack's.

Inlined into SSM documents: standard library, boto3 and botocore only.
"""

import json
from collections.abc import Mapping
from typing import Any

import boto3
import botocore.exceptions


class RuleNotDeployed(RuntimeError):
    """The rule the remediation takes its parameters from is not in this region."""


class ReadsDeployedRule:
    """A remediation that takes parameters from its paired rule: `paired_rule` names it.
    `mamori scan --plan` stands in for rule_parameters() with the scan's own parameter values
    (nothing is deployed then)."""

    paired_rule: str

    def rule_parameters(self) -> Mapping[str, str]:
        return rule_parameters(boto3.client("config"), self.paired_rule)


def rule_parameters(config: Any, rule_name: str) -> Mapping[str, str]:
    """The rule's InputParameters as Config holds them ({} when it has none)."""
    try:
        rules = config.describe_config_rules(ConfigRuleNames=[rule_name])["ConfigRules"]
    except botocore.exceptions.ClientError as error:
        if error.response["Error"]["Code"] != "NoSuchConfigRuleException":
            raise
        rules = []
    if not rules:
        raise RuleNotDeployed(
            f"The AWS Config rule {rule_name} is not deployed in this region: this remediation takes its parameters "
            "from the rule; changed nothing."
        )
    parameters = json.loads(rules[0].get("InputParameters") or "{}")
    if not isinstance(parameters, dict):
        raise RuleNotDeployed(f"{rule_name}'s InputParameters are not a JSON object; changed nothing.")
    return {str(name): str(value) for name, value in parameters.items()}
