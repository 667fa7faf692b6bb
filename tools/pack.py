"""The single-account pack (template.yaml) as a dict, built once from template/base.yaml and the
specs: the first stage of the generator. member-template.yaml and org-template.yaml are made
from its result (tools/member_template.py, tools/org_template.py), never by building it again.

Each rule folder becomes a Lambda (its own role and log group), a Config rule and the permission
for Config to invoke it; each remediation folder becomes its SSM Automation documents (the
script with the mamori modules it imports, tools/scripts.py), one least-privilege role per
document, and the RemediationConfiguration that pairs it with its rule; each responder of the
pack becomes a Lambda with its EventBridge events (tools/lambdas.py).
"""

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mamori.catalog import (
    ROLE_PATH,
    DocumentSpec,
    RemediationSpec,
    ResponderSpec,
    RuleSpec,
    load_remediations,
    load_responders,
    load_rules,
    record_key_conditions,
)
from tools.cfn import check_references, sub, template_parameter
from tools.lambdas import LambdaFunction, lambda_resources, policy_statements, responder_resources
from tools.limits import check_document_size
from tools.record_key import add_record_signers
from tools.scripts import inline_script

ROOT = Path(__file__).resolve().parent.parent
BASE = ROOT / "template" / "base.yaml"
# The newest Python that SSM aws:executeScript documents (AWS's own current runbooks use it).
SCRIPT_RUNTIME = "python3.11"


# The pack parameter naming the rules whose remediation runs automatically when AutoRemediation
# is "true": "all", or rule ids joined by commas, checked against the catalog by its pattern.
ENFORCED_RULES = "EnforcedRules"


def enforced_rules_parameter(rules: list[RuleSpec]) -> dict[str, Any]:
    ids = sorted(rule.id for rule in rules if rule.remediation is not None)
    one = "(" + "|".join(ids) + ")"  # ids are lower-case words joined by '-' (RULE_ID): nothing to escape
    return {
        "Type": "String",
        "Default": "all",
        "AllowedPattern": f"^(all|{one}(,{one})*)$",
        # Every id once is the longest list that means something.
        "MaxLength": len(",".join(ids)),
        "ConstraintDescription": (
            f"{ENFORCED_RULES}: all, or rule ids joined by commas without spaces, of: {', '.join(ids)}, "
            f"at most {len(','.join(ids))} characters."
        ),
        "Description": (
            "With AutoRemediation true: the rules whose remediation runs automatically, 'all' or ids joined by commas "
            "(e.g. open-proxy-ports,stale-access-keys); the others only report (run their documents by hand)."
        ),
    }


def enforced_condition(rule: RuleSpec) -> dict[str, Any]:
    """AutoRemediation on, and EnforcedRules 'all' or listing the rule: ',<id>,' is found in
    ',<EnforcedRules>,' when splitting on it changes the text (conditions have no Fn::Contains)."""
    listed = {"Fn::Join": ["", [",", {"Ref": ENFORCED_RULES}, ","]]}
    contains = {"Fn::Not": [{"Fn::Equals": [{"Fn::Join": ["", {"Fn::Split": [f",{rule.id},", listed]}]}, listed]}]}
    chosen = {"Fn::Or": [{"Fn::Equals": [{"Ref": ENFORCED_RULES}, "all"]}, contains]}
    return {"Fn::And": [{"Condition": "AutoRemediationOn"}, chosen]}


class PackError(ValueError):
    """The specs do not make a consistent pack; the message names what disagrees."""


@dataclass(frozen=True)
class Specs:
    """Every spec of the catalog, loaded once."""

    rules: dict[str, RuleSpec]
    remediations: dict[str, RemediationSpec]
    responders: dict[str, ResponderSpec]

    @classmethod
    def load(cls) -> "Specs":
        return cls(
            {rule.id: rule for rule in load_rules()},
            {remediation.id: remediation for remediation in load_remediations()},
            {responder.id: responder for responder in load_responders()},
        )

    def responders_of(self, template: str) -> list[ResponderSpec]:
        return [responder for responder in self.responders.values() if responder.template == template]


