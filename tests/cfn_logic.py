"""The few pieces of CloudFormation and IAM logic the organization template relies on, evaluated
in the tests: no service of moto evaluates a template's Conditions or Rules, or an SCP.

* resolve(): Ref (parameters as CloudFormation parses them: a CommaDelimitedList is split at
  commas and each member space trimmed, CloudFormation User Guide, Parameters), Fn::Sub,
  Fn::Join, Fn::Split, Fn::If, AWS::NoValue; condition() and the condition functions; rule():
  the rule functions a Rules section may use (Fn::Equals, Fn::Contains, Fn::EachMemberIn, ...).
  Fn::GetAtt of a role's Arn (and ${Role.Arn} in Fn::Sub) is its ARN with its Path and its
  RoleName, or, without a RoleName, a name CloudFormation generates from the stack's name (which
  differs for every stack of a StackSet); other resources resolve to a stand-in physical id.
* denied(): whether a Deny statement of a resolved policy applies to a request: Action and
  NotAction with wildcards (case-insensitive), Resource as ArnLike, and the condition operators
  mamori's SCPs use, with IAM's rules for several values (any value of a key matches; negated
  operators hold when no value matches) and for ForAnyValue (IAM User Guide, condition
  operators and multivalued context keys). allowed(): the same for the Allow statements of an
  identity or key policy (a key policy's Principal must name the requester or its account).
"""

import fnmatch
import re
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

NO_VALUE = object()


