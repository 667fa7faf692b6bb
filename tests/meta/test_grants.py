"""Least privilege, checked once for the whole pack: every IAM role of the templates is run by
some test, and all that its principal called in the whole session is exactly what the role is
granted (harness.aws.Sandbox also refuses any call its role is not granted while it runs).

A new rule, document or responder whose role no test exercises, or whose grants its code does
not use, fails here without anyone writing a check for it."""

from pathlib import Path

import pytest

from harness.pack import granted_actions
from tests.meta.grants import SERVICE_ROLES, Role, grant_problems, pack_roles
from tests.meta.session import SESSION, Session, why_incomplete


@pytest.mark.whole_session
def test_every_role_is_exercised_and_its_principal_calls_exactly_its_grants() -> None:
    if SESSION.partial:
        pytest.skip(SESSION.partial)
    roles, problems = pack_roles()

    problems += grant_problems(roles.values(), SESSION.calls)

    assert not problems, "\n".join(problems) + SESSION.failures_note()


def test_every_role_is_run_by_code_or_is_a_service_role_named_with_its_reason() -> None:
    roles, problems = pack_roles()

    assert not problems, "\n".join(problems)
    assert {logical_id for logical_id, role in roles.items() if role.principal is None} == set(SERVICE_ROLES)
    assert all(reason.strip() for reason in SERVICE_ROLES.values())
    # What the sandbox enforces (harness.pack reads template.yaml) is what is checked here.
    for role in roles.values():
        if "template.yaml" in role.templates:
            assert role.granted == granted_actions(role.logical_id), role.logical_id


# --- the checks themselves fail: throwaway roles, calls and templates -------------------------

RULE = Role(
    "ThingRuleRole", ("t.yaml",), frozenset({"ec2:DescribeThings", "config:PutEvaluations", "logs:PutLogEvents"}), "lambda:t"
)
DOCUMENT = Role(
    "ThingAutomationRole",
    ("t.yaml",),
    frozenset({"ec2:FixThing", "guardduty:CreateDetector", "guardduty:TagResource"}),
    "automation:t",
)
SERVICE = Role("ThingServiceRole", ("t.yaml",), frozenset({"events:PutEvents"}), None)


def test_a_role_no_test_ran_is_reported() -> None:
    calls = {("lambda:t", "ec2:DescribeThings"): 1, ("lambda:t", "config:PutEvaluations"): 1}

    assert grant_problems([RULE, DOCUMENT, SERVICE], calls) == ["ThingAutomationRole: no test ran automation:t"]


def test_a_call_not_granted_and_a_grant_never_called_are_reported() -> None:
    calls = {
        ("lambda:t", "config:PutEvaluations"): 3,
        ("lambda:t", "ec2:DeleteThing"): 1,  # refused by the sandbox, but tried
        ("lambda:t", "ec2:DescribeThings"): 0,  # a zero count is no call
        ("automation:t", "ec2:FixThing"): 1,
        ("automation:t", "guardduty:CreateDetector"): 1,  # also authorizes guardduty:TagResource
        ("automation:t", "iam:PassRole"): 1,
        ("lambda:other", "s3:GetObject"): 1,
    }

    assert grant_problems([RULE, DOCUMENT, SERVICE], calls) == [
        "ThingAutomationRole: called by automation:t but not granted: ['iam:PassRole']",
        "ThingAutomationRole: automation:t called ['iam:PassRole'], which harness.pack.NOT_CALLED_BY_CODE says no code calls",
        "ThingRuleRole: granted but never called by lambda:t: ['ec2:DescribeThings']",
        "ThingRuleRole: called by lambda:t but not granted: ['ec2:DeleteThing']",
        "lambda:other called ['s3:GetObject'] but runs under no role of the templates",
    ]


def test_exact_grants_are_no_problem() -> None:
    calls = {
        ("lambda:t", "config:PutEvaluations"): 1,
        ("lambda:t", "ec2:DescribeThings"): 1,
        ("automation:t", "ec2:FixThing"): 1,
        ("automation:t", "guardduty:CreateDetector"): 1,
    }

    assert grant_problems([RULE, DOCUMENT, SERVICE], calls) == []


def _template(path: Path, resources: str) -> Path:
    path.write_text("Resources:\n" + resources)
    return path


ROLE = """  {name}:
    Type: AWS::IAM::Role
    Properties:
      Policies:
        - PolicyDocument:
            Statement:
              - {{Effect: Allow, Action: [{actions}]}}
"""
FUNCTION = """  {name}Function:
    Type: AWS::Serverless::Function
    Properties: {{FunctionName: {function}, Role: {{"Fn::GetAtt": [{name}, Arn]}}}}
"""


def test_unrun_roles_roles_granted_differently_and_stale_service_roles_are_reported(tmp_path: Path) -> None:
    pack = _template(
        tmp_path / "pack.yaml",
        ROLE.format(name="RunRole", actions="ec2:A")
        + FUNCTION.format(name="RunRole", function="mamori-run")
        + ROLE.format(name="ForgottenRole", actions="ec2:B")
        + ROLE.format(name="BusRole", actions="events:PutEvents"),
    )
    member = _template(tmp_path / "member.yaml", ROLE.format(name="RunRole", actions="ec2:A, ec2:C"))

    roles, problems = pack_roles(
        [pack, member],
        run_by_documents={"automation:mamori-fix": "FixAutomationRole"},
        service_roles={"BusRole": "EventBridge assumes it", "GoneRole": "deleted since"},
    )

    assert roles["RunRole"].principal == "lambda:mamori-run" and roles["BusRole"].principal is None
    assert problems == [
        "ForgottenRole (pack.yaml): no function or document of the pack runs under it; "
        "if a service assumes it, add it to SERVICE_ROLES in tests/meta/grants.py with the reason",
        "RunRole is granted different actions in member.yaml: ['ec2:A', 'ec2:C']; pack.yaml: ['ec2:A']",
        "SERVICE_ROLES names GoneRole, which is no role of any template",
        "['automation:mamori-fix'] run under FixAutomationRole, which is no role of any template",
    ]


def test_the_session_checks_skip_unless_every_test_was_selected() -> None:
    every_file = set(Path(__file__).resolve().parent.parent.rglob("test_*.py"))

    assert why_incomplete(["tests"], every_file, 0) is None
    assert why_incomplete(["tests"], every_file, 3) == "3 test(s) were deselected (-k, -m or --deselect)"
    assert why_incomplete(["tests/meta/test_grants.py::test_exact_grants_are_no_problem"], every_file, 0) == (
        "single tests were named (tests/meta/test_grants.py::test_exact_grants_are_no_problem)"
    )
    one_file = {Path(__file__).resolve()}
    reason = why_incomplete(["tests/meta/test_grants.py"], one_file, 0)
    assert reason is not None and reason.startswith(f"{len(every_file) - 1} test file(s) were not collected (")
    assert Session(incomplete_because="1 test(s) were deselected (-k, -m or --deselect)").partial == (
        "checks the whole test session, but 1 test(s) were deselected (-k, -m or --deselect): run all of tests/ for it"
    )
    assert Session(incomplete_because=None).partial is None