# --- documents --------------------------------------------------------------------------


def document_content(remediation: RemediationSpec, document: DocumentSpec, folder: Path | None = None) -> dict[str, Any]:
    """The document, its size checked against SSM's quota. folder: where the script is
    (the remediation's folder unless given)."""
    parameters: dict[str, Any] = {}
    for parameter in document.parameters:
        body: dict[str, Any] = {"type": parameter.type, "description": parameter.description}
        if parameter.default is not None:
            body["default"] = parameter.default
        if parameter.allowed_pattern:
            body["allowedPattern"] = parameter.allowed_pattern
        parameters[parameter.name] = body
    step = "Remediate" if document is remediation.remediate else "Restore"
    payload = {p.name: f"{{{{ {p.name} }}}}" for p in document.parameters if p.name != "AutomationAssumeRole"}
    content = {
        "schemaVersion": "0.3",
        "description": document.description,
        "assumeRole": "{{ AutomationAssumeRole }}",
        "parameters": parameters,
        "outputs": [f"{step}.{name}" for name, _ in document.outputs],
        "mainSteps": [
            {
                "name": step,
                "action": "aws:executeScript",
                "timeoutSeconds": document.timeout_seconds,
                "onFailure": "Abort",
                "isEnd": True,
                "inputs": {
                    "Runtime": SCRIPT_RUNTIME,
                    "Handler": document.handler,
                    "InputPayload": payload,
                    "Script": inline_script((folder or remediation.folder) / document.script),
                },
                "outputs": [{"Name": name, "Selector": f"$.Payload.{name}", "Type": kind} for name, kind in document.outputs],
            }
        ],
    }
    check_document_size(document.name, content)
    return content


def document_resources(remediation: RemediationSpec) -> dict[str, Any]:
    resources: dict[str, Any] = {}
    for document in remediation.documents:
        resources[document.logical_id] = {
            "Type": "AWS::SSM::Document",
            "Properties": {
                "Name": document.name,
                "DocumentType": "Automation",
                "DocumentFormat": "YAML",
                "UpdateMethod": "NewVersion",
                "Content": document_content(remediation, document),
                "Tags": [{"Key": "mamori:component", "Value": remediation.id}],
            },
        }
        resources[document.role_id] = {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "Description": f"Runs the SSM Automation document {document.name}; only the actions its script calls.",
                "Path": ROLE_PATH,
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "ssm.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                            "Condition": {
                                "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
                                "ArnLike": {
                                    "aws:SourceArn": sub(
                                        "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:automation-execution/*"
                                    )
                                },
                            },
                        }
                    ],
                },
                "Policies": [
                    {
                        "PolicyName": "calls",
                        "PolicyDocument": {
                            "Version": "2012-10-17",
                            "Statement": policy_statements(
                                document.permissions, record_key_conditions(document.permissions), document.name
                            ),
                        },
                    }
                ],
            },
        }
    return resources


# --- rules -------------------------------------------------------------------------------


