"""Typed metadata of the pack: each rule, remediation and responder folder declares one spec in
its `spec.py`; the templates are generated from these (tools/build_template.py) and the catalog
tests fail on any drift between a spec, its code, its document and the template.

The specs also name the CloudFormation logical ids of what is generated for them
(RuleSpec.function_id, DocumentSpec.role_id, ...): the generator, the harness, the demo and the
tests read them here and derive none themselves."""

import importlib.util
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from mamori.exemption import DEFAULT_MAX_EXEMPTION_DAYS, MAX_EXEMPTION_DAYS_LIMIT, MAX_EXEMPTION_DAYS_PATTERN
from mamori.iam_users import USER_ID_PATTERN
from mamori.records import RECORD_KEY_ALIAS, REMEDIATED_TAG
from mamori.security_contact import CONTACT_TYPE as SECURITY_CONTACT_TYPE

ROOT = Path(__file__).resolve().parent.parent
RULES_DIR = ROOT / "rules"
REMEDIATIONS_DIR = ROOT / "remediations"
RESPONDERS_DIR = ROOT / "responders"
UNIT_DIRS = {"rule": RULES_DIR, "remediation": REMEDIATIONS_DIR, "responder": RESPONDERS_DIR}

RULE_ID = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
ACTION = re.compile(r"^[a-z0-9-]+:[A-Za-z0-9]+$")
TRIGGERS = ("configuration-change", "periodic")
FREQUENCIES = ("One_Hour", "Three_Hours", "Six_Hours", "Twelve_Hours", "TwentyFour_Hours")
# The templates a responder can belong to: the pack (template.yaml, and so member-template.yaml)
# or the organization template only (org-template.yaml, the management account).
TEMPLATES = ("pack", "org")
FUNCTION_NAME = re.compile(r"^mamori-[a-z0-9]+(-[a-z0-9]+)*$")
ENVIRONMENT_VARIABLE = re.compile(r"^[A-Z][A-Z0-9_]*$")
LOGICAL_ID = re.compile(r"^[A-Za-z0-9]+$")
HANDLER = re.compile(r"^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$")


# IAM condition operators a Permission may use (IAM User Guide, "IAM JSON policy elements:
# Condition operators"): few on purpose, each one the sandbox can evaluate (harness/conditions.py).
CONDITION_OPERATORS = frozenset(
    {
        "StringEquals",
        "StringLike",
        "ArnEquals",
        "ArnLike",
        "ForAllValues:StringEquals",
        "ForAnyValue:StringEquals",
        "Null",
    }
)
CONDITION_KEY = re.compile(r"^[a-z0-9-]+:[A-Za-z0-9-]+(/[A-Za-z0-9:+=.@_ -]+)?$")
# One test of a condition block: (operator, key, values). Values are CloudFormation Fn::Sub strings.
ConditionTest = tuple[str, str, tuple[str, ...]]
# What a spec writes, as in a policy: {operator: {key: value or [values]}}.
When = Mapping[str, Mapping[str, str | list[str] | tuple[str, ...]]]


def condition_tests(when: When | None) -> tuple[ConditionTest, ...]:
    """A policy's Condition block as hashable tests, checked: known operators, well-formed keys,
    at least one value each."""
    tests: list[ConditionTest] = []
    for operator, keys in (when or {}).items():
        if operator not in CONDITION_OPERATORS:
            raise ValueError(f"condition operator {operator!r} is not one of {sorted(CONDITION_OPERATORS)}")
        for key, value in keys.items():
            values = (value,) if isinstance(value, str) else tuple(value)
            if not CONDITION_KEY.match(key) or not values or not all(isinstance(v, str) and v for v in values):
                raise ValueError(f"condition {operator} {key!r}: a condition key and at least one non-empty value")
            if operator == "Null" and values not in (("true",), ("false",)):
                raise ValueError(f"condition Null {key}: the value is 'true' or 'false'")
            tests.append((operator, key, values))
    return tuple(sorted(tests))


def all_of(*conditions: When) -> When:
    """One Condition block holding every test of the given ones (IAM: all must hold)."""
    merged: dict[str, dict[str, Any]] = {}
    for condition in conditions:
        for operator, keys in condition.items():
            clash = set(keys) & set(merged.get(operator, {}))
            if clash:
                raise ValueError(f"two conditions test {operator} {sorted(clash)}: say it once")
            merged.setdefault(operator, {}).update(keys)
    return merged


