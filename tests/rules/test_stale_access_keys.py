"""mamori-stale-access-keys through its real lambda_handler, with real-shaped periodic events,
on IAM users and keys made in moto (harness.iam_state stands in for time passing).
Evaluations are read back from the Config stand-in, i.e. what PutEvaluations delivered."""

import datetime
import time
from typing import Any

import boto3
import pytest

from harness.aws import ACCOUNT, RootAccessKey, RootCredentials, Sandbox
from harness.config_events import periodic_event
from harness.iam_state import key_created_ago, key_ids, key_used_ago, make_user
from harness.pack import deployed_rule_parameters, invoke_rule, lambda_principal
from tests.exempt import SOON

RULE = "mamori-stale-access-keys"
RULE_ID = "stale-access-keys"
DAY = datetime.timedelta(days=1)
MINUTE = datetime.timedelta(minutes=1)
IAM_CALLS = ("iam:GenerateCredentialReport", "iam:GetCredentialReport", "iam:GetAccountAuthorizationDetails")


@pytest.fixture(autouse=True)
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The rule waits between polls of the credential report: record the waits, don't sleep."""
    recorded: list[float] = []
    monkeypatch.setattr(time, "sleep", recorded.append)
    return recorded


def run(sandbox: Sandbox, **parameters: str) -> Any:
    return invoke_rule(sandbox, RULE_ID, periodic_event(RULE, deployed_rule_parameters(RULE_ID, **parameters)))


def evaluations(sandbox: Sandbox, **parameters: str) -> dict[str, tuple[str, str]]:
    run(sandbox, **parameters)
    return sandbox.config.compliance(RULE)


def user_with_key(name: str, created: datetime.timedelta, used: datetime.timedelta | None = None, **kwargs: Any) -> str:
    """A user whose one key was created `created` ago and last used `used` ago (None: never)."""
    user_id = make_user(name, keys=1, **kwargs)
    key_created_ago(name, 0, created)
    if used is not None:
        key_used_ago(name, 0, used)
    return user_id


def last_used_text(ago: datetime.timedelta) -> str:
    return (datetime.datetime.now(datetime.UTC) - ago).strftime("%Y-%m-%d")


def test_key_unused_for_90_days_or_more(sandbox: Sandbox) -> None:
    sandbox.root = RootCredentials(access_keys=[RootAccessKey()])  # the root row is another rule's business
    stale = user_with_key("stale", 400 * DAY, 120 * DAY)
    fresh = user_with_key("fresh", 400 * DAY, 1 * DAY)

    result = evaluations(sandbox)

    assert result == {
        stale: (
            "NON_COMPLIANT",
            f"Stale access key: key 1 unused for 120 days (last used {last_used_text(120 * DAY)}); "
            "remediation deactivates it (never deletes).",
        ),
        fresh: ("COMPLIANT", ""),
    }
    assert {resource_type for resource_type, _ in sandbox.config.evaluations[RULE]} == {"AWS::IAM::User"}


@pytest.mark.parametrize(
    ("unused", "expected"),
    [(90 * DAY, "NON_COMPLIANT"), (90 * DAY - MINUTE, "COMPLIANT"), (90 * DAY + MINUTE, "NON_COMPLIANT")],
    ids=["exactly-90-days", "a-minute-short", "a-minute-past"],
)
def test_ninety_days_or_more_is_the_edge(sandbox: Sandbox, unused: datetime.timedelta, expected: str) -> None:
    user = user_with_key("alice", 400 * DAY, unused)

    compliance, annotation = evaluations(sandbox)[user]

    assert compliance == expected
    if expected == "NON_COMPLIANT":
        assert "unused for 90 days" in annotation


def test_never_used_key_counts_from_its_creation(sandbox: Sandbox) -> None:
    old = user_with_key("old", 95 * DAY)
    new = user_with_key("new", 89 * DAY)

    result = evaluations(sandbox)

    assert result[old] == (
        "NON_COMPLIANT",
        "Stale access key: key 1 never used in the 95 days since its creation; remediation deactivates it (never deletes).",
    )
    assert result[new] == ("COMPLIANT", "")


def test_max_key_age_days_flags_old_keys_even_in_use(sandbox: Sandbox) -> None:
    user = user_with_key("alice", 400 * DAY, 1 * DAY)
    young = user_with_key("bob", 364 * DAY, 1 * DAY)

    assert evaluations(sandbox)[user] == ("COMPLIANT", "")
    result = evaluations(sandbox, MaxKeyAgeDays="365")
    assert result[user] == (
        "NON_COMPLIANT",
        "Stale access key: key 1 400 days old; remediation deactivates it (never deletes).",
    )
    assert result[young] == ("COMPLIANT", "")