@dataclass(frozen=True)
class Stack:
    template: Mapping[str, Any]
    parameters: Mapping[str, str]  # as given to CloudFormation; defaults fill the rest
    region: str = "us-east-1"
    account: str = "111111111111"
    partition: str = "aws"
    # Each stack instance of a StackSet is named StackSet-<name>-<uuid>: one per account and region.
    name: str = ""

    @property
    def stack_name(self) -> str:
        return self.name or f"StackSet-mamori-{zlib.crc32(f'{self.account}/{self.region}'.encode()):08x}"

    def parameter(self, name: str) -> Any:
        declared = self.template["Parameters"][name]
        text = self.parameters.get(name, declared.get("Default"))
        if text is None:
            raise KeyError(f"parameter {name} has no value")
        if declared["Type"] in ("CommaDelimitedList", "List<String>"):
            return [member.strip() for member in str(text).split(",")]
        return str(text)

    def ref(self, name: str) -> Any:
        pseudo = {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account,
            "AWS::Partition": self.partition,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": NO_VALUE,
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.template["Parameters"]:
            return self.parameter(name)
        if "." in name:
            return self.get_att(*name.split(".", 1))
        if name in self.template["Resources"]:
            return f"{self.stack_name}-{name}"
        raise KeyError(f"this evaluator resolves parameters, pseudo parameters and resources, not {name}")

    def get_att(self, logical_id: str, attribute: str) -> Any:
        resource = self.template["Resources"][logical_id]
        if resource["Type"] != "AWS::IAM::Role" or attribute != "Arn":
            return f"{self.stack_name}-{logical_id}.{attribute}"
        properties = resource["Properties"]
        # CloudFormation's generated name: <stack name>-<logical id>-<random>, at most 64 characters.
        name = (
            resolve(self, properties["RoleName"]) if "RoleName" in properties else f"{self.stack_name}-{logical_id}-X1Y2Z3"[-64:]
        )
        return f"arn:{self.partition}:iam::{self.account}:role{properties.get('Path', '/')}{name}"


def condition(stack: Stack, name: str) -> bool:
    return bool(resolve(stack, stack.template["Conditions"][name]))


def resolve(stack: Stack, node: Any) -> Any:
    if isinstance(node, list):
        return [value for value in (resolve(stack, item) for item in node) if value is not NO_VALUE]
    if not isinstance(node, dict):
        return node
    if len(node) != 1:
        return {key: value for key, value in ((k, resolve(stack, v)) for k, v in node.items()) if value is not NO_VALUE}
    ((function, argument),) = node.items()
    if function == "Ref":
        return stack.ref(argument)
    if function == "Condition":
        return condition(stack, argument)
    if function == "Fn::Sub":
        return re.sub(r"\$\{([^}]+)\}", lambda match: str(stack.ref(match.group(1))), argument)
    if function == "Fn::Join":
        return argument[0].join(resolve(stack, argument[1]))
    if function == "Fn::Split":
        return str(resolve(stack, argument[1])).split(argument[0])
    if function == "Fn::If":
        return resolve(stack, argument[1] if condition(stack, argument[0]) else argument[2])
    if function == "Fn::GetAtt":
        return stack.get_att(*argument)
    if function == "Fn::Equals":
        return resolve(stack, argument[0]) == resolve(stack, argument[1])
    if function == "Fn::Not":
        return not resolve(stack, argument[0])
    if function == "Fn::And":
        return all(resolve(stack, item) for item in argument)
    if function == "Fn::Or":
        return any(resolve(stack, item) for item in argument)
    # Rule functions (Rules section only).
    if function == "Fn::Contains":
        return resolve(stack, argument[1]) in resolve(stack, argument[0])
    if function == "Fn::EachMemberIn":
        return set(resolve(stack, argument[0])) <= set(resolve(stack, argument[1]))
    if function == "Fn::EachMemberEquals":
        return all(value == resolve(stack, argument[1]) for value in resolve(stack, argument[0]))
    return {function: resolve(stack, argument)}


def rules_hold(stack: Stack) -> list[str]:
    """The AssertDescription of every assertion that fails (a rule whose RuleCondition is false asserts nothing)."""
    failed = []
    for rule in stack.template.get("Rules", {}).values():
        if "RuleCondition" in rule and not resolve(stack, rule["RuleCondition"]):
            continue
        failed += [a["AssertDescription"] for a in rule["Assertions"] if not resolve(stack, a["Assert"])]
    return failed


# --- IAM ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    action: str
    principal: str  # aws:PrincipalARN
    region: str  # aws:RequestedRegion
    resource: str = "*"
    tag_keys: Sequence[str] = ()  # aws:TagKeys, present only when given
    context: Mapping[str, Any] = field(default_factory=dict)

    def values(self, key: str) -> list[str] | None:
        """The key's values; condition key names are not case-sensitive (IAM User Guide, Condition)."""
        known: dict[str, list[str]] = {"aws:principalarn": [self.principal], "aws:requestedregion": [self.region]}
        if self.tag_keys:
            known["aws:tagkeys"] = list(self.tag_keys)
        known.update({k.lower(): list(v) if isinstance(v, list) else [v] for k, v in self.context.items()})
        return known.get(key.lower())


def _listed(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _action_matches(patterns: Any, action: str) -> bool:
    return any(fnmatch.fnmatchcase(action.lower(), pattern.lower()) for pattern in _listed(patterns))


def _arn_like(pattern: str, arn: str) -> bool:
    """ArnLike: each of the six colon-separated parts matched with * and ? wildcards."""
    if pattern == "*":
        return True
    parts, targets = pattern.split(":", 5), arn.split(":", 5)
    return len(parts) == len(targets) == 6 and all(fnmatch.fnmatchcase(t, p) for p, t in zip(parts, targets, strict=True))


_MATCHERS = {
    "StringEquals": lambda pattern, value: pattern == value,
    "StringEqualsIgnoreCase": lambda pattern, value: pattern.lower() == value.lower(),
    "StringLike": lambda pattern, value: fnmatch.fnmatchcase(value, pattern),
    "ArnLike": _arn_like,
    "ArnEquals": lambda pattern, value: pattern == value,
}


def _condition_holds(operator: str, key: str, expected: Any, request: Request) -> bool:
    qualifier, _, base = operator.rpartition(":")
    negated = base.startswith(("StringNot", "ArnNot"))
    positive = base.replace("Not", "", 1) if negated else base
    if positive == "Bool":
        values = request.values(key)
        return values is not None and values == [str(expected).lower()]
    match = _MATCHERS[positive]
    values = request.values(key)
    patterns = _listed(expected)
    if qualifier == "ForAnyValue":
        if values is None:
            return False
        return any(match(p, v) for p in patterns for v in values)
    if qualifier:
        raise NotImplementedError(operator)
    if values is None:
        return negated  # a missing key: a positive operator fails, a negated one holds
    matched = any(match(p, v) for p in patterns for v in values)
    return not matched if negated else matched


def _principal_matches(principal: Any, request: Request) -> bool:
    """A resource policy's Principal: the requester's ARN, or its account (root), which hands the
    decision to the account's IAM policies (KMS Developer Guide, key policies)."""
    if principal is None:
        return True  # an identity policy
    account = request.principal.split(":")[4]
    root = f"{':'.join(request.principal.split(':')[:2])}:iam::{account}:root"
    return any(value in (request.principal, root) for value in _listed(principal.get("AWS", [])))


def _applying(policy: Mapping[str, Any], request: Request, effect: str) -> list[str]:
    """The Sids of the policy's statements of that effect that apply to the request."""
    found = []
    for statement in policy["Statement"]:
        if statement["Effect"] != effect or not _principal_matches(statement.get("Principal"), request):
            continue
        if "Action" in statement and not _action_matches(statement["Action"], request.action):
            continue
        if "NotAction" in statement and _action_matches(statement["NotAction"], request.action):
            continue
        if not any(_arn_like(pattern, request.resource) for pattern in _listed(statement.get("Resource", "*"))):
            continue
        conditions = statement.get("Condition", {})
        if all(
            _condition_holds(operator, key, expected, request)
            for operator, keys in conditions.items()
            for key, expected in keys.items()
        ):
            found.append(statement.get("Sid", "?"))
    return found


def denied(policy: Mapping[str, Any], request: Request) -> list[str]:
    """The Sids of the policy's Deny statements that apply to the request."""
    return _applying(policy, request, "Deny")


def allowed(policy: Mapping[str, Any], request: Request) -> list[str]:
    """The Sids of the policy's Allow statements that apply to the request."""
    return _applying(policy, request, "Allow")
