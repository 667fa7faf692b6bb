"""The one builder of a mamori Lambda, for rules and responders alike: its log group, its role
(its own logs and the statements given, nothing else), the function, and its EventBridge events.
Responders become one with responder_resources(), from their ResponderSpec."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mamori.catalog import (
    ROLE_PATH,
    ConditionTest,
    Permission,
    RemediationSpec,
    ResponderSpec,
    RuleSpec,
    StatementCondition,
    record_key_conditions,
)
from tools.cfn import sub

LAMBDA_RUNTIME = "python3.12"
LIBRARY_LAYER = "MamoriLibrary"  # template/base.yaml: the mamori package and rdklib
# template/base.yaml: where events that failed for good wait, and its alarm tells the topic.
DEAD_LETTER_QUEUE = "DeadLetterQueue"
# EventBridge delivering to a target: its defaults, written out (24 hours, 185 attempts; the
# most it allows), then the dead-letter queue (EventBridge User Guide, "Event retry policy").
EVENT_RETRY_POLICY = {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400}
# Lambda running an event it was handed: two retries and six hours, the most it allows
# (AWS::Lambda::EventInvokeConfig), then the on-failure destination.
INVOKE_RETRY_ATTEMPTS = 2
INVOKE_EVENT_AGE_SECONDS = 21600
# A responder that starts a document passes the document's role to SSM, and to nothing else.
PASS_ROLE_TO_SSM = {"StringEquals": {"iam:PassedToService": "ssm.amazonaws.com"}}


class LambdaError(ValueError):
    """A rule's or responder's spec cannot be made into the template; the message says why."""


def policy_statements(
    permissions: Sequence[Permission], conditions: Sequence[StatementCondition] = (), owner: str = ""
) -> list[dict[str, Any]]:
    """One Allow statement per resource and condition (a permission's condition never reaches an
    action it was not written for); each StatementCondition goes on the statement granting
    exactly its actions."""
    grouped: dict[tuple[str, tuple[ConditionTest, ...]], list[str]] = {}
    for permission in permissions:
        grouped.setdefault((permission.resource, permission.condition), []).append(permission.action)
    statements: list[dict[str, Any]] = []
    for (resource, tests), actions in grouped.items():
        statement: dict[str, Any] = {
            "Effect": "Allow",
            "Action": sorted(actions),
            "Resource": resource if resource == "*" else sub(resource),
        }
        if tests:
            statement["Condition"] = rendered_condition(tests)
        statements.append(statement)
    for condition in conditions:
        matching = [
            s
            for s in statements
            if set(s["Action"]) == set(condition.actions)
            and (condition.resource is None or s["Resource"] in (condition.resource, sub(condition.resource)))
        ]
        if len(matching) != 1 or "Condition" in matching[0]:
            raise LambdaError(
                f"{owner}: the condition on {sorted(condition.actions)} needs a statement of exactly those actions: give them "
                "one resource, shared with no other action"
            )
        matching[0]["Condition"] = dict(condition.condition)
    return statements


def rendered_condition(condition: tuple[ConditionTest, ...]) -> dict[str, dict[str, Any]]:
    """A Permission's condition as the policy's Condition block: values with ${...} become
    Fn::Sub, a multi-valued operator (ForAllValues, ForAnyValue) always gets a list."""

    def value(text: str) -> Any:
        return sub(text) if "${" in text else text

    block: dict[str, dict[str, Any]] = {}
    for operator, key, values in condition:
        listed = len(values) > 1 or operator.startswith("For")
        block.setdefault(operator, {})[key] = [value(v) for v in values] if listed else value(values[0])
    return block


@dataclass(frozen=True)
class LambdaFunction:
    function_name: str
    function_id: str
    role_id: str
    log_group_id: str
    description: str
    role_description: str
    code_uri: str
    handler: str
    timeout_seconds: int
    memory_mb: int
    statements: list[dict[str, Any]]
    environment: Mapping[str, Any] = field(default_factory=dict)
    events: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # event name -> EventBridge pattern
    condition: str | None = None
    # False: the folder's own Makefile builds it with the mamori package inside (no layer).
    uses_library_layer: bool = True
    # Event-driven: EventBridge and Lambda retry each event, then leave it in this queue (a
    # logical id of the template); None for a function nothing retries (a Config rule's).
    dead_letter_queue: str | None = None
    event_bus: Any = None  # the EventBusName of its rules; None: the default bus
    default_bus_events: tuple[str, ...] = ()  # events whose rules stay on the default bus all the same


def dead_letter_arn(queue: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [queue, "Arn"]}


def event_target_settings(queue: str) -> dict[str, Any]:
    """A rule target's retries and dead-letter queue (for the SAM event and plain rules alike)."""
    return {"RetryPolicy": dict(EVENT_RETRY_POLICY), "DeadLetterConfig": {"Arn": dead_letter_arn(queue)}}


