"""mamori-iam-user-console-mfa through its real lambda_handler, with real-shaped periodic
events, on IAM users made in moto (harness.iam_state stands in for time passing).
Evaluations are read back from the Config stand-in, i.e. what PutEvaluations delivered."""

import datetime
import time
from typing import Any

import boto3
import pytest

from harness.aws import ACCOUNT, RootCredentials, Sandbox
from harness.config_events import periodic_event
from harness.iam_state import create_managed_policy, make_user, user_created_ago
from harness.pack import deployed_rule_parameters, invoke_rule, lambda_principal, template
from tests.exempt import SOON

# What the dashboard says of a user the deny policy contains: COMPLIANT, yet MFA is still missing.
CONTAINED_TEXT = "Contained: no MFA yet, access limited until the user adds MFA (mamori-deny-without-mfa attached)."

RULE = "mamori-iam-user-console-mfa"
RULE_ID = "iam-user-console-mfa"
DAY = datetime.timedelta(days=1)
NON_COMPLIANT_TEXT = (
    "Console password without MFA (user created {created}); remediation attaches mamori-deny-without-mfa, "
    "which denies everything but setting up MFA until the user signs in with MFA."
)
IAM_CALLS = ("iam:GenerateCredentialReport", "iam:GetCredentialReport", "iam:GetAccountAuthorizationDetails")


@pytest.fixture(autouse=True)
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The rule waits between polls of the credential report: record the waits, don't sleep."""
    recorded: list[float] = []
    monkeypatch.setattr(time, "sleep", recorded.append)
    return recorded


def run(sandbox: Sandbox, **parameters: str) -> Any:
    event = periodic_event(RULE, deployed_rule_parameters(RULE_ID, **parameters))
    return invoke_rule(sandbox, RULE_ID, event)


def evaluations(sandbox: Sandbox, **parameters: str) -> dict[str, tuple[str, str]]:
    run(sandbox, **parameters)
    return sandbox.config.compliance(RULE)


def old_user(name: str, days: int = 2, **kwargs: Any) -> str:
    user_id = make_user(name, **kwargs)
    user_created_ago(name, days * DAY)
    return user_id


def created_text(days: int) -> str:
    return (datetime.datetime.now(datetime.UTC) - days * DAY).strftime("%Y-%m-%d")


def test_console_password_without_mfa_past_the_grace_period(sandbox: Sandbox) -> None:
    sandbox.root = RootCredentials(mfa_active=False)  # the root row is another rule's business
    alice = old_user("alice", password=True)
    bob = old_user("bob", password=True, mfa=True)
    robot = old_user("deploy-robot", keys=1, path="/ci/")

    assert evaluations(sandbox) == {
        alice: ("NON_COMPLIANT", NON_COMPLIANT_TEXT.format(created=created_text(2))),
        bob: ("COMPLIANT", ""),
        robot: ("NOT_APPLICABLE", "No console password: console MFA does not apply."),
    }
    stored = sandbox.config.evaluations[RULE]
    assert {resource_type for resource_type, _ in stored} == {"AWS::IAM::User"}


@pytest.mark.parametrize(
    ("age", "grace", "expected"),
    [
        (datetime.timedelta(hours=23, minutes=59), "24", "COMPLIANT"),
        (datetime.timedelta(hours=24, minutes=1), "24", "NON_COMPLIANT"),
        (datetime.timedelta(hours=1), "0", "NON_COMPLIANT"),
        (datetime.timedelta(hours=47), "48", "COMPLIANT"),
    ],
    ids=["just-inside", "just-past", "no-grace", "custom-grace"],
)
def test_grace_period_edge(sandbox: Sandbox, age: datetime.timedelta, grace: str, expected: str) -> None:
    alice = make_user("alice", password=True)
    user_created_ago("alice", age)

    compliance, annotation = evaluations(sandbox, GracePeriodHours=grace)[alice]

    assert compliance == expected
    if expected == "COMPLIANT":
        created = datetime.datetime.now(datetime.UTC) - age
        ends = (created + datetime.timedelta(hours=int(grace))).replace(microsecond=0)
        assert annotation.startswith("Console password without MFA; the grace period ends ")
        stated = datetime.datetime.fromisoformat(annotation.removesuffix(".").rsplit(" ", 1)[1].replace("Z", "+00:00"))
        assert abs((stated - ends).total_seconds()) <= 2