def _remediation_configuration(
    rule: RuleSpec, remediation: RemediationSpec, pack_parameters: Mapping[str, Any]
) -> dict[str, Any]:
    link = rule.remediation
    assert link is not None
    parameters: dict[str, Any] = {
        "AutomationAssumeRole": {"StaticValue": {"Values": [{"Fn::GetAtt": [remediation.remediate.role_id, "Arn"]}]}},
        link.resource_id_parameter: {"ResourceValue": {"Value": "RESOURCE_ID"}},
    }
    defaults = {p.name: p.default for p in rule.parameters}
    for linked in link.parameters:
        static: dict[str, Any] = {"StaticValue": {"Values": [{"Ref": linked}]}}
        # An empty pack parameter is left out, not passed as "" (a required one is set whenever
        # the RemediationConfiguration exists at all).
        optional = defaults[linked] == "" and linked not in link.requires
        parameters[linked] = {"Fn::If": [f"Has{linked}", static, {"Ref": "AWS::NoValue"}]} if optional else static
    for document_parameter, logical_id in link.pack_values:
        static = {"StaticValue": {"Values": [{"Ref": logical_id}]}}
        optional = pack_parameters.get(logical_id, {}).get("Default") == "" and logical_id not in link.requires
        parameters[document_parameter] = {"Fn::If": [f"Has{logical_id}", static, {"Ref": "AWS::NoValue"}]} if optional else static
    configuration: dict[str, Any] = {
        "Type": "AWS::Config::RemediationConfiguration",
        "Properties": {
            "ConfigRuleName": {"Ref": rule.logical_id},
            "TargetType": "SSM_DOCUMENT",
            "TargetId": {"Ref": remediation.remediate.logical_id},
            "ResourceType": rule.resource_types[0],
            "Parameters": parameters,
            "Automatic": {"Fn::If": [rule.enforced_condition, True, False]},
            "MaximumAutomaticAttempts": link.maximum_automatic_attempts,
            "RetryAttemptSeconds": link.retry_attempt_seconds,
            "ExecutionControls": {"SsmControls": {"ConcurrentExecutionRatePercentage": 10, "ErrorPercentage": 10}},
        },
    }
    if link.requires:
        configuration["Condition"] = rule.remediation_condition
    return configuration


def rule_resources(
    rule: RuleSpec, remediations: Mapping[str, RemediationSpec], pack_parameters: Mapping[str, Any]
) -> dict[str, Any]:
    input_parameters: dict[str, Any] = {"AssumeRoleMode": "false"}
    for parameter in rule.parameters:
        value = {"Ref": parameter.name}
        input_parameters[parameter.name] = (
            {"Fn::If": [f"Has{parameter.name}", value, {"Ref": "AWS::NoValue"}]} if parameter.default == "" else value
        )
    source_details: list[dict[str, Any]]
    if rule.trigger == "configuration-change":
        source_details = [
            {"EventSource": "aws.config", "MessageType": "ConfigurationItemChangeNotification"},
            {"EventSource": "aws.config", "MessageType": "OversizedConfigurationItemChangeNotification"},
        ]
        if rule.sweep is not None:
            source_details.append(
                {
                    "EventSource": "aws.config",
                    "MessageType": "ScheduledNotification",
                    "MaximumExecutionFrequency": {"Ref": rule.sweep.name},
                }
            )
    else:
        source_details = [
            {
                "EventSource": "aws.config",
                "MessageType": "ScheduledNotification",
                "MaximumExecutionFrequency": rule.frequency,
            }
        ]
    config_rule: dict[str, Any] = {
        "ConfigRuleName": rule.config_rule_name,
        "Description": rule.description,
        "InputParameters": input_parameters,
        "Source": {
            "Owner": "CUSTOM_LAMBDA",
            "SourceIdentifier": {"Fn::GetAtt": [rule.function_id, "Arn"]},
            "SourceDetails": source_details,
        },
    }
    if rule.trigger == "configuration-change":
        config_rule["Scope"] = {"ComplianceResourceTypes": list(rule.resource_types)}
    resources = lambda_resources(
        LambdaFunction(
            function_name=rule.function_name,
            function_id=rule.function_id,
            role_id=rule.role_id,
            log_group_id=rule.log_group_id,
            description=f"AWS Config rule {rule.config_rule_name} (mamori)",
            role_description=f"Runs the {rule.config_rule_name} rule Lambda; only the actions its code calls.",
            code_uri=f"rules/{rule.id}/",
            handler=rule.handler,
            timeout_seconds=rule.timeout_seconds,
            memory_mb=rule.memory_mb,
            statements=policy_statements(rule.permissions),
        )
    )
    resources[rule.invoke_permission_id] = {
        "Type": "AWS::Lambda::Permission",
        "Properties": {
            "Action": "lambda:InvokeFunction",
            "FunctionName": {"Fn::GetAtt": [rule.function_id, "Arn"]},
            "Principal": "config.amazonaws.com",
            "SourceAccount": {"Ref": "AWS::AccountId"},
        },
    }
    resources[rule.logical_id] = {
        "Type": "AWS::Config::ConfigRule",
        "DependsOn": [rule.invoke_permission_id],
        "Properties": config_rule,
    }
    if rule.remediation is not None:
        remediation = remediations[rule.remediation.document]
        resources[rule.remediation_config_id] = _remediation_configuration(rule, remediation, pack_parameters)
    if set(resources) != set(rule.resource_ids):
        raise PackError(f"rule {rule.id}: made {sorted(resources)}, its spec names {sorted(rule.resource_ids)}")
    return resources


