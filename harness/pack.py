"""Run the pack as deployed: rule Lambdas invoked the way Config invokes them, and SSM
Automation documents executed step by step from template.yaml (moto runs no automation).

Both run under what template.yaml grants their role: actions, resources and conditions
(see harness.aws.Sandbox). The harness reads the generated templates (template.yaml,
org-template.yaml) and the specs; it never runs the generator.
"""

import functools
import importlib.abc
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import botocore.exceptions
import yaml

from harness.authorization import Policy, Resolver, physical_names, role_policy
from harness.aws import ACCOUNT, REGION, Sandbox
from mamori.catalog import document_spec, load_rules, load_unit_module, rule_spec

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
ORG_TEMPLATE = ROOT / "org-template.yaml"
# Passed as AutomationAssumeRole; the sandbox enforces the role's actions from the template.
AUTOMATION_ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/mamori/mamori-automation"
# Used by Lambda itself, not the code: its logs, and an invocation that failed for good sent to
# the function's on-failure destination (the dead-letter queue) with the function's role.
RUNTIME_ACTIONS = frozenset({"logs:CreateLogStream", "logs:PutLogEvents", "sqs:SendMessage"})
# Checked by a service on the caller's behalf, never called by the code: SNS encrypts with the
# topic's KMS key as the publisher; GuardDuty creates its service-linked role with the caller's
# permission; SSM checks iam:PassRole for the AutomationAssumeRole a starter passes.
ON_BEHALF_ACTIONS = frozenset({"kms:GenerateDataKey", "kms:Decrypt", "iam:CreateServiceLinkedRole", "iam:PassRole"})
NOT_CALLED_BY_CODE = RUNTIME_ACTIONS | ON_BEHALF_ACTIONS


@functools.cache
def template() -> dict[str, Any]:
    return yaml.safe_load(TEMPLATE.read_text())


@functools.cache
def org_template() -> dict[str, Any]:
    """org-template.yaml: the pack plus what only the management account runs (the central responder)."""
    return yaml.safe_load(ORG_TEMPLATE.read_text())


def make_deduplication_table() -> str:
    """The pack's DeduplicationTable (mamori.deduplication's store), created in moto as
    template.yaml declares it; its name. moto keeps items and checks conditions; it never
    expires them by TTL, which the code does not rely on."""
    import boto3

    properties = template()["Resources"]["DeduplicationTable"]["Properties"]
    dynamodb = boto3.client("dynamodb")
    dynamodb.create_table(
        TableName=properties["TableName"],
        BillingMode=properties["BillingMode"],
        AttributeDefinitions=properties["AttributeDefinitions"],
        KeySchema=properties["KeySchema"],
    )
    dynamodb.update_time_to_live(TableName=properties["TableName"], TimeToLiveSpecification=properties["TimeToLiveSpecification"])
    return str(properties["TableName"])


def resolved_environment(function: Mapping[str, Any], **refs: str) -> dict[str, str]:
    """A function's environment as CloudFormation resolves it, given the value of each Ref it
    uses (a Ref without one is an error: the test must say what it deploys)."""
    environment = {}
    for key, value in function["Properties"].get("Environment", {}).get("Variables", {}).items():
        if isinstance(value, str):
            environment[key] = value
        elif isinstance(value, dict) and "Ref" in value:
            environment[key] = refs[value["Ref"]]
    return environment


def granted_actions(role_logical_id: str, source: Mapping[str, Any] | None = None) -> frozenset[str]:
    """Every action the role's inline policies allow, as written in template.yaml (or the
    template given, e.g. org_template())."""
    role = (source or template())["Resources"][role_logical_id]
    actions: set[str] = set()
    for policy in role["Properties"].get("Policies", []):
        for statement in policy["PolicyDocument"]["Statement"]:
            if statement["Effect"] == "Allow":
                listed = statement["Action"]
                actions.update([listed] if isinstance(listed, str) else listed)
    return frozenset(actions)


# What a name CloudFormation makes up (a role's, a key's id) is in the sandbox's ARNs.
MADE_UP_NAME = "-made-up-by-cloudformation"