def test_deny_policy_attached_limits_the_user_and_counts_as_compliant(sandbox: Sandbox) -> None:
    iam = boto3.client("iam")
    policy = create_managed_policy(template()["Resources"]["DenyWithoutMfaPolicy"])
    limited = old_user("limited", password=True)
    iam.attach_user_policy(UserName="limited", PolicyArn=policy)
    # A customer policy of the same name elsewhere is not the pack's.
    lookalike = iam.create_policy(
        PolicyName="mamori-deny-without-mfa",
        PolicyDocument='{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"ec2:RunInstances","Resource":"*"}]}',
    )["Policy"]["Arn"]
    other = old_user("other", password=True)
    iam.attach_user_policy(UserName="other", PolicyArn=lookalike)

    result = evaluations(sandbox)

    assert result[limited] == ("COMPLIANT", CONTAINED_TEXT)
    assert result[other][0] == "NON_COMPLIANT"


def test_exempt_user_is_not_applicable_with_its_reason(sandbox: Sandbox) -> None:
    alice = old_user("alice", password=True, tags={"mamori:exempt": f"break-glass user in the safe until={SOON}"})

    assert evaluations(sandbox)[alice] == (
        "NOT_APPLICABLE",
        f"Exempt by mamori:exempt: break-glass user in the safe (until {SOON})",
    )


def test_expired_exemption_counts_for_nothing(sandbox: Sandbox) -> None:
    alice = old_user("alice", password=True, tags={"mamori:exempt": "migration until=2020-01-01"})

    compliance, annotation = evaluations(sandbox)[alice]

    assert compliance == "NON_COMPLIANT"
    assert annotation.endswith("(mamori:exempt expired on 2020-01-01)")


def test_evaluation_of_a_deleted_user_is_cleaned_up(sandbox: Sandbox) -> None:
    alice = old_user("alice", password=True)
    bob = old_user("bob", password=True, mfa=True)
    assert evaluations(sandbox)[alice][0] == "NON_COMPLIANT"
    iam = boto3.client("iam")
    iam.delete_login_profile(UserName="alice")
    iam.delete_user(UserName="alice")

    result = evaluations(sandbox)

    assert result[alice] == ("NOT_APPLICABLE", "")
    assert result[bob] == ("COMPLIANT", "")
    assert sandbox.calls_by(lambda_principal(RULE))["config:GetComplianceDetailsByConfigRule"] == 2


def test_real_report_values(sandbox: Sandbox) -> None:
    """Rows as IAM writes them (N/A, no_information, not_supported), for users that exist."""
    alice = make_user("alice", password=True)
    robot = make_user("robot")
    header = (
        "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,"
        "mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,"
        "access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,"
        "access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,"
        "cert_2_last_rotated"
    )
    rows = [
        f"<root_account>,arn:aws:iam::{ACCOUNT}:root,2018-01-15T09:12:44+00:00,not_supported,no_information,"
        "not_supported,not_supported,false,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A",
        f"alice,arn:aws:iam::{ACCOUNT}:user/alice,2024-05-02T12:00:00+00:00,true,no_information,2024-05-02T12:00:05+00:00,"
        "N/A,false,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A",
        f"robot,arn:aws:iam::{ACCOUNT}:user/robot,2023-01-01T00:00:00+00:00,false,N/A,N/A,N/A,false,false,"
        "N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A",
        # A user deleted after the report was made: no user id to evaluate, left to the clean-up.
        f"gone,arn:aws:iam::{ACCOUNT}:user/gone,2023-01-01T00:00:00+00:00,true,N/A,N/A,N/A,false,false,"
        "N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A",
    ]
    sandbox.answer_next("iam:GenerateCredentialReport", {"State": "COMPLETE"})
    sandbox.answer_next("iam:GetCredentialReport", {"Content": ("\n".join([header, *rows]) + "\n").encode()})

    assert evaluations(sandbox) == {
        alice: ("NON_COMPLIANT", NON_COMPLIANT_TEXT.format(created="2024-05-02")),
        robot: ("NOT_APPLICABLE", "No console password: console MFA does not apply."),
    }