def test_only_the_stale_key_of_two_is_named(sandbox: Sandbox) -> None:
    """By its slot in the credential report (no key ids there): the remediation looks them up."""
    user = make_user("alice", keys=2)
    key_created_ago("alice", 0, 300 * DAY)
    key_used_ago("alice", 0, 100 * DAY)
    key_created_ago("alice", 1, 10 * DAY)
    key_used_ago("alice", 1, 1 * DAY)

    compliance, annotation = evaluations(sandbox)[user]

    assert compliance == "NON_COMPLIANT"
    assert "key 1 unused for 100 days" in annotation
    assert "key 2" not in annotation


def test_custom_max_unused_days(sandbox: Sandbox) -> None:
    user = user_with_key("alice", 400 * DAY, 31 * DAY)

    assert evaluations(sandbox)[user][0] == "COMPLIANT"
    assert evaluations(sandbox, MaxUnusedDays="30")[user][0] == "NON_COMPLIANT"


def test_user_without_keys_is_not_applicable_and_deactivated_keys_are_compliant(sandbox: Sandbox) -> None:
    """A user who never had a key has nothing that can go stale. A user whose keys were all
    deactivated (by mamori or anyone) is COMPLIANT: once the stale keys are off, the dashboard
    turns green (it read NOT_APPLICABLE before, issue 11)."""
    nokeys = make_user("console-only", password=True)
    inactive = user_with_key("inactive", 400 * DAY)
    boto3.client("iam").update_access_key(UserName="inactive", AccessKeyId=key_ids("inactive")[0], Status="Inactive")
    one_of_two = make_user("rotated", keys=2)
    for key in key_ids("rotated"):
        boto3.client("iam").update_access_key(UserName="rotated", AccessKeyId=key, Status="Inactive")

    result = evaluations(sandbox)

    assert result[nokeys] == ("NOT_APPLICABLE", "No active access keys.")
    assert result[inactive] == ("COMPLIANT", "No active access keys.")
    assert result[one_of_two] == ("COMPLIANT", "No active access keys.")


HEADER = (
    "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,"
    "mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,"
    "access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,"
    "access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,"
    "cert_2_last_rotated"
)


def _report(sandbox: Sandbox, *rows: str) -> None:
    sandbox.answer_next("iam:GenerateCredentialReport", {"State": "COMPLETE"})
    sandbox.answer_next("iam:GetCredentialReport", {"Content": ("\n".join([HEADER, *rows]) + "\n").encode()})