def resolver(source: Mapping[str, Any] | None = None, **parameters: str) -> Resolver:
    """Resolves the template's values as CloudFormation would in the sandbox's account and
    region: pseudo parameters, template parameters (given, else their defaults), and the ARNs of
    the template's own resources from the names it gives them."""
    source = source or template()
    values = {"AWS::Partition": "aws", "AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::URLSuffix": "amazonaws.com"}
    for name, declared in (source.get("Parameters") or {}).items():
        values[name] = parameters.get(name, str(declared.get("Default", f"<{name} unset>")))
    return Resolver(
        values,
        physical_names(source["Resources"], "aws", REGION, ACCOUNT, MADE_UP_NAME),
        unknown=lambda name: f"<unresolved {name}>",
    )


def role_grants(role_logical_id: str, source: Mapping[str, Any] | None = None, withheld: frozenset[str] | None = None) -> Policy:
    """The role's inline policies as the sandbox enforces them: actions and resources, from
    template.yaml (or the template given, e.g. org_template()). withheld: actions refused to the
    code whatever the role grants (default: NOT_CALLED_BY_CODE, which a service uses for it)."""
    source = source or template()
    return role_policy(
        source["Resources"][role_logical_id], resolver(source), NOT_CALLED_BY_CODE if withheld is None else withheld
    )


def grant_gaps(sandbox: Sandbox, principal: str, role_logical_id: str) -> tuple[set[str], set[str]]:
    """(granted but never called, called but not granted) for a principal the sandbox counted."""
    called = set(sandbox.calls_by(principal))
    granted = set(granted_actions(role_logical_id) - NOT_CALLED_BY_CODE)
    return granted - called, called - granted


def _function_role(function_name: str) -> str:
    for _logical_id, resource in template()["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function" and resource["Properties"]["FunctionName"] == function_name:
            return str(resource["Properties"]["Role"]["Fn::GetAtt"][0])
    raise KeyError(function_name)


def deployed_rule_parameters(rule_id: str, **overrides: str) -> dict[str, str]:
    """The InputParameters the template gives the rule with default pack parameters."""
    parameters = {"AssumeRoleMode": "false"}
    for parameter in rule_spec(rule_id).parameters:
        if parameter.default:  # "" (optional, unset) and None (required) are not passed
            parameters[parameter.name] = parameter.default
    parameters.update(overrides)
    return parameters


def deploy_rule(sandbox: Sandbox, rule_id: str, **overrides: str) -> dict[str, str]:
    """The rule as deployed with these pack parameters (else the defaults), in the Config
    stand-in: its paired remediation reads the rule's parameters back (mamori.deployed_rule)."""
    parameters = deployed_rule_parameters(rule_id, **overrides)
    sandbox.config.deploy_rule(rule_spec(rule_id).config_rule_name, parameters)
    return parameters


def _paired_rule(document_name: str) -> str | None:
    """The id of the rule whose remediation the document belongs to, if any."""
    for rule in load_rules():
        if rule.remediation is not None and document_name in (
            f"mamori-{rule.remediation.document}",
            f"mamori-{rule.remediation.document}-restore",
        ):
            return rule.id
    return None


def invoke_rule(sandbox: Sandbox, rule_id: str, event: Any) -> Any:
    """Call the rule's real lambda_handler as Config would, with its deployed role's actions."""
    spec = rule_spec(rule_id)
    module = load_unit_module("rule", rule_id, spec.handler.split(".")[0] + ".py")
    handler = getattr(module, spec.handler.split(".")[1])
    with sandbox.acting_as(lambda_principal(spec.config_rule_name), role_grants(_function_role(spec.config_rule_name))):
        return handler(event, LambdaContext(spec.config_rule_name))


def lambda_principal(function_name: str) -> str:
    """How the sandbox names a rule Lambda in its call counts."""
    return f"lambda:{function_name}"


def automation_principal(document_name: str) -> str:
    """How the sandbox names an SSM document's automation in its call counts."""
    return f"automation:{document_name}"


@dataclass
class LambdaContext:
    function_name: str
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.function_name}"


# --- SSM Automation ----------------------------------------------------------------------

SUPPORTED_ACTIONS = ("aws:executeScript",)
_REFERENCE = re.compile(r"\{\{\s*([A-Za-z0-9_.]+)\s*\}\}")


