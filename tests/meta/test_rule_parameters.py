"""Every parameter of every rule in the catalog, given misspelt and given malformed: the rule
answers rdklib's customer error with a message naming the parameter, makes no API call and
writes no evaluation (a misspelt parameter must never fall back to its default in silence).

Misspellings are derived from each parameter's name. A malformed value is derived from the
parameter's allowed_pattern when one of CANDIDATES violates it; MALFORMED adds the values a
pattern cannot rule out (a port above 65535, a region that does not exist) and must name one
for any parameter without a pattern: a new parameter with neither fails here."""

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pytest

from harness.aws import Sandbox
from harness.config_events import change_event, configuration_item, periodic_event
from harness.pack import deployed_rule_parameters, invoke_rule, lambda_principal
from mamori.catalog import Parameter, RuleSpec, load_rules

# Tried against each allowed_pattern; the first that violates it is that parameter's malformed value.
CANDIDATES = ("not valid!", "abc", "-1")
# Malformed values no pattern rules out, or for parameters without a pattern, by parameter name.
# (tests/rules/ pin the exact wording of the answers to further malformed values.)
MALFORMED: Mapping[str, tuple[str, ...]] = {
    # Issue 11, item 6: "3128-" was read as 3128 and "pl-" was accepted.
    "ProxyPorts": ("99999", "8000-80", "3128-"),
    "TrustedCidrs": ("10.0.0.0/33", "pl-"),
    "ApprovedRegions": ("not-a-region",),
    "MaxExemptionDays": ("0", "400"),
}
# A valid value for each parameter that has no default (required, or optional and empty), given
# under the misspelt name: only the name is wrong.
VALID: Mapping[str, str] = {
    "TrustedCidrs": "203.0.113.0/24",
    "ExpectedSecurityEmail": "security@example.com",
    "MaxKeyAgeDays": "365",
    "ApprovedRegions": "us-east-1",
}
CUSTOMER_ERROR = "InvalidParameterValueException"


@dataclass(frozen=True)
class Case:
    rule: RuleSpec
    parameters: dict[str, str]  # the InputParameters the rule is deployed with
    named: str  # what the error message must name
    value: str | None = None  # the malformed value it must name too
    problem: str | None = None  # why no case could be made: the test fails with this

    @property
    def id(self) -> str:
        return f"{self.rule.id}-{self.named}" + (f"={self.value}" if self.value is not None else "")


def _deployed(rule: RuleSpec, **values: str) -> dict[str, str]:
    """As deployed, every parameter with a value: its default, or VALID's for one without."""
    required = {p.name: VALID[p.name] for p in rule.parameters if not p.default and p.name in VALID}
    return deployed_rule_parameters(rule.id, **{**required, **values})


def misspellings(name: str) -> tuple[str, str]:
    """The name with its first letter's case changed, and with its last letter dropped."""
    return name[0].swapcase() + name[1:], name[:-1]


def derived_malformed(parameter: Parameter) -> tuple[str, ...]:
    if parameter.allowed_pattern is None:
        return ()
    return tuple(c for c in CANDIDATES if not re.search(parameter.allowed_pattern, c))[:1]


def misspelt_cases(rules: Iterable[RuleSpec] | None = None) -> Iterator[Case]:
    for rule in load_rules() if rules is None else rules:
        if not rule.parameters:
            # A rule without parameters refuses any.
            yield Case(rule, {**_deployed(rule), "Regions": "us-east-1"}, "Regions")
        for parameter in rule.parameters:
            value = parameter.default or VALID.get(parameter.name)
            if value is None:
                yield Case(rule, {}, parameter.name, problem=f"VALID has no value for {parameter.name} (no default)")
                continue
            for wrong in misspellings(parameter.name):
                parameters = {k: v for k, v in _deployed(rule).items() if k != parameter.name}
                yield Case(rule, {**parameters, wrong: value}, wrong)