@dataclass(frozen=True)
class Permission:
    """One IAM action the code calls, on the narrowest resource it can be granted for, under the
    condition IAM offers to narrow it further (e.g. iam:PolicyARN), if any. Resources and
    condition values are CloudFormation Fn::Sub strings. The generator puts permissions that
    share a resource and a condition in one statement."""

    action: str
    resource: str = "*"
    condition: tuple[ConditionTest, ...] = ()

    def __post_init__(self) -> None:
        if not ACTION.match(self.action) or "*" in self.action:
            raise ValueError(f"Permission action {self.action!r} must be one service:Action, no wildcards")
        if self.condition != condition_tests(dict_of(self.condition)):
            raise ValueError(f"Permission {self.action}: make its condition with condition_tests() (or allow(when=...))")

    @property
    def when(self) -> dict[str, dict[str, list[str]]]:
        """The condition as a policy writes it (values not yet Fn::Sub)."""
        return dict_of(self.condition)


def dict_of(tests: tuple[ConditionTest, ...]) -> dict[str, dict[str, list[str]]]:
    when: dict[str, dict[str, list[str]]] = {}
    for operator, key, values in tests:
        when.setdefault(operator, {})[key] = list(values)
    return when


def allow(*actions: str, on: str = "*", when: When | None = None) -> tuple[Permission, ...]:
    """Several actions the code calls on one resource, under one condition:
    `*allow("ec2:StopInstances", on=INSTANCES)`,
    `*allow("iam:AttachUserPolicy", on=IAM_USERS, when={"ArnEquals": {"iam:PolicyARN": POLICY}})`."""
    tests = condition_tests(when)
    return tuple(Permission(action, on, tests) for action in actions)


# Every role of the pack lives under this IAM path, so that a customer can fence who may pass
# them (iam:PassRole on arn:aws:iam::*:role/mamori/*; SECURITY.md).
ROLE_PATH = "/mamori/"

# Tag actions under this condition write or remove only the tags mamori writes, and must name
# them (ForAllValues alone would also match a request without tags: Null says there are some).
ONLY_MAMORI_TAGS: When = {"ForAllValues:StringEquals": {"aws:TagKeys": [REMEDIATED_TAG]}, "Null": {"aws:TagKeys": "false"}}
# The resource carries the mamori:remediated tag, which a remediation leaves on what it changed:
# restores (and the GuardDuty remediation's own detectors) act on nothing else.
TAGGED_BY_MAMORI: When = {"Null": {f"aws:ResourceTag/{REMEDIATED_TAG}": "false"}}

# The SECURITY alternate contact only, never BILLING or OPERATIONS (account:AlternateContactTypes
# is multi-valued: ForAnyValue, which a request without the key does not match).
ONLY_THE_SECURITY_CONTACT: When = {"ForAnyValue:StringEquals": {"account:AlternateContactTypes": [SECURITY_CONTACT_TYPE]}}

# Reading the IAM credential report (mamori.credential_report): generate, then get.
READ_CREDENTIAL_REPORT = (Permission("iam:GenerateCredentialReport"), Permission("iam:GetCredentialReport"))
# Publishing to the pack's topic, which is encrypted with the pack's key (NotificationKey):
# SNS uses the key on the publisher's behalf, so the publisher needs both KMS actions.
PUBLISH_TO_TOPIC = (
    Permission("sns:Publish", "${NotificationTopic}"),
    Permission("kms:GenerateDataKey", "${NotificationKey.Arn}"),
    Permission("kms:Decrypt", "${NotificationKey.Arn}"),
)


# One OpsItem per finding (mamori.ops_items): looked up and opened on all OpsItems of the account,
# and updated once its notification is delivered.
NOTIFY_ONCE = (
    *allow("ssm:DescribeOpsItems", "ssm:CreateOpsItem"),
    Permission("ssm:UpdateOpsItem", "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:opsitem/*"),
)