def test_report_that_takes_several_polls_and_throttling(sandbox: Sandbox, waits: list[float]) -> None:
    alice = old_user("alice", password=True)
    boto3.client("iam").generate_credential_report()  # a report is ready underneath the injected answers
    sandbox.answer_next("iam:GenerateCredentialReport", "Throttling", {"State": "STARTED"}, {"State": "INPROGRESS"})
    sandbox.answer_next("iam:GetCredentialReport", "ReportInProgress")

    assert evaluations(sandbox)[alice][0] == "NON_COMPLIANT"
    assert waits == [1.0, 2.0, 4.0, 8.0]


def test_report_that_never_comes_is_a_clear_error(sandbox: Sandbox, waits: list[float]) -> None:
    old_user("alice", password=True)
    sandbox.answer_next("iam:GenerateCredentialReport", *[{"State": "INPROGRESS"}] * 40)

    response = run(sandbox)

    assert response["internalErrorMessage"] == (
        f"{RULE} evaluated nothing: the IAM credential report was not ready after {int(sum(waits))} s"
    )
    assert sum(waits) >= 200
    assert RULE not in sandbox.config.evaluations


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"GracePeriodHours": "soon"}, "GracePeriodHours: 'soon' is not a whole number of hours"),
        ({"GracePeriodHours": "-1"}, "GracePeriodHours: '-1' is not a whole number of hours"),
        ({"GracePeriodHours": "99999"}, "GracePeriodHours: 99999 is more than 8760"),
        ({"GracePeriodHours": ""}, None),  # empty means the default
    ],
)
def test_invalid_parameters_give_a_customer_error_naming_the_parameter(
    sandbox: Sandbox, parameters: dict[str, str], message: str | None
) -> None:
    alice = old_user("alice", password=True)

    response = run(sandbox, **parameters)

    if message is None:
        assert sandbox.config.compliance(RULE)[alice][0] == "NON_COMPLIANT"
    else:
        assert response["customerErrorCode"] == "InvalidParameterValueException"
        assert response["customerErrorMessage"].startswith(message)
        assert RULE not in sandbox.config.evaluations


def test_malformed_event_gives_a_clear_error(sandbox: Sandbox) -> None:
    event = periodic_event(RULE, deployed_rule_parameters(RULE_ID))
    event["invokingEvent"] = '{"messageType": "ScheduledNotification"}'

    response = invoke_rule(sandbox, RULE_ID, event)

    assert response["customerErrorCode"] == "InvalidEvent"
    assert "no notificationCreationTime" in response["customerErrorMessage"]
    assert sandbox.config.put_evaluations_calls == 0


def _iam_calls(sandbox: Sandbox) -> dict[str, int]:
    return {action: n for action, n in sandbox.calls_by(lambda_principal(RULE)).items() if action.startswith("iam:")}


def test_iam_calls_do_not_grow_with_users(sandbox: Sandbox) -> None:
    """10 users or 200: the same IAM calls (report, one GetAccountAuthorizationDetails page),
    and users that are NON_COMPLIANT add none."""
    boto3.client("iam").generate_credential_report()
    for n in range(10):
        make_user(f"user-{n:03d}", password=n % 2 == 0, mfa=n % 2 == 0)
    run(sandbox)
    small = _iam_calls(sandbox)
    sandbox.reset_counts()
    for n in range(10, 200):
        make_user(f"user-{n:03d}", password=n % 2 == 0, mfa=n % 2 == 0)

    run(sandbox)

    assert _iam_calls(sandbox) == small == dict.fromkeys(IAM_CALLS, 1)
    assert len(sandbox.config.compliance(RULE)) == 200
    assert sandbox.config.put_evaluations_calls == 2  # 100 evaluations per call

    sandbox.reset_counts()
    for n in range(3):
        old_user(f"no-mfa-{n}", password=True)
    run(sandbox)
    assert _iam_calls(sandbox) == dict.fromkeys(IAM_CALLS, 1)
