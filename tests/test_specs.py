"""The specs name what is generated for them: logical ids (derived in mamori/catalog.py only) and
the responders, typed and validated like rules and remediations, one folder each."""

from pathlib import Path
from typing import Any

import pytest

from harness.pack import org_template, template
from mamori import catalog
from mamori.catalog import (
    ONLY_MAMORI_TAGS,
    TAGGED_BY_MAMORI,
    Permission,
    ResponderSpec,
    StatementCondition,
    all_of,
    allow,
    load_remediations,
    load_responders,
    load_rules,
)
from tests.generator import generated
from tools.lambdas import LambdaError, policy_statements

RESOURCES = template()["Resources"]


def test_every_rule_resource_is_named_by_its_spec() -> None:
    for rule in load_rules():
        kinds = {
            rule.logical_id: "AWS::Config::ConfigRule",
            rule.function_id: "AWS::Serverless::Function",
            rule.role_id: "AWS::IAM::Role",
            rule.log_group_id: "AWS::Logs::LogGroup",
            rule.invoke_permission_id: "AWS::Lambda::Permission",
        }
        if rule.remediation:
            kinds[rule.remediation_config_id] = "AWS::Config::RemediationConfiguration"
        assert set(kinds) == set(rule.resource_ids)
        assert {logical_id: RESOURCES[logical_id]["Type"] for logical_id in kinds} == kinds
        assert RESOURCES[rule.function_id]["Properties"]["FunctionName"] == rule.config_rule_name


def test_every_document_and_its_role_are_named_by_its_spec() -> None:
    outputs = template()["Outputs"]
    for remediation in load_remediations():
        for document in remediation.documents:
            assert RESOURCES[document.logical_id]["Properties"]["Name"] == document.name
            assert RESOURCES[document.role_id]["Type"] == "AWS::IAM::Role"
            assert outputs[document.role_output_id]["Value"] == {"Fn::GetAtt": [document.role_id, "Arn"]}


def test_every_responder_is_in_the_template_it_belongs_to_and_no_other() -> None:
    responders = load_responders()
    assert {r.id: r.template for r in responders} == {
        "abuse-events": "pack",
        "central": "org",
        "guardduty-findings": "pack",
        "leaked-keys": "pack",
        "notifications": "pack",
    }
    member = generated().member["Resources"]
    for responder in responders:
        function = org_template()["Resources"][responder.function_id]["Properties"]
        assert function["FunctionName"] == responder.function_name
        assert function["CodeUri"] == f"responders/{responder.id}/"
        assert set(responder.resource_ids) <= set(org_template()["Resources"])
        in_pack = set(responder.resource_ids) <= set(RESOURCES)
        assert in_pack is (responder.template == "pack"), responder.id
        assert (responder.function_id in member) is in_pack
        events = function["Events"]
        assert {name: event["Properties"]["Pattern"] for name, event in events.items()} == dict(responder.events)


def test_the_notifier_is_a_responder_with_the_resources_it_had() -> None:
    notifier = catalog.responder_spec("notifications")
    assert notifier.resource_ids == ("NotifierLogGroup", "NotifierRole", "NotifierFunction")
    function = RESOURCES["NotifierFunction"]
    assert "Condition" not in function and function["DependsOn"] == ["NotifierLogGroup"]
    properties = function["Properties"]
    assert (properties["Timeout"], properties["MemorySize"], properties["Handler"]) == (30, 128, "handler.lambda_handler")
    assert properties["Environment"]["Variables"] == {
        "TOPIC_ARN": {"Ref": "NotificationTopic"},
        "ABUSE_RESPONSE": {"Fn::If": ["AbuseResponseOn", "on", "off"]},
        "DEDUPLICATION_TABLE": {"Ref": "DeduplicationTable"},
        "DEDUPLICATION_OWNER": "notifier",
        "MAX_EXEMPTION_DAYS": {"Ref": "MaxExemptionDays"},
    }
    assert properties["Events"]["ComplianceChange"]["Properties"]["Pattern"] == {
        "source": ["aws.config"],
        "detail-type": ["Config Rules Compliance Change"],
        "detail": {"configRuleName": [{"prefix": "mamori-"}]},
    }
    assert not (Path(catalog.ROOT) / "notifications").exists()


def responder(**changes: Any) -> ResponderSpec:
    values: dict[str, Any] = {
        "id": "example",
        "function_name": "mamori-example",
        "description": "An example.",
        "permissions": (Permission("ec2:DescribeInstances"),),
        "events": {"Something": {"source": ["aws.health"]}},
    }
    return ResponderSpec(**{**values, **changes})


