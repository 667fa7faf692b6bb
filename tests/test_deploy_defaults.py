"""A first deploy changes nothing by surprise: samconfig's default environment is report-only,
`--config-env enforce` turns remediation on, and EnforcedRules (checked against the catalog)
chooses the rules that act on their own.

The template's conditions are evaluated here as CloudFormation evaluates them (Fn::And, Fn::Or,
Fn::Not, Fn::Equals, Fn::Join, Fn::Split, Ref, Condition), for the parameter values a deploy
would pass; cfn-lint and `sam validate --lint` (make check-template) check that CloudFormation
accepts them."""

import re
import shlex
import tomllib
from collections.abc import Mapping
from typing import Any

import pytest

from harness.pack import template
from mamori.catalog import ROOT, load_rules

REMEDIATED = [rule for rule in load_rules() if rule.remediation is not None]


def deploy_values(environment: str) -> dict[str, str]:
    """The parameters `sam deploy [--config-env environment]` passes (samconfig.toml), over the template's defaults."""
    overrides = tomllib.loads((ROOT / "samconfig.toml").read_text())[environment]["deploy"]["parameters"]["parameter_overrides"]
    pairs = overrides if isinstance(overrides, list) else shlex.split(overrides)
    values = {name: str(body["Default"]) for name, body in template()["Parameters"].items() if "Default" in body}
    values.update(dict(pair.split("=", 1) for pair in pairs))
    return values


def evaluate(node: Any, values: Mapping[str, str]) -> Any:
    conditions = template()["Conditions"]
    if isinstance(node, str):
        return node
    if isinstance(node, list):
        return [evaluate(item, values) for item in node]
    (function, argument), *rest = node.items()
    assert not rest, node
    if function == "Ref":
        return values[argument]
    if function == "Condition":
        return evaluate(conditions[argument], values)
    if function == "Fn::And":
        return all(evaluate(item, values) for item in argument)
    if function == "Fn::Or":
        return any(evaluate(item, values) for item in argument)
    if function == "Fn::Not":
        return not evaluate(argument[0], values)
    if function == "Fn::Equals":
        return evaluate(argument[0], values) == evaluate(argument[1], values)
    if function == "Fn::Join":
        return argument[0].join(evaluate(argument[1], values))
    if function == "Fn::Split":
        return evaluate(argument[1], values).split(argument[0])
    raise AssertionError(f"not a condition function: {function}")


def automatic(values: Mapping[str, str]) -> set[str]:
    """The rules whose RemediationConfiguration is Automatic with these parameter values."""
    found = set()
    for rule in REMEDIATED:
        configuration = template()["Resources"][rule.remediation_config_id]["Properties"]["Automatic"]
        condition, when_true, when_false = configuration["Fn::If"]
        if evaluate({"Condition": condition}, values):
            assert when_true is True
            found.add(rule.id)
        else:
            assert when_false is False
    return found


def test_samconfig_default_environment_deploys_report_only() -> None:
    values = deploy_values("default")
    assert values["AutoRemediation"] == "false"
    assert automatic(values) == set()
    assert not evaluate({"Condition": "AbuseResponseOn"}, values), "the abuse responder changes groups: off too"


def test_the_template_alone_is_report_only_too() -> None:
    assert template()["Parameters"]["AutoRemediation"]["Default"] == "false"


def test_the_enforce_environment_turns_every_remediation_on() -> None:
    values = deploy_values("enforce")
    assert values["AutoRemediation"] == "true"
    assert automatic(values) == {rule.id for rule in REMEDIATED}


@pytest.mark.parametrize(
    ("enforced", "expected"),
    [
        ("open-proxy-ports", {"open-proxy-ports"}),
        ("open-proxy-ports,stale-access-keys", {"open-proxy-ports", "stale-access-keys"}),
        ("root-mfa", {"root-mfa"}),  # not the console-MFA rule, though its id ends the same way
        ("iam-user-console-mfa,root-mfa", {"iam-user-console-mfa", "root-mfa"}),
    ],
)
def test_enforced_rules_choose_which_remediations_act_on_their_own(enforced: str, expected: set[str]) -> None:
    assert automatic({**deploy_values("enforce"), "EnforcedRules": enforced}) == expected
    assert automatic({**deploy_values("default"), "EnforcedRules": enforced}) == set(), "AutoRemediation false wins"


@pytest.mark.parametrize(
    "value", ["all", "open-proxy-ports", "budget-alert,unapproved-regions", ",".join(rule.id for rule in REMEDIATED)]
)
def test_enforced_rules_accepts_catalog_ids(value: str) -> None:
    assert re.fullmatch(template()["Parameters"]["EnforcedRules"]["AllowedPattern"], value)


@pytest.mark.parametrize(
    "value", ["", "open-proxy-port", "open-proxy-ports, root-mfa", "open-proxy-ports,", "ALL", "all,root-mfa", "mamori-root-mfa"]
)
def test_enforced_rules_refuses_what_is_not_in_the_catalog(value: str) -> None:
    assert not re.fullmatch(template()["Parameters"]["EnforcedRules"]["AllowedPattern"], value)


def test_readme_parameter_table_lists_every_pack_parameter() -> None:
    readme = (ROOT / "README.md").read_text()
    table = readme.split("### Parameters\n", 1)[1].split("\n\n", 1)[0]
    listed = set(re.findall(r"`([A-Za-z0-9]+)`", "\n".join(line.split(" | ")[0] for line in table.splitlines())))
    missing = sorted(set(template()["Parameters"]) - listed)
    assert not missing, f"README's Deploy > Parameters table lacks {missing}"
