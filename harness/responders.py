"""Run a pack responder as deployed: its real lambda_handler, with the environment template.yaml
gives its function (Refs and conditions resolved as CloudFormation would for the pack values
given), under the IAM actions its role is granted (harness.aws.Sandbox enforces them)."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harness.authorization import Policy, Resolver, physical_names, role_policy
from harness.aws import ACCOUNT, REGION, Sandbox
from harness.pack import (
    AUTOMATION_ROLE_ARN,
    MADE_UP_NAME,
    NOT_CALLED_BY_CODE,
    documents,
    lambda_principal,
    resolver,
    role_grants,
    template,
)
from mamori.catalog import load_unit_module, responder_spec


def condition_holds(name: str, values: Mapping[str, str], source: Mapping[str, Any] | None = None) -> bool:
    """A template condition, evaluated with the pack parameters' values (defaults unless given)."""
    source = source or template()
    return bool(_evaluate(source["Conditions"][name], values, source))


def _evaluate(expression: Any, values: Mapping[str, str], source: Mapping[str, Any]) -> Any:
    if isinstance(expression, str):
        return expression
    if "Ref" in expression:
        name = expression["Ref"]
        return values.get(name, str(source["Parameters"][name].get("Default", "")))
    if "Condition" in expression:
        return condition_holds(expression["Condition"], values, source)
    if "Fn::Equals" in expression:
        left, right = (_evaluate(item, values, source) for item in expression["Fn::Equals"])
        return left == right
    if "Fn::And" in expression:
        return all(_evaluate(item, values, source) for item in expression["Fn::And"])
    if "Fn::Or" in expression:
        return any(_evaluate(item, values, source) for item in expression["Fn::Or"])
    if "Fn::Not" in expression:
        return not _evaluate(expression["Fn::Not"][0], values, source)
    raise NotImplementedError(f"this harness does not evaluate {expression}")


def responder_environment(responder_id: str, topic_arn: str, **pack_values: str) -> dict[str, str]:
    """The function's environment as CloudFormation would resolve template.yaml's: the topic's Ref
    its ARN, a document's Ref its name, a document role's Arn the harness's automation role, a pack
    parameter its value (its default unless given), an Fn::If by its condition."""
    spec = responder_spec(responder_id)
    function = template()["Resources"][spec.function_id]["Properties"]
    names = {logical_id: name for name, (logical_id, _) in documents().items()}

    def resolve(value: Any) -> str:
        if isinstance(value, str):
            return value
        if "Fn::If" in value:
            name, then, otherwise = value["Fn::If"]
            return resolve(then if condition_holds(name, pack_values) else otherwise)
        if "Fn::GetAtt" in value:
            # A document's role is the harness's automation role; any other role is named after its logical id.
            logical_id = value["Fn::GetAtt"][0]
            return AUTOMATION_ROLE_ARN if logical_id.endswith("AutomationRole") else f"arn:aws:iam::{ACCOUNT}:role/{logical_id}"
        ref = value["Ref"]
        if ref == "NotificationTopic":
            return topic_arn
        if ref in names:
            return names[ref]
        if ref == "DeduplicationTable":  # made by the test (harness.pack.make_deduplication_table)
            return str(template()["Resources"]["DeduplicationTable"]["Properties"]["TableName"])
        if ref == "AWS::Region":
            return REGION
        return str(_evaluate(value, pack_values, template()))

    return {key: resolve(value) for key, value in function.get("Environment", {}).get("Variables", {}).items()}


@dataclass
class LambdaContext:
    function_name: str
    region: str = REGION
    account: str = ACCOUNT
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account}:function:{self.function_name}"


def regional_grants(role_id: str, region: str) -> Policy:
    """The role's policy as CloudFormation resolves it in a stack of `region` (${AWS::Region} is
    that region: a member StackSet deploys the same template in every region)."""
    if region == REGION:
        return role_grants(role_id)
    base = resolver()
    resolve = Resolver(
        {**base.values, "AWS::Region": region},
        physical_names(template()["Resources"], "aws", region, ACCOUNT, MADE_UP_NAME),
        base.unknown,
    )
    return role_policy(template()["Resources"][role_id], resolve, NOT_CALLED_BY_CODE)


def invoke_responder(sandbox: Sandbox, responder_id: str, event: Any, region: str = REGION) -> Any:
    """The responder's real handler, as its EventBridge rule invokes it (in `region`), with only
    the actions its role is granted. Its environment must already be set (responder_environment)."""
    spec = responder_spec(responder_id)
    module = load_unit_module("responder", responder_id, spec.handler.split(".")[0] + ".py")
    handler = getattr(module, spec.handler.split(".")[1])
    with sandbox.acting_as(lambda_principal(spec.function_name), regional_grants(spec.role_id, region)):
        return handler(event, LambdaContext(spec.function_name, region))