def _when(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S+00:00")


def test_real_report_values(sandbox: Sandbox) -> None:
    """Rows as IAM writes them: a never-used key says N/A, root says not_supported."""
    user = make_user("alice", keys=1)
    created = datetime.datetime.now(datetime.UTC) - 200 * DAY
    key_created_ago("alice", 0, 200 * DAY)
    _report(
        sandbox,
        f"<root_account>,arn:aws:iam::{ACCOUNT}:root,2018-01-15T09:12:44+00:00,not_supported,no_information,"
        "not_supported,not_supported,false,true,2019-03-01T10:00:00+00:00,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A",
        f"alice,arn:aws:iam::{ACCOUNT}:user/alice,{_when(created)},false,N/A,N/A,N/A,false,true,{_when(created)},"
        "N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A",
    )

    assert evaluations(sandbox) == {
        user: (
            "NON_COMPLIANT",
            "Stale access key: key 1 never used in the 200 days since its creation; remediation deactivates it (never deletes).",
        )
    }


def test_key_deactivated_since_the_report_reads_stale_until_the_next_report(sandbox: Sandbox) -> None:
    """IAM serves the same report for four hours, and the rule reads no key live (that would
    cost a call per flagged user): the report decides, and the remediation, which re-checks
    the live keys, changes nothing (tests/remediations/test_stale_access_keys.py). The next
    report shows the key inactive: COMPLIANT."""
    user = user_with_key("alice", 200 * DAY)
    created = datetime.datetime.now(datetime.UTC) - 200 * DAY
    boto3.client("iam").update_access_key(UserName="alice", AccessKeyId=key_ids("alice")[0], Status="Inactive")
    _report(
        sandbox,
        f"alice,arn:aws:iam::{ACCOUNT}:user/alice,{_when(created)},false,N/A,N/A,N/A,false,true,{_when(created)},"
        "N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A",
    )

    assert evaluations(sandbox)[user][0] == "NON_COMPLIANT"
    assert evaluations(sandbox)[user] == ("COMPLIANT", "No active access keys.")


def test_exempt_user_is_not_applicable_with_its_reason(sandbox: Sandbox) -> None:
    user = user_with_key("legacy", 400 * DAY, tags={"mamori:exempt": f"vendor integration, ticket SEC-12 until={SOON}"})

    assert evaluations(sandbox)[user] == (
        "NOT_APPLICABLE",
        f"Exempt by mamori:exempt: vendor integration, ticket SEC-12 (until {SOON})",
    )


def test_expired_exemption_counts_for_nothing(sandbox: Sandbox) -> None:
    user = user_with_key("legacy", 400 * DAY, tags={"mamori:exempt": "vendor until=2020-01-01"})

    compliance, annotation = evaluations(sandbox)[user]

    assert compliance == "NON_COMPLIANT"
    assert annotation.endswith("(mamori:exempt expired on 2020-01-01)")


def test_evaluation_of_a_deleted_user_is_cleaned_up(sandbox: Sandbox) -> None:
    gone = user_with_key("gone", 400 * DAY)
    kept = user_with_key("kept", 400 * DAY, 1 * DAY)
    assert evaluations(sandbox)[gone][0] == "NON_COMPLIANT"
    iam = boto3.client("iam")
    iam.delete_access_key(UserName="gone", AccessKeyId=key_ids("gone")[0])
    iam.delete_user(UserName="gone")

    result = evaluations(sandbox)

    assert result[gone] == ("NOT_APPLICABLE", "")
    assert result[kept] == ("COMPLIANT", "")


def test_report_that_takes_several_polls_and_throttling(sandbox: Sandbox, waits: list[float]) -> None:
    user = user_with_key("alice", 400 * DAY)
    boto3.client("iam").generate_credential_report()
    sandbox.answer_next("iam:GenerateCredentialReport", {"State": "STARTED"}, "Throttling", "ServiceFailure")
    sandbox.answer_next("iam:GetCredentialReport", "ReportExpired")

    assert evaluations(sandbox)[user][0] == "NON_COMPLIANT"
    assert waits == [1.0, 2.0, 4.0, 8.0]


def test_report_that_never_comes_is_a_clear_error(sandbox: Sandbox, waits: list[float]) -> None:
    user_with_key("alice", 400 * DAY)
    sandbox.answer_next("iam:GenerateCredentialReport", *["Throttling"] * 40)

    response = run(sandbox)

    assert response["internalErrorMessage"] == (
        f"{RULE} evaluated nothing: the IAM credential report was not ready after {int(sum(waits))} s"
    )
    assert RULE not in sandbox.config.evaluations


def test_access_denied_is_a_clear_error(sandbox: Sandbox) -> None:
    user_with_key("alice", 400 * DAY)
    sandbox.answer_next("iam:GetCredentialReport", "AccessDenied")
    boto3.client("iam").generate_credential_report()

    response = run(sandbox)

    assert response["customerErrorCode"] == "AccessDenied"
    assert RULE not in sandbox.config.evaluations


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"MaxUnusedDays": "ninety"}, "MaxUnusedDays: 'ninety' is not a number of days from 1 to 3650"),
        ({"MaxUnusedDays": "0"}, "MaxUnusedDays: '0' is not a number of days"),
        ({"MaxKeyAgeDays": "a year"}, "MaxKeyAgeDays: 'a year' is not a number of days"),
        ({"MaxKeyAgeDays": "99999"}, "MaxKeyAgeDays: '99999' is not a number of days"),
        ({"MaxUnusedDays": "", "MaxKeyAgeDays": ""}, None),  # empty means the default, and no age limit
    ],
)
def test_invalid_parameters_give_a_customer_error_naming_the_parameter(
    sandbox: Sandbox, parameters: dict[str, str], message: str | None
) -> None:
    user = user_with_key("alice", 400 * DAY)

    response = run(sandbox, **parameters)

    if message is None:
        assert sandbox.config.compliance(RULE)[user][0] == "NON_COMPLIANT"
    else:
        assert response["customerErrorCode"] == "InvalidParameterValueException"
        assert response["customerErrorMessage"].startswith(message)
        assert RULE not in sandbox.config.evaluations


def _iam_calls(sandbox: Sandbox) -> dict[str, int]:
    return {action: n for action, n in sandbox.calls_by(lambda_principal(RULE)).items() if action.startswith("iam:")}


def test_iam_calls_do_not_grow_with_users(sandbox: Sandbox) -> None:
    """10 users or 200: the same IAM calls (report, one GetAccountAuthorizationDetails page),
    and users with a stale key add none."""
    boto3.client("iam").generate_credential_report()
    for n in range(10):
        make_user(f"user-{n:03d}", keys=n % 2)
    run(sandbox)
    small = _iam_calls(sandbox)
    sandbox.reset_counts()
    for n in range(10, 200):
        make_user(f"user-{n:03d}", keys=n % 2)

    run(sandbox)

    assert _iam_calls(sandbox) == small == dict.fromkeys(IAM_CALLS, 1)
    assert len(sandbox.config.compliance(RULE)) == 200
    assert sandbox.config.put_evaluations_calls == 2

    sandbox.reset_counts()
    for n in range(3):
        user_with_key(f"stale-{n}", 100 * DAY)
    run(sandbox)
    assert _iam_calls(sandbox) == dict.fromkeys(IAM_CALLS, 1)