@dataclass(frozen=True)
class Parameter:
    """A rule (or remediation) parameter, exposed as a pack (template) parameter of the same
    name. default "" means optional (left out when empty); None means the deployer must set it."""

    name: str
    description: str
    default: str | None
    allowed_pattern: str | None = None
    allowed_values: tuple[str, ...] = ()
    # The template's MaxLength: what the value may grow to wherever it is passed (a remediation's
    # static value takes 256, a rule's InputParameters 1,024 in all; tests/test_limits.py).
    max_length: int = 256
    # What CloudFormation says when a value does not fit: what is wanted, in words.
    constraint: str = ""

    def __post_init__(self) -> None:
        if not LOGICAL_ID.match(self.name):
            raise ValueError(f"parameter {self.name!r} must be a CloudFormation name (letters and digits)")
        if self.allowed_pattern and not self.constraint:
            raise ValueError(f"parameter {self.name}: say in `constraint` what a value must look like")
        if self.default is not None and len(self.default) > self.max_length:
            raise ValueError(f"parameter {self.name}: the default is longer than max_length {self.max_length}")
        if self.allowed_values and self.default is not None and self.default not in self.allowed_values:
            raise ValueError(f"parameter {self.name}: default {self.default!r} is not one of {self.allowed_values}")


@dataclass(frozen=True)
class RemediationLink:
    document: str  # remediation folder id; the document is mamori-<id>
    resource_id_parameter: str  # document parameter that receives the resource id
    parameters: tuple[str, ...] = ()  # rule parameters passed on as static values
    # (document parameter, logical id of a template resource whose Ref is passed), e.g.
    # ("TopicArn", "NotificationTopic").
    # A pack parameter in pack_values whose default is "" is passed only when it is set.
    pack_values: tuple[tuple[str, str], ...] = ()
    # Pack parameters that must all be set for the remediation to be configured at all (e.g.
    # the contact details a remediation writes): without them the rule only reports.
    requires: tuple[str, ...] = ()
    maximum_automatic_attempts: int = 3
    retry_attempt_seconds: int = 60


@dataclass(frozen=True)
class RuleSpec:
    id: str
    description: str
    trigger: str
    resource_types: tuple[str, ...]
    permissions: tuple[Permission, ...]
    parameters: tuple[Parameter, ...] = ()
    frequency: str = "TwentyFour_Hours"
    handler: str = "rule.lambda_handler"
    remediation: RemediationLink | None = None
    timeout_seconds: int = 60
    memory_mb: int = 256
    # Evaluates something of one region (a security group), so it is deployed in every region.
    # False: it evaluates something global (IAM, root, the account, every region at once) and is
    # deployed in the home region only, or every region would report the same finding again.
    regional: bool = False
    # A change-triggered rule that also sweeps every resource periodically (a hybrid rule, as
    # AWS's own security-group rules are): the pack parameter that sets how often
    # (MaximumExecutionFrequency; allowed values FREQUENCIES). Not passed to the Lambda.
    sweep: Parameter | None = None

    def __post_init__(self) -> None:
        if not RULE_ID.match(self.id):
            raise ValueError(f"rule id {self.id!r} must be lower-case words joined by '-'")
        if self.trigger not in TRIGGERS:
            raise ValueError(f"rule {self.id}: trigger must be one of {TRIGGERS}")
        if self.frequency not in FREQUENCIES:
            raise ValueError(f"rule {self.id}: frequency must be one of {FREQUENCIES}")
        if not self.resource_types:
            raise ValueError(f"rule {self.id}: name the resource types it evaluates")
        if self.sweep is not None:
            if self.trigger != "configuration-change":
                raise ValueError(f"rule {self.id}: only a configuration-change rule sweeps besides (a periodic one always does)")
            if set(self.sweep.allowed_values) != set(FREQUENCIES) or self.sweep.default not in FREQUENCIES:
                raise ValueError(f"rule {self.id}: the sweep parameter takes the frequencies {FREQUENCIES}")
            if self.sweep.name in {p.name for p in self.parameters}:
                raise ValueError(f"rule {self.id}: the sweep parameter {self.sweep.name} is not a rule parameter")
        if self.remediation:
            missing = set(self.remediation.parameters) - {p.name for p in self.parameters}
            if missing:
                raise ValueError(f"rule {self.id}: remediation passes unknown parameters {sorted(missing)}")

    @property
    def config_rule_name(self) -> str:
        return f"mamori-{self.id}"

    @property
    def function_name(self) -> str:
        return self.config_rule_name

    @property
    def folder(self) -> Path:
        return RULES_DIR / self.id

    # CloudFormation logical ids of what template.yaml holds for the rule.
    @property
    def logical_id(self) -> str:
        """The AWS::Config::ConfigRule."""
        return f"{pascal(self.id)}Rule"

    @property
    def function_id(self) -> str:
        return f"{self.logical_id}Function"

    @property
    def role_id(self) -> str:
        return f"{self.logical_id}Role"

    @property
    def log_group_id(self) -> str:
        return f"{self.logical_id}LogGroup"

    @property
    def invoke_permission_id(self) -> str:
        """The AWS::Lambda::Permission that lets Config invoke the function."""
        return f"{self.logical_id}InvokePermission"

    @property
    def remediation_config_id(self) -> str:
        """The AWS::Config::RemediationConfiguration (when the rule has a remediation)."""
        return f"{pascal(self.id)}Remediation"

    @property
    def enforced_condition(self) -> str:
        """The condition under which the remediation runs automatically: AutoRemediation on and
        the rule in EnforcedRules."""
        return f"{pascal(self.id)}Enforced"

    @property
    def remediation_condition(self) -> str:
        """The condition under which the remediation is configured (RemediationLink.requires)."""
        return f"{pascal(self.id)}RemediationConfigured"

    @property
    def resource_ids(self) -> tuple[str, ...]:
        """Every resource generated for the rule itself (its remediation's documents are the
        remediation's): the generator checks that it makes exactly these."""
        ids = (self.log_group_id, self.role_id, self.function_id, self.invoke_permission_id, self.logical_id)
        return ids + ((self.remediation_config_id,) if self.remediation else ())