def lambda_resources(function: LambdaFunction) -> dict[str, Any]:
    """The log group, the role and the AWS::Serverless::Function, in that order, each under the
    function's condition."""
    log_group = f"/aws/lambda/{function.function_name}"
    log_group_arn = f"arn:${{AWS::Partition}}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:{log_group}:*"
    condition = {"Condition": function.condition} if function.condition else {}
    properties: dict[str, Any] = {
        "FunctionName": function.function_name,
        "Description": function.description,
        "CodeUri": function.code_uri,
        "Handler": function.handler,
        "Runtime": LAMBDA_RUNTIME,
        "Architectures": ["arm64"],
        "Timeout": function.timeout_seconds,
        "MemorySize": function.memory_mb,
        "Role": {"Fn::GetAtt": [function.role_id, "Arn"]},
    }
    if function.uses_library_layer:
        properties["Layers"] = [{"Ref": LIBRARY_LAYER}]
    if function.environment:
        properties["Environment"] = {"Variables": dict(function.environment)}
    if function.events:
        rule: dict[str, Any] = {}
        if function.dead_letter_queue is not None:
            rule.update(event_target_settings(function.dead_letter_queue))

        def bus(name: str) -> dict[str, Any]:
            on_default = function.event_bus is None or name in function.default_bus_events
            return {} if on_default else {"EventBusName": function.event_bus}

        properties["Events"] = {
            name: {"Type": "EventBridgeRule", "Properties": {"Pattern": dict(pattern), **bus(name), **rule}}
            for name, pattern in function.events.items()
        }
    statements = list(function.statements)
    if function.dead_letter_queue is not None:
        properties["EventInvokeConfig"] = {
            "MaximumRetryAttempts": INVOKE_RETRY_ATTEMPTS,
            "MaximumEventAgeInSeconds": INVOKE_EVENT_AGE_SECONDS,
            "DestinationConfig": {"OnFailure": {"Type": "SQS", "Destination": dead_letter_arn(function.dead_letter_queue)}},
        }
        # Lambda sends a failed invocation to the destination with the function's role.
        statements.append(
            {"Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": dead_letter_arn(function.dead_letter_queue)}
        )
    lambda_function: dict[str, Any] = {"Type": "AWS::Serverless::Function", **condition, "DependsOn": [function.log_group_id]}
    if not function.uses_library_layer:
        lambda_function["Metadata"] = {"BuildMethod": "makefile"}
    lambda_function["Properties"] = properties
    return {
        function.log_group_id: {
            "Type": "AWS::Logs::LogGroup",
            **condition,
            "DeletionPolicy": "Delete",
            "UpdateReplacePolicy": "Delete",
            "Properties": {"LogGroupName": log_group, "RetentionInDays": {"Ref": "LogRetentionDays"}},
        },
        function.role_id: {
            "Type": "AWS::IAM::Role",
            **condition,
            "Properties": {
                "Description": function.role_description,
                "Path": ROLE_PATH,
                # A role is passed to a function only by principals of this account (iam:PassRole),
                # so the Lambda trust needs no source-account condition.
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
                    ],
                },
                "Policies": [
                    {
                        "PolicyName": "calls",
                        "PolicyDocument": {
                            "Version": "2012-10-17",
                            "Statement": [
                                {
                                    "Effect": "Allow",
                                    "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                                    "Resource": sub(log_group_arn),
                                },
                                *statements,
                            ],
                        },
                    }
                ],
            },
        },
        function.function_id: lambda_function,
    }