@dataclass
class AutomationResult:
    status: str  # "Success" or "Failed", as SSM reports it
    outputs: dict[str, Any] = field(default_factory=dict)
    failure: str = ""


def documents() -> dict[str, tuple[str, dict[str, Any]]]:
    """{document name: (logical id, content)} from template.yaml."""
    found = {}
    for logical_id, resource in template()["Resources"].items():
        if resource["Type"] == "AWS::SSM::Document":
            found[resource["Properties"]["Name"]] = (logical_id, resource["Properties"]["Content"])
    return found


def document_role(document_name: str) -> str:
    """The role a RemediationConfiguration or the stack outputs pair with the document."""
    return document_spec(document_name).role_id


def _is_mamori(module_name: str) -> bool:
    return module_name == "mamori" or module_name.startswith("mamori.")


@contextmanager
def own_mamori_modules() -> Iterator[None]:
    """A document's script registers its own mamori modules in sys.modules (tools/scripts.py),
    in this process. Inside, only those exist, as in SSM (an import the script did not inline
    fails here too); afterwards the real package is put back, or every later import of mamori
    would get the script's copies."""
    saved = {name: module for name, module in sys.modules.items() if _is_mamori(name)}
    for name in saved:
        del sys.modules[name]
    # No finder may bring in the real package meanwhile (an editable install's finder would).
    sys.meta_path.insert(0, _NO_MAMORI_BUT_INLINED)
    try:
        yield
    finally:
        sys.meta_path.remove(_NO_MAMORI_BUT_INLINED)
        for name in [name for name in sys.modules if _is_mamori(name) and name not in saved]:
            del sys.modules[name]
        sys.modules.update(saved)