@dataclass(frozen=True)
class DocumentParameter:
    name: str
    type: str  # String, Boolean, StringList, Integer
    description: str
    default: str | bool | None = None
    allowed_pattern: str | None = None


def text_parameter(name: str, description: str, default: str | None = None, pattern: str | None = None) -> DocumentParameter:
    """A String document parameter; a value must match `pattern` as a whole."""
    return DocumentParameter(name, "String", description, default=default, allowed_pattern=f"^{pattern}$" if pattern else None)


# How far ahead a mamori:exempt tag's until= date may be (mamori.exemption): a rule parameter of
# every rule that reads the tag, passed on to its remediation, which skips exempt resources too.
MAX_EXEMPTION_DAYS = Parameter(
    "MaxExemptionDays",
    f"A mamori:exempt tag counts only with an until=YYYY-MM-DD date at most this many days ahead (1 to "
    f"{MAX_EXEMPTION_DAYS_LIMIT}); without one, or further out, it is ignored and the annotation says why.",
    str(DEFAULT_MAX_EXEMPTION_DAYS),
    allowed_pattern=f"^{MAX_EXEMPTION_DAYS_PATTERN}$",
    max_length=3,
    constraint=f"A whole number of days, 1 to {MAX_EXEMPTION_DAYS_LIMIT}.",
)
MAX_EXEMPTION_DAYS_INPUT = DocumentParameter(
    MAX_EXEMPTION_DAYS.name,
    "String",
    "Days ahead a mamori:exempt tag's until= date may be (the pack's MaxExemptionDays).",
    default=str(DEFAULT_MAX_EXEMPTION_DAYS),
    allowed_pattern=f"^{MAX_EXEMPTION_DAYS_PATTERN}$",
)

