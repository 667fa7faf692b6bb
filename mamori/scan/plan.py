"""`mamori scan --plan`: what each NON_COMPLIANT resource's remediation would change, from the
remediation's own dry run (mamori.remediation.run_remediation with DryRun=true) on live state.

The parameters are those the deployed RemediationConfiguration would pass (read from
template.yaml, so they cannot drift from the pack), with the pack's own resources stood in by
the names the pack gives them (the topic mamori-notifications, the deny-without-MFA policy):
a dry run only checks their form. Every call goes through the scan's read-only guard.
"""

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from mamori.catalog import ROOT, RuleSpec, load_unit_module
from mamori.deployed_rule import ReadsDeployedRule
from mamori.remediation import Plan, Remediation, run_remediation
from mamori.status import DRY_RUN

TEMPLATE = ROOT / "template.yaml"
NO_REMEDIATION = "NO_REMEDIATION"
FAILED = "FAILED"
# List outputs that say what a dry run would leave as it is, and how the plan says it.
KEPT_OUTPUTS = {"KeptOpen": "keep open"}


@dataclass(frozen=True)
class PlannedChange:
    document: str | None
    status: str  # the document's Status (DRY_RUN, NOTHING_TO_DO, ...), NO_REMEDIATION or FAILED
    message: str
    changes: tuple[str, ...] = ()
    outputs: dict[str, Any] = field(default_factory=dict)

    @property
    def summary(self) -> str:
        """The remediation's own dry-run message, then each planned change it does not name
        already, then what it would keep ('… changed nothing. Would: revoke tcp 3128 from
        0.0.0.0/0. Would keep open: tcp 0-3127 from 0.0.0.0/0, …')."""
        if self.status != DRY_RUN:
            return self.message
        text = self.message
        unnamed = [change for change in self.changes if change not in self.message]
        if unnamed:
            text += " Would: " + "; ".join(unnamed) + "."
        for output, words in KEPT_OUTPUTS.items():
            kept = self.outputs.get(output)
            if kept:
                text += f" Would {words}: " + ", ".join(str(item) for item in kept) + "."
        return text


@dataclass(frozen=True)
class Context:
    """Where the remediation would run: what the pack's own Refs resolve to there."""

    account: str
    region: str
    partition: str
    values: Mapping[str, str]  # pack parameter values (defaults and --param)


@functools.cache
def template() -> dict[str, Any]:
    return dict(yaml.safe_load(TEMPLATE.read_text()))


def _substitute(text: str, context: Context) -> str:
    pseudo = {"AWS::Region": context.region, "AWS::AccountId": context.account, "AWS::Partition": context.partition}
    return re.sub(r"\$\{([^}]+)\}", lambda match: pseudo.get(match.group(1), match.group(0)), text)


def _text(value: Any, context: Context) -> str:
    if isinstance(value, Mapping) and "Fn::Sub" in value:
        return _substitute(str(value["Fn::Sub"]), context)
    return str(value)


def resolve_ref(logical_id: str, context: Context) -> str:
    """What {"Ref": logical_id} gives in the deployed pack: a pack parameter's value, or the ARN
    of the pack's topic or managed policy by the name the template gives it."""
    if logical_id in context.values:
        return context.values[logical_id]
    resource = template()["Resources"].get(logical_id)
    if resource is None:
        raise KeyError(f"{logical_id} is neither a pack parameter nor a resource of template.yaml")
    properties = resource.get("Properties", {})
    if resource["Type"] == "AWS::SNS::Topic":
        return f"arn:{context.partition}:sns:{context.region}:{context.account}:{_text(properties['TopicName'], context)}"
    if resource["Type"] == "AWS::IAM::ManagedPolicy":
        name = _text(properties["ManagedPolicyName"], context)
        return f"arn:{context.partition}:iam::{context.account}:policy{properties.get('Path', '/')}{name}"
    raise ValueError(f"the scan cannot stand in for {logical_id} ({resource['Type']}) in a remediation's parameters")