def test_a_valid_responder_names_its_resources() -> None:
    example = responder(function_name="mamori-example-responder")
    assert example.resource_ids == ("ExampleResponderLogGroup", "ExampleResponderRole", "ExampleResponderFunction")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"id": "Example"}, "lower-case words"),
        ({"function_name": "example"}, "must be mamori-<words>"),
        ({"function_name": "mamori-" + "x" * 58}, "at most 64 characters"),
        ({"template": "member"}, "template must be one of"),
        ({"events": {}}, "EventBridge events"),
        ({"events": {"bad-name": {"source": ["aws.health"]}}}, "letters and digits"),
        ({"events": {"NoSource": {"detail-type": ["x"]}}}, "pattern with a source"),
        ({"environment": {"topic": "x"}}, "UPPER_SNAKE"),
        ({"statement_conditions": (StatementCondition(("sts:AssumeRoot",), {"Bool": {"x": "true"}}),)}, "unknown"),
        ({"handler": "handler"}, "<module>.<function>"),
        ({"timeout_seconds": 901}, "Lambda's limits"),
    ],
)
def test_a_responder_spec_that_cannot_be_deployed_is_refused(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        responder(**changes)


def test_the_folder_name_is_the_responder_id(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "right-name"
    folder.mkdir()
    (folder / "spec.py").write_text(
        "from mamori.catalog import Permission, ResponderSpec\n"
        "RESPONDER = ResponderSpec(id='other-name', function_name='mamori-x', description='x',\n"
        "    permissions=(Permission('ec2:DescribeInstances'),), events={'E': {'source': ['aws.health']}})\n"
    )
    monkeypatch.setattr(catalog, "RESPONDERS_DIR", tmp_path)
    monkeypatch.setitem(catalog.UNIT_DIRS, "responder", tmp_path)
    with pytest.raises(ValueError, match="spec id 'other-name' must equal the folder name"):
        catalog.load_responders()


def test_a_statement_condition_goes_only_on_the_statement_of_exactly_its_actions() -> None:
    condition = StatementCondition(("iam:PassRole",), {"StringEquals": {"iam:PassedToService": "ssm.amazonaws.com"}})
    alone = policy_statements((Permission("ec2:DescribeInstances"), Permission("iam:PassRole", "${Role.Arn}")), (condition,))
    assert [s.get("Condition") for s in alone] == [None, dict(condition.condition)]
    shared = (Permission("iam:PassRole", "${Role.Arn}"), Permission("iam:GetRole", "${Role.Arn}"))
    with pytest.raises(LambdaError, match="needs a statement of exactly those actions"):
        policy_statements(shared, (condition,), "responder example")


def test_a_permission_condition_makes_its_own_statement_and_values_with_references_become_fn_sub() -> None:
    pinned = {"ArnEquals": {"iam:PolicyARN": "arn:${AWS::Partition}:iam::${AWS::AccountId}:policy/mamori/p"}}
    statements = policy_statements(
        (
            Permission("iam:ListUserTags", "${Users}"),
            *allow("iam:AttachUserPolicy", on="${Users}", when=pinned),
            *allow("iam:TagUser", "iam:UntagUser", on="${Users}", when=ONLY_MAMORI_TAGS),
        )
    )

    assert statements == [
        {"Effect": "Allow", "Action": ["iam:ListUserTags"], "Resource": {"Fn::Sub": "${Users}"}},
        {
            "Effect": "Allow",
            "Action": ["iam:AttachUserPolicy"],
            "Resource": {"Fn::Sub": "${Users}"},
            "Condition": {
                "ArnEquals": {"iam:PolicyARN": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:policy/mamori/p"}}
            },
        },
        {
            "Effect": "Allow",
            "Action": ["iam:TagUser", "iam:UntagUser"],
            "Resource": {"Fn::Sub": "${Users}"},
            "Condition": {
                "ForAllValues:StringEquals": {"aws:TagKeys": ["mamori:remediated"]},
                "Null": {"aws:TagKeys": "false"},
            },
        },
    ]


@pytest.mark.parametrize(
    ("when", "message"),
    [
        ({"StringEqualsIgnoreCase": {"aws:TagKeys": "x"}}, "is not one of"),
        ({"StringEquals": {"TagKeys": "x"}}, "a condition key and at least one non-empty value"),
        ({"StringEquals": {"aws:TagKeys": []}}, "a condition key and at least one non-empty value"),
        ({"Null": {"aws:TagKeys": "no"}}, "the value is 'true' or 'false'"),
    ],
)
def test_a_condition_the_sandbox_could_not_evaluate_or_iam_would_not_read_is_refused(when: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        allow("iam:TagUser", when=when)


def test_conditions_combine_only_when_they_test_different_keys() -> None:
    combined = all_of(ONLY_MAMORI_TAGS, TAGGED_BY_MAMORI)

    assert combined["Null"] == {"aws:TagKeys": "false", "aws:ResourceTag/mamori:remediated": "false"}
    with pytest.raises(ValueError, match="say it once"):
        all_of(ONLY_MAMORI_TAGS, {"Null": {"aws:TagKeys": "true"}})