# The two parameters every mamori document takes.
AUTOMATION_ASSUME_ROLE = DocumentParameter(
    "AutomationAssumeRole",
    "String",
    "The role the automation runs as.",
    allowed_pattern=r"^arn:aws[a-z0-9-]*:iam::\d{12}:role/[\w+=,.@/-]+$",
)
DRY_RUN = DocumentParameter("DryRun", "Boolean", "Report what would change and change nothing.", default=False)
# Taken by the documents that act on the account and tell people.
ACCOUNT_ID = DocumentParameter("AccountId", "String", "The account (the rule's resource id).", allowed_pattern=r"^\d{12}$")
# Taken by the documents that act on an IAM user (AWS Config's resource id), and the users they may act on.
USER_ID = text_parameter("UserId", "The IAM user's id (AIDA…), as AWS Config records it.", pattern=USER_ID_PATTERN)
IAM_USERS = "arn:${AWS::Partition}:iam::${AWS::AccountId}:user/*"
# The Config rules of this account and region (config-rule resource type). A rule's own ARN ends
# with an id Config makes up (config-rule-abc123), and naming the rule in its own role would be a
# circular dependency: the role cannot be narrower.
CONFIG_RULES = "arn:${AWS::Partition}:config:${AWS::Region}:${AWS::AccountId}:config-rule/*"
# The prefix lists of this region (prefix-list resource type), whoever owns them: a customer-managed
# list may be shared from another account (AWS RAM).
PREFIX_LISTS = "arn:${AWS::Partition}:ec2:${AWS::Region}:*:prefix-list/*"
TOPIC_ARN = DocumentParameter(
    "TopicArn",
    "String",
    "The SNS topic to notify (the pack's mamori-notifications).",
    allowed_pattern=r"^arn:aws[a-z0-9-]*:sns:[a-z0-9-]+:\d{12}:[\w-]{1,256}$",
)


@dataclass(frozen=True)
class DocumentSpec:
    """An SSM Automation document with one aws:executeScript step running `script`'s
    `handler`; the mamori modules the script imports are inlined at build time."""

    name: str  # full document name, mamori-<id> or mamori-<id>-restore
    description: str
    script: str  # file in the remediation folder
    parameters: tuple[DocumentParameter, ...]
    permissions: tuple[Permission, ...]
    # (key of the script's returned dict, SSM output type) exposed as document outputs
    outputs: tuple[tuple[str, str], ...] = ()
    handler: str = "handler"
    timeout_seconds: int = 600

    # CloudFormation logical ids of what the templates hold for the document.
    @property
    def logical_id(self) -> str:
        """The AWS::SSM::Document."""
        return f"{pascal(self.name.removeprefix('mamori-'))}Document"

    @property
    def role_id(self) -> str:
        """The role the document runs as (its AutomationAssumeRole)."""
        return f"{pascal(self.name.removeprefix('mamori-'))}AutomationRole"

    @property
    def role_output_id(self) -> str:
        """The stack output naming that role, for running the document by hand."""
        return f"{self.role_id}Arn"

    @property
    def resource_ids(self) -> tuple[str, ...]:
        return (self.logical_id, self.role_id)


# Every document returns these; a document's own outputs follow them.
STATUS_OUTPUTS = (("Status", "String"), ("Message", "String"))


def document(
    remediation_id: str,
    description: str,
    parameters: tuple[DocumentParameter, ...],
    permissions: tuple[Permission, ...],
    outputs: tuple[tuple[str, str], ...] = (),
    restore: bool = False,
) -> DocumentSpec:
    """The remediation's document (mamori-<id>, remediate.py) or its restore document
    (mamori-<id>-restore, restore.py): AutomationAssumeRole first, the given parameters,
    DryRun last; Status and Message before the given outputs."""
    return DocumentSpec(
        name=f"mamori-{remediation_id}" + ("-restore" if restore else ""),
        description=description,
        script="restore.py" if restore else "remediate.py",
        parameters=(AUTOMATION_ASSUME_ROLE, *parameters, DRY_RUN),
        permissions=permissions,
        outputs=(*STATUS_OUTPUTS, *outputs),
    )


# The pack's record key (template/base.yaml, RecordKey) as a role policy can name it: a role
# policy cannot name the key itself (the key's policy names the signing roles, and the two would
# depend on each other), so it names the account's keys and RECORD_KEY_CONDITION narrows them to
# the one with the records' alias. The key's own policy decides who may sign (tools/record_key.py).
RECORD_KEYS = "arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:key/*"
# The record key of another region: a responder that runs in every region but keeps its records
# in the home region (mamori-miner-responder) signs with the home region's key.
RECORD_KEYS_ANY_REGION = "arn:${AWS::Partition}:kms:*:${AWS::AccountId}:key/*"
RECORD_KEY_CONDITION: Mapping[str, Any] = {"ForAnyValue:StringEquals": {"kms:ResourceAliases": [RECORD_KEY_ALIAS]}}


