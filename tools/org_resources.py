"""The organization template's central responder: mamori-central-responder (responders/central/)
in SAM form, as tools/build_template.py makes the pack's functions.

    central_responder_parameters()  # the pack parameters it adds (CentralRootPasswordRemoval)
    central_responder_resources()   # its log group, role and function with its EventBridge rule

It runs in the management (or delegated administrator) account and acts on the `Config Rules
Compliance Change` events that member accounts forward to this account's default event bus.
It lives in the organization template only: a single account has no members to act on.
"""

import importlib.util
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mamori import central  # noqa: E402
from tools.build_template import LAMBDA_RUNTIME, lambda_log_group_and_role, policy_statements  # noqa: E402

CENTRAL_RESPONDER = ROOT / "responders" / "central"
# Deleting root keys is remediation: with AutoRemediation "false" (only report) the responder is
# not deployed, as the abuse responder is not (template/base.yaml's condition).
CENTRAL_RESPONDER_CONDITION = "AutoRemediationOn"
PASSWORD_REMOVAL_PARAMETER = "CentralRootPasswordRemoval"


def load_central_responder_spec() -> Any:
    module_spec = importlib.util.spec_from_file_location("mamori_responder_central_spec", CENTRAL_RESPONDER / "spec.py")
    if module_spec is None or module_spec.loader is None:
        raise ImportError(f"cannot load {CENTRAL_RESPONDER / 'spec.py'}")
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def central_responder_parameters() -> dict[str, Any]:
    return {
        PASSWORD_REMOVAL_PARAMETER: {
            "Type": "String",
            "Default": "false",
            "AllowedValues": ["true", "false"],
            "Description": (
                '"true": when mamori-root-mfa finds a member root user with a password and no MFA, '
                "mamori-central-responder removes that password through centralized root access (recorded first; "
                "root can sign in again only after password recovery is allowed). Root access keys are deleted "
                "whatever this says."
            ),
        }
    }


def event_pattern() -> dict[str, Any]:
    """The three rules' changes to NON_COMPLIANT, from accounts other than this one (its own
    stack remediates this account; the code refuses it too)."""
    return {
        "source": [central.SOURCE],
        "detail-type": [central.DETAIL_TYPE],
        "account": [{"anything-but": {"Ref": "AWS::AccountId"}}],
        "detail": {
            "configRuleName": list(central.RULES),
            "resourceType": [central.ACCOUNT_RESOURCE_TYPE],
            "newEvaluationResult": {"complianceType": [central.NON_COMPLIANT]},
        },
    }


def central_responder_statements(spec: Any) -> list[dict[str, Any]]:
    """The role's statements from spec.PERMISSIONS, with the conditions a Permission cannot say."""
    statements = policy_statements(spec.PERMISSIONS)
    for statement in statements:
        actions = set(statement["Action"])
        if actions == {"sts:AssumeRoot"}:
            # Only the task policy that deletes root credentials: no other root task, ever.
            statement["Condition"] = {"StringEquals": {"sts:TaskPolicyArn": {"Fn::Sub": spec.TASK_POLICY}}}
        elif actions <= {"account:GetAlternateContact", "account:PutAlternateContact"}:
            # The SECURITY contact only, never BILLING or OPERATIONS (a multi-valued key: ForAnyValue).
            statement["Condition"] = {"ForAnyValue:StringEquals": {"account:AlternateContactTypes": ["SECURITY"]}}
    conditioned = [s for s in statements if "Condition" in s]
    if {a for s in conditioned for a in s["Action"]} != {
        "sts:AssumeRoot",
        "account:GetAlternateContact",
        "account:PutAlternateContact",
    }:
        raise ValueError("central responder: AssumeRoot and the contact actions must each be in a statement of their own")
    return statements


def central_responder_resources() -> dict[str, Any]:
    """CentralResponderLogGroup, CentralResponderRole and CentralResponderFunction (with its
    EventBridge rule on the default bus), under the AutoRemediationOn condition. Needs the
    pack's NotificationTopic, NotificationKey (through PUBLISH_TO_TOPIC), MamoriLibrary,
    LogRetentionDays, the security-contact parameters and CentralRootPasswordRemoval."""
    spec = load_central_responder_spec()
    log_group, role = lambda_log_group_and_role(
        spec.FUNCTION_NAME,
        f"Runs {spec.FUNCTION_NAME}: opens root sessions in member accounts (IAMDeleteRootUserCredentials only) and "
        "sets their SECURITY contacts; only the actions its code calls.",
        central_responder_statements(spec),
    )
    environment: dict[str, Any] = {name: {"Ref": logical_id} for name, logical_id in spec.ENVIRONMENT.items()}
    # sts:AssumeRoot is refused on the global endpoint: make sure an older runtime boto3 uses the regional one.
    environment["AWS_STS_REGIONAL_ENDPOINTS"] = "regional"
    return {
        "CentralResponderLogGroup": {"Type": log_group["Type"], "Condition": CENTRAL_RESPONDER_CONDITION, **log_group},
        "CentralResponderRole": {"Type": role["Type"], "Condition": CENTRAL_RESPONDER_CONDITION, **role},
        "CentralResponderFunction": {
            "Type": "AWS::Serverless::Function",
            "Condition": CENTRAL_RESPONDER_CONDITION,
            "DependsOn": ["CentralResponderLogGroup"],
            "Properties": {
                "FunctionName": spec.FUNCTION_NAME,
                "Description": (
                    "Deletes member root access keys (and optionally root passwords) with sts:AssumeRoot, and sets member "
                    "SECURITY contacts, on the members' mamori compliance changes."
                ),
                "CodeUri": f"{CENTRAL_RESPONDER.relative_to(ROOT)}/",
                "Handler": "handler.lambda_handler",
                "Runtime": LAMBDA_RUNTIME,
                "Architectures": ["arm64"],
                "Timeout": 60,
                "MemorySize": 128,
                "Role": {"Fn::GetAtt": ["CentralResponderRole", "Arn"]},
                "Layers": [{"Ref": "MamoriLibrary"}],
                "Environment": {"Variables": environment},
                "Events": {"MemberComplianceChange": {"Type": "EventBridgeRule", "Properties": {"Pattern": event_pattern()}}},
            },
        },
    }