def malformed_cases(rules: Iterable[RuleSpec] | None = None) -> Iterator[Case]:
    for rule in load_rules() if rules is None else rules:
        for parameter in rule.parameters:
            values = derived_malformed(parameter) + tuple(MALFORMED.get(parameter.name, ()))
            if not values:
                yield Case(
                    rule,
                    {},
                    parameter.name,
                    problem=f"no malformed value for {parameter.name}: give it an allowed_pattern or an entry in MALFORMED",
                )
            for value in values:
                yield Case(rule, _deployed(rule, **{parameter.name: value}), parameter.name, value)


def _event(rule: RuleSpec, parameters: Mapping[str, str]) -> dict[str, Any]:
    if rule.trigger == "periodic":
        return periodic_event(rule.config_rule_name, parameters)
    # Parameters are checked before the configuration item is read: any item of the type will do.
    item = configuration_item(rule.resource_types[0], "resource-0123456789abcdef0", {})
    return change_event(rule.config_rule_name, item, parameters)


def _assert_refused(sandbox: Sandbox, case: Case) -> str:
    if case.problem:
        pytest.fail(case.problem)

    response = invoke_rule(sandbox, case.rule.id, _event(case.rule, case.parameters))

    assert isinstance(response, dict) and response.get("customerErrorCode") == CUSTOMER_ERROR, response
    message = str(response["customerErrorMessage"])
    assert case.named in message, message
    assert sandbox.config.put_evaluations_calls == 0 and case.rule.config_rule_name not in sandbox.config.evaluations
    assert not sandbox.calls_by(lambda_principal(case.rule.config_rule_name))  # refused before any call
    return message


@pytest.mark.parametrize("case", list(misspelt_cases()), ids=lambda case: case.id)
def test_a_misspelt_parameter_is_refused_naming_it_and_what_the_rule_takes(sandbox: Sandbox, case: Case) -> None:
    message = _assert_refused(sandbox, case)

    assert message.startswith(f"Unknown rule parameter(s) {case.named}"), message
    for parameter in case.rule.parameters:
        assert parameter.name in message, f"{message!r} does not say the rule takes {parameter.name}"


@pytest.mark.parametrize("case", list(malformed_cases()), ids=lambda case: case.id)
def test_a_malformed_parameter_value_is_refused_naming_the_parameter_and_the_value(sandbox: Sandbox, case: Case) -> None:
    message = _assert_refused(sandbox, case)

    assert case.value is not None and case.value.strip() in message, message


def test_every_parameter_gets_its_misspellings_and_a_malformed_value() -> None:
    """The cases come from the catalog; a parameter nothing can be derived for is a failing case."""
    rules = load_rules()
    parameters = [(rule.id, p.name) for rule in rules for p in rule.parameters]
    misspelt = [case for case in misspelt_cases() if case.problem is None]
    malformed = [case for case in malformed_cases() if case.problem is None]

    assert parameters, "the catalog declares no parameter"
    assert {(c.rule.id, c.named) for c in malformed} == set(parameters)
    assert len(misspelt) == 2 * len(parameters) + sum(1 for rule in rules if not rule.parameters)
    assert misspellings("ProxyPorts") == ("proxyPorts", "ProxyPort")
    assert derived_malformed(Parameter("Hours", "", "24", allowed_pattern=r"^\d+$", constraint="a number")) == ("not valid!",)
    assert derived_malformed(Parameter("Anything", "", "")) == ()
    new = RuleSpec(
        "new-rule", "", "periodic", ("AWS::::Account",), (), parameters=(Parameter("NewThing", "a new parameter", ""),)
    )
    assert [c.problem for c in malformed_cases([new])] == [
        "no malformed value for NewThing: give it an allowed_pattern or an entry in MALFORMED"
    ]
    assert [c.problem for c in misspelt_cases([new])] == ["VALID has no value for NewThing (no default)"]
