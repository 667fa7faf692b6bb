"""The sandbox's stand-in for IAM's condition evaluation (harness/conditions.py): IAM's
semantics on small cases, so that a refusal in the attacker tests means what IAM would do, and
a condition it cannot evaluate is an error, never a pass."""

from typing import Any

import pytest

from harness.conditions import ConditionNotEvaluated, condition_holds, refusal, request_keys

ACCOUNT, REGION = "123456789012", "us-east-1"
TAGS_ONLY_MAMORI = {"ForAllValues:StringEquals": {"aws:TagKeys": ["mamori:remediated"]}}


def holds(condition: dict[str, Any], context: dict[str, list[str]]) -> bool:
    return condition_holds(condition, context, ACCOUNT, REGION)


def test_for_all_values_holds_without_the_key_and_null_is_what_makes_a_request_name_its_tags() -> None:
    assert holds(TAGS_ONLY_MAMORI, {}) is True  # IAM: ForAllValues over no values is true
    assert holds({**TAGS_ONLY_MAMORI, "Null": {"aws:TagKeys": "false"}}, {}) is False
    assert holds(TAGS_ONLY_MAMORI, {"aws:tagkeys": ["mamori:remediated", "mamori:exempt"]}) is False
    assert holds(TAGS_ONLY_MAMORI, {"aws:tagkeys": ["mamori:remediated"]}) is True


def test_for_any_value_does_not_hold_without_the_key_and_single_valued_operators_need_it() -> None:
    security = {"ForAnyValue:StringEquals": {"account:AlternateContactTypes": ["SECURITY"]}}
    assert holds(security, {}) is False
    assert holds(security, {"account:alternatecontacttypes": ["BILLING"]}) is False
    assert holds(security, {"account:alternatecontacttypes": ["SECURITY"]}) is True
    assert holds({"ArnEquals": {"iam:PolicyARN": "arn:p"}}, {}) is False


def test_template_values_are_resolved_as_cloudformation_would_in_the_stacks_region() -> None:
    pinned = {"ArnEquals": {"iam:PolicyARN": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:policy/p-${AWS::Region}"}}}
    assert holds(pinned, {"iam:policyarn": [f"arn:aws:iam::{ACCOUNT}:policy/p-{REGION}"]}) is True
    assert holds(pinned, {"iam:policyarn": [f"arn:aws:iam::{ACCOUNT}:policy/p-eu-west-1"]}) is False
    with pytest.raises(ConditionNotEvaluated):
        holds({"ArnEquals": {"iam:PolicyARN": {"Fn::GetAtt": ["Policy", "Arn"]}}}, {})


def test_the_request_keys_come_from_the_call_as_the_code_made_it() -> None:
    assert request_keys("iam:TagUser", {"UserName": "u", "Tags": [{"Key": "a", "Value": "1"}]}) == {
        "aws:tagkeys": ["a"],
        "aws:requesttag/a": ["1"],
    }
    assert request_keys("guardduty:CreateDetector", {"Enable": True, "Tags": {"k": "v"}})["aws:tagkeys"] == ["k"]
    assert request_keys("iam:UntagUser", {"UserName": "u", "TagKeys": ["k"]}) == {"aws:tagkeys": ["k"]}
    assert request_keys("iam:AttachUserPolicy", {"UserName": "u", "PolicyArn": "arn:p"}) == {"iam:policyarn": ["arn:p"]}


def test_an_unconditioned_grant_allows_and_an_unknown_key_is_an_error_not_a_pass() -> None:
    plain: list[dict[str, Any]] = [{}, TAGS_ONLY_MAMORI]
    odd = [{"StringEquals": {"aws:SourceVpc": "v"}}]

    assert refusal("iam:TagUser", "iam:TagUser", plain, {"Tags": [{"Key": "x"}]}, ACCOUNT, REGION, REGION) is None
    with pytest.raises(ConditionNotEvaluated, match="aws:sourcevpc"):
        refusal("iam:TagUser", "iam:TagUser", odd, {"Tags": [{"Key": "x"}]}, ACCOUNT, REGION, REGION)


def test_a_grant_whose_condition_does_not_hold_is_refused_for_each_resource() -> None:
    named = {"Tags": [{"Key": "mamori:exempt", "Value": "x"}]}
    assert refusal("iam:TagUser", "iam:TagUser", [TAGS_ONLY_MAMORI], named, ACCOUNT, REGION, REGION) is not None
    assert refusal("iam:TagUser", "iam:TagUser", [TAGS_ONLY_MAMORI, {}], named, ACCOUNT, REGION, REGION) is None
