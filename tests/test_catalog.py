"""The pack holds together: specs, code, documents, template, permissions and README agree.

Any drift between a rule, its remediation, template.yaml, the IAM grants and the docs
fails here."""

import re
from pathlib import Path
from typing import Any

import pytest

from harness.pack import (
    NOT_CALLED_BY_CODE,
    SUPPORTED_ACTIONS,
    documents,
    granted_actions,
    template,
)
from mamori.catalog import load_remediations, load_rules
from tests.generator import generated

ROOT = Path(__file__).resolve().parent.parent
RULES = load_rules()
REMEDIATIONS = {r.id: r for r in load_remediations()}
RESOURCES = template()["Resources"]


def test_template_is_generated_from_its_sources() -> None:
    assert (ROOT / "template.yaml").read_text() == generated().texts[ROOT / "template.yaml"], (
        "run `make template` and commit template.yaml"
    )


def test_every_rule_has_its_folder_readme_and_config_rule() -> None:
    assert RULES, "no rules found"
    for rule in RULES:
        assert (rule.folder / "rule.py").exists()
        readme = (rule.folder / "README.md").read_text()
        assert rule.config_rule_name in readme
        config_rule = RESOURCES[rule.logical_id]["Properties"]
        assert config_rule["ConfigRuleName"] == rule.config_rule_name
        assert config_rule["InputParameters"]["AssumeRoleMode"] == "false"  # rdk #338: never assume Config's role


def test_readme_lists_every_rule_and_both_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    for rule in RULES:
        assert f"`{rule.config_rule_name}`" in readme
    assert "make demo" in readme and "make test" in readme


def test_every_remediation_exists_and_its_parameters_match_the_document() -> None:
    for rule in RULES:
        if rule.remediation is None:
            continue
        remediation = REMEDIATIONS[rule.remediation.document]
        configuration = RESOURCES[rule.remediation_config_id]["Properties"]
        _, content = documents()[remediation.remediate.name]
        declared = content["parameters"]
        passed = set(configuration["Parameters"])
        assert passed <= set(declared), f"{rule.id} passes parameters its document does not declare"
        required = {name for name, spec in declared.items() if "default" not in spec}
        assert required <= passed, f"{rule.id} does not pass required parameters {required - passed}"
        assert configuration["Parameters"][rule.remediation.resource_id_parameter] == {"ResourceValue": {"Value": "RESOURCE_ID"}}
        assert configuration["TargetId"] == {"Ref": remediation.remediate.logical_id}
        assert configuration["ResourceType"] in rule.resource_types


@pytest.mark.parametrize("name", sorted(documents()))
def test_documents_follow_the_conventions(name: str) -> None:
    _, content = documents()[name]
    assert content["schemaVersion"] == "0.3"
    assert content["assumeRole"] == "{{ AutomationAssumeRole }}"
    parameters = content["parameters"]
    assert parameters["DryRun"] == {"type": "Boolean", "description": parameters["DryRun"]["description"], "default": False}
    for parameter, spec in parameters.items():
        if spec["type"] == "String" and "default" not in spec:
            assert spec.get("allowedPattern"), f"{name}.{parameter} takes any string"
    known = set(parameters)
    for step in content["mainSteps"]:
        assert step["action"] in SUPPORTED_ACTIONS
        assert step["inputs"]["Runtime"] == "python3.11"  # the newest SSM documents for executeScript
        known |= {f"{step['name']}.{o['Name']}" for o in step.get("outputs", [])}
        for reference in re.findall(r"\{\{\s*([\w.]+)\s*\}\}", str(step["inputs"]["InputPayload"])):
            assert reference in known, f"{name}: {{{{ {reference} }}}} does not resolve"
        assert "{{" not in step["inputs"]["Script"]
    for output in content["outputs"]:
        assert output in known


def test_remediation_documents_have_restore_documents_named_by_convention() -> None:
    for remediation in REMEDIATIONS.values():
        assert remediation.remediate.name == f"mamori-{remediation.id}"
        if remediation.restore:
            assert remediation.restore.name == f"mamori-{remediation.id}-restore"
            assert remediation.restore.name in documents()


def _statements() -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    for logical_id, resource in RESOURCES.items():
        if resource["Type"] == "AWS::IAM::Role":
            for policy in resource["Properties"].get("Policies", []):
                found.extend((logical_id, s) for s in policy["PolicyDocument"]["Statement"])
    return found


def test_no_wildcard_actions_and_trust_bound_to_the_account() -> None:
    for logical_id, statement in _statements():
        actions = [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
        assert all("*" not in action for action in actions), f"{logical_id} grants a wildcard action"
    for logical_id, resource in RESOURCES.items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        for statement in resource["Properties"]["AssumeRolePolicyDocument"]["Statement"]:
            if statement["Principal"] == {"Service": "ssm.amazonaws.com"}:
                assert statement["Condition"]["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}, logical_id
    permission = RESOURCES["OpenProxyPortsRuleInvokePermission"]["Properties"]
    assert (permission["Principal"], permission["SourceAccount"]) == ("config.amazonaws.com", {"Ref": "AWS::AccountId"})


def test_rule_lambda_ships_no_copy_of_boto3() -> None:
    requirements = (ROOT / "layer" / "requirements.txt").read_text()
    assert "boto3" not in requirements.split("#")[0]
    assert "--no-deps" in (ROOT / "layer" / "Makefile").read_text()
    for rule in RULES:
        assert not (rule.folder / "requirements.txt").exists()


def test_notifier_may_only_publish_to_its_topic() -> None:
    """And remember what it told, in its own keys of the deduplication table (mamori.deduplication)."""
    assert granted_actions("NotifierRole") - NOT_CALLED_BY_CODE == {"sns:Publish", "dynamodb:PutItem", "dynamodb:DeleteItem"}
    publish = next(s for role, s in _statements() if role == "NotifierRole" and s["Action"] == ["sns:Publish"])
    assert publish["Resource"] == {"Fn::Sub": "${NotificationTopic}"}
    remember = next(s for role, s in _statements() if role == "NotifierRole" and "dynamodb:PutItem" in s["Action"])
    assert remember["Resource"] == {"Fn::Sub": "${DeduplicationTable.Arn}"}
    assert remember["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["notifier#*"]}}