def started_remediation(
    spec: ResponderSpec, rules: Mapping[str, RuleSpec], remediations: Mapping[str, RemediationSpec]
) -> tuple[dict[str, Any], tuple[Permission, ...], tuple[StatementCondition, ...]]:
    """For a responder that starts a rule's paired remediation: the environment, grants and
    conditions that come with it, from the rule's RemediationLink (the same values its
    RemediationConfiguration passes)."""
    rule = rules.get(spec.starts_remediation_of or "")
    if rule is None or rule.remediation is None:
        raise LambdaError(f"responder {spec.id}: rule {spec.starts_remediation_of} with a remediation is not in rules/")
    link = rule.remediation
    if link.requires:
        raise LambdaError(f"responder {spec.id}: a remediation that requires pack parameters would need their condition too")
    document = remediations[link.document].remediate
    environment: dict[str, Any] = {
        "DOCUMENT_NAME": {"Ref": document.logical_id},
        "AUTOMATION_ASSUME_ROLE": {"Fn::GetAtt": [document.role_id, "Arn"]},
        "RESOURCE_ID_PARAMETER": link.resource_id_parameter,
    }
    # An optional pack parameter that is not set arrives as "" and the responder leaves it
    # out, as the RemediationConfiguration does.
    for name in link.parameters:
        environment[f"DOCUMENT_PARAMETER_{name}"] = {"Ref": name}
    for document_parameter, logical_id in link.pack_values:
        environment[f"DOCUMENT_PARAMETER_{document_parameter}"] = {"Ref": logical_id}
    ssm = "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}"
    permissions = (
        # The Service Authorization Reference requires both resource types for the start: the
        # document started, and the execution the call creates (its id is not known before).
        Permission("ssm:StartAutomationExecution", f"{ssm}:document/{document.name}"),
        Permission("ssm:StartAutomationExecution", f"{ssm}:automation-execution/*"),
        # StartAutomationExecution with an AutomationAssumeRole passes that role to SSM.
        Permission("iam:PassRole", f"${{{document.role_id}.Arn}}"),
    )
    passed_role = f"${{{document.role_id}.Arn}}"
    return environment, permissions, (StatementCondition(("iam:PassRole",), PASS_ROLE_TO_SSM, passed_role),)


def responder_resources(
    spec: ResponderSpec, rules: Mapping[str, RuleSpec], remediations: Mapping[str, RemediationSpec]
) -> dict[str, Any]:
    """The responder's log group, role and function with its EventBridge events."""
    environment = dict(spec.environment)
    permissions, conditions = spec.permissions, (*spec.statement_conditions, *record_key_conditions(spec.permissions))
    if spec.starts_remediation_of is not None:
        more_environment, more_permissions, more_conditions = started_remediation(spec, rules, remediations)
        clash = set(more_environment) & set(environment)
        if clash:
            raise LambdaError(f"responder {spec.id}: environment {sorted(clash)} is set by starts_remediation_of")
        environment.update(more_environment)
        permissions, conditions = (*permissions, *more_permissions), (*conditions, *more_conditions)
    if spec.bundles_mamori and not (spec.folder / "Makefile").is_file():
        raise LambdaError(f"responder {spec.id}: bundles_mamori needs {spec.folder.name}/Makefile to build it")
    made = lambda_resources(
        LambdaFunction(
            function_name=spec.function_name,
            function_id=spec.function_id,
            role_id=spec.role_id,
            log_group_id=spec.log_group_id,
            description=spec.description,
            role_description=spec.role_description or f"Runs {spec.function_name}; only the actions its code calls.",
            code_uri=f"responders/{spec.id}/",
            handler=spec.handler,
            timeout_seconds=spec.timeout_seconds,
            memory_mb=spec.memory_mb,
            statements=policy_statements(permissions, conditions, f"responder {spec.id}"),
            environment=environment,
            events=spec.events,
            condition=spec.condition,
            uses_library_layer=not spec.bundles_mamori,
            dead_letter_queue=DEAD_LETTER_QUEUE,
            event_bus=None if spec.event_bus is None else {"Ref": spec.event_bus},
            default_bus_events=spec.default_bus_events,
        )
    )
    for logical_id, resource in spec.resources.items():
        if logical_id in made:
            raise LambdaError(f"responder {spec.id}: resource {logical_id} is one the builder makes")
        made[logical_id] = {**resource, "Condition": spec.condition} if spec.condition else dict(resource)
    if set(made) != set(spec.resource_ids):
        raise LambdaError(f"responder {spec.id}: made {sorted(made)}, its spec names {sorted(spec.resource_ids)}")
    return made