# --- the pack ------------------------------------------------------------------------------


def _add(resources: dict[str, Any], made: Mapping[str, Any], origin: str) -> None:
    clash = set(made) & set(resources)
    if clash:
        raise PackError(f"{origin} makes resources that already exist: {sorted(clash)}")
    resources.update(made)


def build_pack(specs: Specs | None = None) -> dict[str, Any]:
    """template.yaml as a dict: template/base.yaml with every rule, remediation and pack responder."""
    specs = specs or Specs.load()
    template = yaml.safe_load(BASE.read_text())
    rules, remediations = list(specs.rules.values()), specs.remediations
    parameters = template.setdefault("Parameters", {})
    conditions = template.setdefault("Conditions", {})
    resources = template.setdefault("Resources", {})
    outputs = template.setdefault("Outputs", {})
    declared: dict[str, Any] = {}
    pack_parameters = [p for rule in rules for p in (*rule.parameters, *([rule.sweep] if rule.sweep else []))] + [
        p for remediation in remediations.values() for p in remediation.pack_parameters
    ]
    for parameter in pack_parameters:
        body = template_parameter(parameter)
        if parameter.name in declared and declared[parameter.name] != body:
            raise PackError(f"parameter {parameter.name} is declared differently by two rules or remediations")
        if parameter.name in parameters and parameter.name not in declared:
            raise PackError(f"parameter {parameter.name} is already a pack-wide parameter of template/base.yaml")
        declared[parameter.name] = body
        parameters[parameter.name] = body
        if parameter.default == "":
            conditions[f"Has{parameter.name}"] = {"Fn::Not": [{"Fn::Equals": [{"Ref": parameter.name}, ""]}]}
    parameters[ENFORCED_RULES] = enforced_rules_parameter(rules)
    for rule in rules:
        link = rule.remediation
        if link:
            conditions[rule.enforced_condition] = enforced_condition(rule)
        if link and link.document not in remediations:
            raise PackError(f"rule {rule.id} names remediation {link.document}, which has no folder")
        if link and link.requires:
            unknown = [name for name in link.requires if f"Has{name}" not in conditions]
            if unknown:
                raise PackError(f"rule {rule.id}: requires {unknown}, which are not optional pack parameters")
            has = [{"Condition": f"Has{name}"} for name in link.requires]
            conditions[rule.remediation_condition] = {"Fn::And": has} if len(has) > 1 else has[0]
        _add(resources, rule_resources(rule, remediations, parameters), f"rule {rule.id}")
    for remediation in remediations.values():
        _add(resources, document_resources(remediation), f"remediation {remediation.id}")
        _add(resources, remediation.resources, f"remediation {remediation.id}")
        for document in remediation.documents:
            outputs[document.role_output_id] = {
                "Description": f"AutomationAssumeRole for running {document.name} by hand",
                "Value": {"Fn::GetAtt": [document.role_id, "Arn"]},
            }
    for responder in specs.responders_of("pack"):
        add_responder(template, responder, specs)
    add_record_signers(template)
    check_references("template.yaml", template)
    return template


def add_responder(template: dict[str, Any], responder: ResponderSpec, specs: Specs) -> None:
    """The responder's parameters and resources, added to the template it belongs to."""
    parameters = template.setdefault("Parameters", {})
    for parameter in responder.parameters:
        if parameter.name in parameters:
            raise PackError(f"responder {responder.id}: parameter {parameter.name} already exists")
        parameters[parameter.name] = template_parameter(parameter)
    _add(template["Resources"], responder_resources(responder, specs.rules, specs.remediations), f"responder {responder.id}")
