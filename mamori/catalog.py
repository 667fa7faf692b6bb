"""Typed metadata of the pack: each rule and remediation folder declares one spec in its
`spec.py`; template.yaml is generated from these (tools/build_template.py) and the catalog
tests fail on any drift between a spec, its code, its document and the template."""

import importlib.util
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RULES_DIR = ROOT / "rules"
REMEDIATIONS_DIR = ROOT / "remediations"

RULE_ID = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
ACTION = re.compile(r"^[a-z0-9-]+:[A-Za-z0-9]+$")
TRIGGERS = ("configuration-change", "periodic")
FREQUENCIES = ("One_Hour", "Three_Hours", "Six_Hours", "Twelve_Hours", "TwentyFour_Hours")


@dataclass(frozen=True)
class Permission:
    """One IAM action the code calls, on the narrowest resource it can be granted for.
    Resources are CloudFormation Fn::Sub strings."""

    action: str
    resource: str = "*"

    def __post_init__(self) -> None:
        if not ACTION.match(self.action) or "*" in self.action:
            raise ValueError(f"Permission action {self.action!r} must be one service:Action, no wildcards")


# Reading the IAM credential report (mamori.credential_report): generate, then get.
READ_CREDENTIAL_REPORT = (Permission("iam:GenerateCredentialReport"), Permission("iam:GetCredentialReport"))
# Publishing to the pack's topic, which is encrypted with the pack's key (NotificationKey):
# SNS uses the key on the publisher's behalf, so the publisher needs both KMS actions.
PUBLISH_TO_TOPIC = (
    Permission("sns:Publish", "${NotificationTopic}"),
    Permission("kms:GenerateDataKey", "${NotificationKey.Arn}"),
    Permission("kms:Decrypt", "${NotificationKey.Arn}"),
)


@dataclass(frozen=True)
class Parameter:
    """A rule (or remediation) parameter, exposed as a pack (template) parameter of the same
    name. default "" means optional (left out when empty); None means the deployer must set it."""

    name: str
    description: str
    default: str | None
    allowed_pattern: str | None = None


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

    def __post_init__(self) -> None:
        if not RULE_ID.match(self.id):
            raise ValueError(f"rule id {self.id!r} must be lower-case words joined by '-'")
        if self.trigger not in TRIGGERS:
            raise ValueError(f"rule {self.id}: trigger must be one of {TRIGGERS}")
        if self.frequency not in FREQUENCIES:
            raise ValueError(f"rule {self.id}: frequency must be one of {FREQUENCIES}")
        if not self.resource_types:
            raise ValueError(f"rule {self.id}: name the resource types it evaluates")
        if self.remediation:
            missing = set(self.remediation.parameters) - {p.name for p in self.parameters}
            if missing:
                raise ValueError(f"rule {self.id}: remediation passes unknown parameters {sorted(missing)}")

    @property
    def config_rule_name(self) -> str:
        return f"mamori-{self.id}"

    @property
    def folder(self) -> Path:
        return RULES_DIR / self.id


@dataclass(frozen=True)
class DocumentParameter:
    name: str
    type: str  # String, Boolean, StringList, Integer
    description: str
    default: str | bool | None = None
    allowed_pattern: str | None = None


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
    """Import rules/<id>/<file> or remediations/<id>/<file> (folder names hold '-')."""
    base = RULES_DIR if kind == "rule" else REMEDIATIONS_DIR
    name = module_name(kind, unit_id, file)
    return sys.modules.get(name) or _load_module(base / unit_id / file, name)


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