def record_permissions(remediation_id: str, *actions: str) -> tuple[Permission, ...]:
    """Reading the remediation's records (/mamori/<id>/*: the kernel reads and verifies the
    record first), and the given SSM actions on them (PutParameter to record, DeleteParameter to
    forget). Reading verifies the record's MAC (kms:VerifyMac); writing signs it (kms:GenerateMac)."""
    records = f"arn:${{AWS::Partition}}:ssm:${{AWS::Region}}:${{AWS::AccountId}}:parameter/mamori/{remediation_id}/*"
    return tuple(Permission(f"ssm:{action}", records) for action in ("GetParameter", *actions)) + record_key_permissions(
        signs="PutParameter" in actions
    )


def record_key_permissions(signs: bool) -> tuple[Permission, ...]:
    """kms:VerifyMac on the record key, and kms:GenerateMac for a writer of records."""
    return tuple(Permission(action, RECORD_KEYS) for action in ("kms:VerifyMac", *(("kms:GenerateMac",) if signs else ())))


def record_key_conditions(permissions: tuple[Permission, ...]) -> tuple["StatementCondition", ...]:
    """The condition that narrows a role's grants on RECORD_KEYS to the record key."""
    actions = tuple(sorted(p.action for p in permissions if p.resource == RECORD_KEYS))
    return (StatementCondition(actions, RECORD_KEY_CONDITION),) if actions else ()


@dataclass(frozen=True)
class RemediationSpec:
    id: str
    remediate: DocumentSpec
    restore: DocumentSpec | None = None
    # Pack (template) parameters the remediation needs beyond its rule's, passed to it through
    # RemediationLink.pack_values (e.g. the contact details it sets).
    pack_parameters: tuple[Parameter, ...] = ()
    # CloudFormation resources the remediation needs besides its documents and roles (e.g. a
    # managed policy it attaches), by logical id; merged into template.yaml as they are.
    resources: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.remediate.name != f"mamori-{self.id}":
            raise ValueError(f"remediation {self.id}: its document must be named mamori-{self.id}")
        if self.restore and self.restore.name != f"mamori-{self.id}-restore":
            raise ValueError(f"remediation {self.id}: its restore document must be named mamori-{self.id}-restore")
        for document in self.documents:
            outputs = [name for name, _ in document.outputs]
            if len(set(outputs)) != len(outputs):
                raise ValueError(f"document {document.name} declares an output twice: {outputs}")
            names = {p.name for p in document.parameters}
            for required in ("AutomationAssumeRole", "DryRun"):
                if required not in names:
                    raise ValueError(f"document {document.name} lacks the {required} parameter")

    @property
    def folder(self) -> Path:
        return REMEDIATIONS_DIR / self.id

    @property
    def documents(self) -> tuple[DocumentSpec, ...]:
        return (self.remediate,) + ((self.restore,) if self.restore else ())


@dataclass(frozen=True)
class StatementCondition:
    """A condition IAM offers for some of a responder's actions (e.g. iam:PassedToService),
    which a Permission cannot say: it goes on the role statement that grants exactly `actions`
    (so they must share a resource and nothing else may), or generation fails."""

    actions: tuple[str, ...]
    condition: Mapping[str, Any]
    # When the same actions are granted on several resources: the one this condition is for.
    resource: str | None = None


@dataclass(frozen=True)
class Deduplicating:
    """A responder that tells at most once per key and window (mamori.deduplication): the table
    in its environment, PutItem and DeleteItem on it, and only on keys that start with its own
    prefix (dynamodb:LeadingKeys), so it cannot silence another responder's messages."""

    owner: str  # the key prefix: "<owner>#..."

    @property
    def environment(self) -> dict[str, Any]:
        return {"DEDUPLICATION_TABLE": {"Ref": "DeduplicationTable"}, "DEDUPLICATION_OWNER": self.owner}

    @property
    def permissions(self) -> tuple[Permission, ...]:
        return allow("dynamodb:PutItem", "dynamodb:DeleteItem", on="${DeduplicationTable.Arn}")

    @property
    def condition(self) -> StatementCondition:
        return StatementCondition(
            ("dynamodb:PutItem", "dynamodb:DeleteItem"),
            {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [f"{self.owner}#*"]}},
        )