def remediation_configuration(rule: RuleSpec) -> dict[str, Any] | None:
    resource = template()["Resources"].get(rule.remediation_config_id)
    return dict(resource) if resource else None


def remediation_inputs(rule: RuleSpec, resource_id: str, context: Context) -> dict[str, Any] | str:
    """The document's input payload as the RemediationConfiguration would start it (DryRun=true),
    or why there is no remediation to run."""
    link = rule.remediation
    configuration = remediation_configuration(rule)
    if link is None or configuration is None:
        return "no remediation: this rule only reports"
    unset = [name for name in link.requires if not context.values.get(name)]
    if unset:
        return f"no remediation deployed until {', '.join(link.requires)} are set (unset: {', '.join(unset)})"
    inputs: dict[str, Any] = {}
    for name, value in configuration["Properties"]["Parameters"].items():
        if name == "AutomationAssumeRole":
            continue  # SSM's, not the script's
        if "Fn::If" in value:
            condition, value, _ = value["Fn::If"]
            if not context.values.get(condition.removeprefix("Has")):
                continue  # an optional pack parameter left empty is not passed
        if "ResourceValue" in value:
            inputs[name] = resource_id
        else:
            inputs[name] = resolve_ref(value["StaticValue"]["Values"][0]["Ref"], context)
    document = template()["Resources"][_document_logical_id(configuration)]["Properties"]["Content"]
    for name, declared in document["parameters"].items():
        if name not in inputs and name != "AutomationAssumeRole" and "default" in declared:
            inputs[name] = declared["default"]
    inputs["DryRun"] = True
    return inputs


def _document_logical_id(configuration: Mapping[str, Any]) -> str:
    return str(configuration["Properties"]["TargetId"]["Ref"])


def remediation_class(remediation_id: str) -> type[Remediation[Any]]:
    """The one Remediation subclass remediations/<id>/remediate.py defines for its document."""
    module = load_unit_module("remediation", remediation_id, "remediate.py")
    found = [
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, Remediation)
        and value.__module__ == module.__name__
        and getattr(value, "remediation_id", None) == remediation_id
    ]
    if len(found) != 1:
        raise LookupError(f"remediations/{remediation_id}/remediate.py defines {len(found)} remediations for its document")
    return found[0]


def _as_scanned(unit: type[Remediation[Any]], rule: RuleSpec, context: Context) -> type[Remediation[Any]]:
    """A remediation that reads its paired rule's parameters gets the scan's (nothing is deployed
    yet): the rule as it would be deployed with them."""
    if not issubclass(unit, ReadsDeployedRule):
        return unit
    deployed = {p.name: context.values[p.name] for p in rule.parameters if context.values.get(p.name)}
    return type(unit.__name__, (unit,), {"rule_parameters": lambda self: deployed})


def dry_run(rule: RuleSpec, resource_id: str, context: Context) -> PlannedChange:
    """The remediation's own dry run for one resource, read-only."""
    inputs = remediation_inputs(rule, resource_id, context)
    if isinstance(inputs, str):
        return PlannedChange(None, NO_REMEDIATION, inputs)
    assert rule.remediation is not None
    document = f"mamori-{rule.remediation.document}"
    plans: list[Plan] = []
    try:
        unit = _as_scanned(remediation_class(rule.remediation.document), rule, context)(inputs)
        decide = unit.plan

        def plan_and_keep(target: Any) -> Any:
            decided = decide(target)
            if isinstance(decided, Plan):
                plans.append(decided)
            return decided

        unit.plan = plan_and_keep  # type: ignore[method-assign]
        outcome = run_remediation(unit)
    except Exception as error:  # reported per resource; WriteRefused ends up here too, loudly
        return PlannedChange(document, FAILED, f"{type(error).__name__}: {error}")
    changes = tuple(plans[0].changes) if plans and outcome["Status"] == DRY_RUN else ()
    outputs = {key: value for key, value in outcome.items() if key not in ("Status", "Message", "DryRun")}
    return PlannedChange(document, str(outcome["Status"]), str(outcome["Message"]), changes, outputs)
