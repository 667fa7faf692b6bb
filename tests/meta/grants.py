"""Every IAM role in the pack's templates, who runs under it, and what it is granted; and the
comparison of all that the principals called during the test session with those grants.

A principal is how harness.aws.Sandbox names code running under a role: `lambda:<function
name>` for a rule Lambda or a responder, `automation:<document name>` for an SSM document.
The sandbox adds up every call of every principal in `Sandbox.session_calls` (set by
tests/conftest.py for the whole session); `grant_problems` says what disagrees.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from harness.pack import NOT_CALLED_BY_CODE, automation_principal, document_role, documents, lambda_principal

ROOT = Path(__file__).resolve().parent.parent.parent
# Every CloudFormation template of the pack: the deployable ones and the sources they are made from.
TEMPLATE_FILES = tuple(sorted([*ROOT.glob("*.yaml"), *(ROOT / "template").glob("*.yaml")]))

# Roles that no code of the pack runs under: a service assumes them. No test can exercise them,
# so they are named here, each with the reason, and checked to exist.
SERVICE_ROLES: Mapping[str, str] = {
    "ConfigAggregatorRole": "AWS Config assumes it for the organization aggregator (AWS managed policy only)",
    "ComplianceForwarderRole": "EventBridge assumes it to put members' compliance changes on the management bus",
    "ForwarderRole": "EventBridge assumes it to forward AWS Health abuse events from us-east-1 to the home region",
    "AbuseReminderRole": "EventBridge Scheduler assumes it to invoke mamori-abuse-responder for an abuse case's reminders",
}

# Actions IAM authorizes on top of the one a call is named after, which the sandbox (one action
# per call) does not count: CreateDetector with Tags is also authorized as guardduty:TagResource
# on the new detector (Service Authorization Reference, GuardDuty, CreateDetector).
ALSO_AUTHORIZED: Mapping[str, frozenset[str]] = {
    "guardduty:CreateDetector": frozenset({"guardduty:TagResource"}),
}


@dataclass(frozen=True)
class Role:
    logical_id: str
    templates: tuple[str, ...]  # the files it is in, relative to the repository
    granted: frozenset[str]  # every action its inline policies allow
    principal: str | None  # who runs under it; None for a service role


def policy_actions(role: Mapping[str, Any]) -> frozenset[str]:
    """Every action the role's inline policies allow."""
    actions: set[str] = set()
    for policy in role.get("Properties", {}).get("Policies", []):
        for statement in policy["PolicyDocument"]["Statement"]:
            if statement["Effect"] == "Allow":
                listed = statement["Action"]
                actions.update([listed] if isinstance(listed, str) else listed)
    return frozenset(actions)


def _resources(path: Path) -> Mapping[str, Any]:
    loaded = yaml.safe_load(path.read_text())
    return loaded.get("Resources") or {} if isinstance(loaded, dict) else {}


def document_roles() -> dict[str, str]:
    """{principal: role logical id} of every SSM document in template.yaml."""
    return {automation_principal(name): document_role(name) for name in documents()}


def _name(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else path.name


def pack_roles(
    template_files: Iterable[Path] = TEMPLATE_FILES,
    run_by_documents: Mapping[str, str] | None = None,
    service_roles: Mapping[str, str] = SERVICE_ROLES,
) -> tuple[dict[str, Role], list[str]]:
    """({logical id: Role} of every role in the templates, [problems]): a role must be granted the
    same actions in every template it is in, and be run by exactly one principal (a function's
    or a document's, given as {principal: role}; default: template.yaml's documents) or be a
    service role."""
    grants: dict[str, dict[str, frozenset[str]]] = {}
    principals: dict[str, set[str]] = {}
    for path in template_files:
        for logical_id, resource in _resources(path).items():
            properties = resource.get("Properties") or {}
            if resource.get("Type") == "AWS::IAM::Role":
                grants.setdefault(logical_id, {})[_name(path)] = policy_actions(resource)
            elif resource.get("Type") in ("AWS::Serverless::Function", "AWS::Lambda::Function"):
                role = properties.get("Role")
                if isinstance(role, dict) and "Fn::GetAtt" in role and isinstance(properties.get("FunctionName"), str):
                    principals.setdefault(role["Fn::GetAtt"][0], set()).add(lambda_principal(properties["FunctionName"]))
    for principal, logical_id in (document_roles() if run_by_documents is None else run_by_documents).items():
        principals.setdefault(logical_id, set()).add(principal)

    problems: list[str] = []
    roles: dict[str, Role] = {}
    for logical_id, by_template in sorted(grants.items()):
        distinct = set(by_template.values())
        if len(distinct) > 1:
            problems.append(
                f"{logical_id} is granted different actions in "
                + "; ".join(f"{name}: {sorted(actions)}" for name, actions in sorted(by_template.items()))
            )
        run_by = sorted(principals.get(logical_id, ()))
        if len(run_by) > 1:
            problems.append(f"{logical_id} is the role of several principals {run_by}: one role per function or document")
        if run_by and logical_id in service_roles:
            problems.append(f"{logical_id} is listed in SERVICE_ROLES but {run_by[0]} runs under it")
        if not run_by and logical_id not in service_roles:
            problems.append(
                f"{logical_id} ({', '.join(sorted(by_template))}): no function or document of the pack runs under it; "
                "if a service assumes it, add it to SERVICE_ROLES in tests/meta/grants.py with the reason"
            )
        roles[logical_id] = Role(
            logical_id, tuple(sorted(by_template)), frozenset().union(*distinct), run_by[0] if run_by else None
        )
    for logical_id in sorted(set(service_roles) - set(grants)):
        problems.append(f"SERVICE_ROLES names {logical_id}, which is no role of any template")
    for logical_id in sorted(set(principals) - set(grants)):
        problems.append(f"{sorted(principals[logical_id])} run under {logical_id}, which is no role of any template")
    return roles, problems


def grant_problems(
    roles: Iterable[Role],
    calls: Mapping[tuple[str, str], int],
    not_called_by_code: frozenset[str] = NOT_CALLED_BY_CODE,
    also_authorized: Mapping[str, frozenset[str]] = ALSO_AUTHORIZED,
) -> list[str]:
    """What disagrees between the roles' grants and calls ({(principal, IAM action): count}):
    a role whose principal no test ran, an action granted but never called, an action called
    but not granted, a principal that is no role's."""
    called: dict[str, set[str]] = {}
    for (principal, action), count in calls.items():
        if count:
            called.setdefault(principal, set()).add(action)
    problems: list[str] = []
    run_by: set[str] = set()
    for role in sorted(roles, key=lambda r: r.logical_id):
        if role.principal is None:
            continue
        run_by.add(role.principal)
        actions = called.get(role.principal)
        if not actions:
            problems.append(f"{role.logical_id}: no test ran {role.principal}")
            continue
        authorized = actions.union(*(also_authorized.get(action, frozenset()) for action in actions))
        granted = role.granted - not_called_by_code
        if granted - authorized:
            problems.append(f"{role.logical_id}: granted but never called by {role.principal}: {sorted(granted - authorized)}")
        if actions - role.granted:
            problems.append(f"{role.logical_id}: called by {role.principal} but not granted: {sorted(actions - role.granted)}")
        if actions & not_called_by_code:
            problems.append(
                f"{role.logical_id}: {role.principal} called {sorted(actions & not_called_by_code)}, "
                "which harness.pack.NOT_CALLED_BY_CODE says no code calls"
            )
    for principal in sorted(set(called) - run_by):
        problems.append(f"{principal} called {sorted(called[principal])} but runs under no role of the templates")
    return problems