@dataclass(frozen=True)
class ResponderSpec:
    """A Lambda that acts on EventBridge events (not a Config rule): the notifier, the abuse
    responder, the organization's central responder. The generator makes its log group, its
    role (only `permissions`, with `statement_conditions`), the function with `environment`, and
    one EventBridge rule per entry of `events`, on the default bus or on `event_bus`."""

    id: str  # the folder name under responders/
    function_name: str  # mamori-<name>; the logical ids derive from <name>
    description: str
    permissions: tuple[Permission, ...]
    events: Mapping[str, Mapping[str, Any]]  # event name -> EventBridge event pattern
    template: str = "pack"  # one of TEMPLATES
    # Environment variable -> a CloudFormation value (a string, {"Ref": ...}, {"Fn::If": ...}).
    environment: Mapping[str, Any] = field(default_factory=dict)
    condition: str | None = None  # the template condition under which it is deployed at all
    statement_conditions: tuple[StatementCondition, ...] = ()
    # A rule id: the responder starts that rule's paired remediation document, with the
    # parameters the rule's RemediationConfiguration passes. The generator then adds the start
    # and iam:PassRole grants (passed to SSM only) and DOCUMENT_NAME, AUTOMATION_ASSUME_ROLE,
    # RESOURCE_ID_PARAMETER and DOCUMENT_PARAMETER_<name> to the environment, from one source.
    starts_remediation_of: str | None = None
    # Template parameters the responder adds to its template (read through its environment).
    parameters: tuple[Parameter, ...] = ()
    role_description: str = ""  # default: "Runs <function name>; only the actions its code calls."
    # The logical id of the AWS::Events::EventBus (in the responder's template) its rules listen
    # on; None for the default bus.
    event_bus: str | None = None
    # Events that stay on the default bus whatever event_bus says: those AWS itself delivers there
    # (an AWS Health organizational view), which no account can put on another bus.
    default_bus_events: tuple[str, ...] = ()
    handler: str = "handler.lambda_handler"
    timeout_seconds: int = 60
    memory_mb: int = 128
    # False: the code is the folder, with the mamori package from the shared MamoriLibrary layer.
    # True: the folder's Makefile builds the function with the whole mamori package inside,
    # subpackages only this responder needs included (mamori/central/), and it takes no layer.
    bundles_mamori: bool = False
    # CloudFormation resources it needs besides its function, role and log group (e.g. the role
    # EventBridge Scheduler invokes it with), by logical id; deployed under its condition.
    resources: Mapping[str, Any] = field(default_factory=dict)
    # True: it acts on its own region's events (GuardDuty findings, abuse reports), so the member
    # StackSet deploys it in every region. False: it acts on something global (IAM keys, whose
    # AWS Health events arrive in one region) and is deployed in the home region only.
    regional: bool = True

    def __post_init__(self) -> None:
        where = f"responder {self.id}"
        if not RULE_ID.match(self.id):
            raise ValueError(f"{where}: id must be lower-case words joined by '-' (the folder name)")
        if not FUNCTION_NAME.match(self.function_name) or len(self.function_name) > 64:
            raise ValueError(f"{where}: function name {self.function_name!r} must be mamori-<words>, at most 64 characters")
        if self.template not in TEMPLATES:
            raise ValueError(f"{where}: template must be one of {TEMPLATES}, not {self.template!r}")
        if not self.events:
            raise ValueError(f"{where}: name the EventBridge events it acts on")
        for event_name, pattern in self.events.items():
            if not LOGICAL_ID.match(event_name):
                raise ValueError(f"{where}: event name {event_name!r} must be letters and digits (it becomes a logical id)")
            if not isinstance(pattern, Mapping) or not pattern.get("source"):
                raise ValueError(f"{where}: event {event_name} needs a pattern with a source")
        for variable in self.environment:
            if not ENVIRONMENT_VARIABLE.match(variable):
                raise ValueError(f"{where}: environment variable {variable!r} must be UPPER_SNAKE")
        if self.condition is not None and not LOGICAL_ID.match(self.condition):
            raise ValueError(f"{where}: condition {self.condition!r} is not a condition name")
        if self.event_bus is not None and not LOGICAL_ID.match(self.event_bus):
            raise ValueError(f"{where}: event_bus {self.event_bus!r} is not a logical id")
        if set(self.default_bus_events) - set(self.events):
            raise ValueError(f"{where}: default_bus_events names events it does not have: {self.default_bus_events}")
        granted = {permission.action for permission in self.permissions}
        for statement_condition in self.statement_conditions:
            unknown = set(statement_condition.actions) - granted
            if not statement_condition.actions or not statement_condition.condition or unknown:
                raise ValueError(f"{where}: a statement condition needs a condition and granted actions (unknown: {unknown})")
        if self.starts_remediation_of is not None and not RULE_ID.match(self.starts_remediation_of):
            raise ValueError(f"{where}: starts_remediation_of must be a rule id")
        if not HANDLER.match(self.handler):
            raise ValueError(f"{where}: handler must be <module>.<function>")
        if not 1 <= self.timeout_seconds <= 900 or not 128 <= self.memory_mb <= 10240:
            raise ValueError(f"{where}: timeout must be 1-900 s and memory 128-10240 MB (Lambda's limits)")

    @property
    def folder(self) -> Path:
        return RESPONDERS_DIR / self.id

    # CloudFormation logical ids of what the template holds for the responder.
    @property
    def logical_name(self) -> str:
        """'mamori-abuse-responder' -> 'AbuseResponder'."""
        return pascal(self.function_name.removeprefix("mamori-"))

    @property
    def function_id(self) -> str:
        return f"{self.logical_name}Function"

    @property
    def role_id(self) -> str:
        return f"{self.logical_name}Role"

    @property
    def log_group_id(self) -> str:
        return f"{self.logical_name}LogGroup"

    @property
    def resource_ids(self) -> tuple[str, ...]:
        return (self.log_group_id, self.role_id, self.function_id, *self.resources)