class _NoMamoriButInlined(importlib.abc.MetaPathFinder):
    """Finds no mamori module: a script has only those it registered in sys.modules."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> None:
        if _is_mamori(fullname):
            raise ModuleNotFoundError(f"No module named {fullname!r} (not inlined into the script)", name=fullname)
        return None


_NO_MAMORI_BUT_INLINED = _NoMamoriButInlined()


def _typed(name: str, spec: Mapping[str, Any], value: Any) -> Any:
    kind = spec["type"]
    if kind != "StringList" and isinstance(value, list) and len(value) == 1:
        value = value[0]  # Config and StartAutomationExecution pass every value as a list
    if kind == "Boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise ValueError(f"Parameter {name} must be a Boolean")
    if kind == "String":
        if not isinstance(value, str):
            raise ValueError(f"Parameter {name} must be a String")
        pattern = spec.get("allowedPattern")
        if pattern and not re.search(pattern, value):
            raise ValueError(f"Parameter {name} value {value!r} does not match allowedPattern {pattern}")
        return value
    raise ValueError(f"Parameter type {kind} is not supported by this runner")


def _resolve(value: Any, context: Mapping[str, Any]) -> Any:
    if isinstance(value, str):
        whole = _REFERENCE.fullmatch(value.strip())
        if whole:
            return context[whole.group(1)]
        return _REFERENCE.sub(lambda m: str(context[m.group(1)]), value)
    if isinstance(value, dict):
        return {k: _resolve(v, context) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, context) for v in value]
    return value


def run_document(sandbox: Sandbox, name: str, parameters: Mapping[str, Any]) -> AutomationResult:
    """Execute the document's steps as SSM Automation would: parameters validated against
    the document, {{ }} resolved, each aws:executeScript step's Script exec'd and its
    handler called with the InputPayload, outputs selected. A step that raises fails the
    automation, as SSM does."""
    _, content = documents()[name]
    paired = _paired_rule(name)
    if paired is not None and rule_spec(paired).config_rule_name not in sandbox.config.rules:
        deploy_rule(sandbox, paired)  # the pack deployed with its defaults, unless the test deployed it
    declared = content["parameters"]
    unknown = set(parameters) - set(declared)
    if unknown:
        return AutomationResult("Failed", failure=f"InvalidAutomationExecutionParametersException: unknown {sorted(unknown)}")
    context: dict[str, Any] = {}
    try:
        for parameter, spec in declared.items():
            if parameter in parameters:
                context[parameter] = _typed(parameter, spec, parameters[parameter])
            elif "default" in spec:
                context[parameter] = spec["default"]
            else:
                raise ValueError(f"Parameter {parameter} is required")
    except ValueError as error:
        return AutomationResult("Failed", failure=f"InvalidAutomationExecutionParametersException: {error}")

    outputs: dict[str, Any] = {}
    actions = role_grants(document_role(name))
    for step in content["mainSteps"]:
        if step["action"] not in SUPPORTED_ACTIONS:
            raise NotImplementedError(f"this runner does not run {step['action']}")
        inputs = step["inputs"]
        payload = _resolve(inputs.get("InputPayload", {}), context)
        namespace: dict[str, Any] = {"__name__": f"ssm_{step['name']}"}
        try:
            with own_mamori_modules():
                exec(compile(inputs["Script"], f"<{name}:{step['name']}>", "exec"), namespace)
                with sandbox.acting_as(automation_principal(name), actions):
                    result = namespace[inputs["Handler"]](payload, None)
        except Exception as error:  # SSM reports any exception of the script as the step's failure
            return AutomationResult("Failed", outputs, f"Step {step['name']} failed: {type(error).__name__}: {error}")
        for output in step.get("outputs", []):
            key = output["Selector"].removeprefix("$.Payload.")
            value = result.get(key) if isinstance(result, dict) else None
            if output["Type"] == "StringList" and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
                return AutomationResult("Failed", outputs, f"output {output['Name']} is not a StringList: {value!r}")
            if output["Type"] == "String" and not isinstance(value, str):
                return AutomationResult("Failed", outputs, f"output {output['Name']} is not a String: {value!r}")
            outputs[f"{step['name']}.{output['Name']}"] = value
            context[f"{step['name']}.{output['Name']}"] = value
    return AutomationResult("Success", outputs)


def remediation_parameters(
    rule_id: str, resource_id: str, pack_values: Mapping[str, str] | None = None, **overrides: Any
) -> dict[str, Any]:
    """The parameters the RemediationConfiguration passes for this resource, as Config would
    start the automation. pack_values gives what a Ref resolves to here: a pack resource
    ({"NotificationTopic": <moto topic arn>}) or a pack parameter set at deployment; other
    pack parameters take their template default, and unset optional ones are left out."""
    pack_values = pack_values or {}
    declared = template().get("Parameters", {})
    for resource in template()["Resources"].values():
        if resource["Type"] != "AWS::Config::RemediationConfiguration":
            continue
        if resource["Properties"]["ConfigRuleName"] != {"Ref": rule_spec(rule_id).logical_id}:
            continue
        parameters: dict[str, Any] = {}
        for name, value in resource["Properties"]["Parameters"].items():
            optional = "Fn::If" in value
            if optional:
                value = value["Fn::If"][1]
            if "ResourceValue" in value:
                parameters[name] = resource_id
            elif name == "AutomationAssumeRole":
                parameters[name] = AUTOMATION_ROLE_ARN
            else:
                ref = value["StaticValue"]["Values"][0]["Ref"]
                if ref in pack_values:
                    parameters[name] = pack_values[ref]
                elif optional:
                    continue  # present only when the pack parameter is set; unset by default
                elif ref in declared and "Default" in declared[ref]:
                    parameters[name] = str(declared[ref]["Default"])
                else:
                    parameters[name] = f"<{ref}>"
        parameters.update(overrides)
        return parameters
    raise KeyError(f"no RemediationConfiguration for {rule_id}")


@dataclass
class AutomationRun:
    document: str
    parameters: dict[str, Any]
    result: AutomationResult
    execution_id: str


def run_automations(sandbox: Sandbox) -> list[AutomationRun]:
    """Let StartAutomationExecution run the document (moto runs no automation): the sandbox
    answers the call with an execution id and this runner executes the document from
    template.yaml at once. Returns the list the runs are appended to."""
    runs: list[AutomationRun] = []

    def runner(document: str, parameters: dict[str, list[str]]) -> str:
        if document not in documents():
            raise botocore.exceptions.ClientError(
                {"Error": {"Code": "InvalidDocument", "Message": f"{document} does not exist"}}, "StartAutomationExecution"
            )
        execution_id = sandbox.next_execution_id()
        runs.append(AutomationRun(document, dict(parameters), run_document(sandbox, document, parameters), execution_id))
        return execution_id

    sandbox.automation_runner = runner
    return runs