def pascal(text: str) -> str:
    """'open-proxy-ports' -> 'OpenProxyPorts': how ids become CloudFormation logical ids."""
    return "".join(part.capitalize() for part in text.replace("_", "-").split("-"))


def _load_module(path: Path, name: str) -> ModuleType:
    module_spec = importlib.util.spec_from_file_location(name, path)
    if module_spec is None or module_spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module
    module_spec.loader.exec_module(module)
    return module


def module_name(kind: str, unit_id: str, file: str) -> str:
    return f"mamori_{kind}_{unit_id.replace('-', '_')}_{Path(file).stem}"


def load_unit_module(kind: str, unit_id: str, file: str) -> ModuleType:
    """Import rules/<id>/<file>, remediations/<id>/<file> or responders/<id>/<file> (folder
    names hold '-')."""
    name = module_name(kind, unit_id, file)
    return sys.modules.get(name) or _load_module(UNIT_DIRS[kind] / unit_id / file, name)


def _load_specs(kind: str, base: Path, attribute: str) -> list[Any]:
    specs = []
    for folder in sorted(p for p in base.iterdir() if (p / "spec.py").exists()):
        spec = getattr(load_unit_module(kind, folder.name, "spec.py"), attribute)
        if spec.id != folder.name:
            raise ValueError(f"{folder}: spec id {spec.id!r} must equal the folder name")
        specs.append(spec)
    return specs


def load_rules() -> list[RuleSpec]:
    return _load_specs("rule", RULES_DIR, "RULE")


def load_remediations() -> list[RemediationSpec]:
    return _load_specs("remediation", REMEDIATIONS_DIR, "REMEDIATION")


def load_responders() -> list[ResponderSpec]:
    return _load_specs("responder", RESPONDERS_DIR, "RESPONDER")


def rule_spec(rule_id: str) -> RuleSpec:
    return next(rule for rule in load_rules() if rule.id == rule_id)


def responder_spec(responder_id: str) -> ResponderSpec:
    return next(responder for responder in load_responders() if responder.id == responder_id)


def document_spec(document_name: str) -> DocumentSpec:
    return next(
        document for remediation in load_remediations() for document in remediation.documents if document.name == document_name
    )
