"""mamori-root-access-key through its real lambda_handler, with real-shaped periodic events.
The root user's state is set through the sandbox (no API can set it up), which writes it
into GetAccountSummary and the credential report's <root_account> row; evaluations are read
back from the Config stand-in, i.e. what PutEvaluations delivered."""

import datetime
import json
import time
from typing import Any

import pytest

from harness.aws import ACCOUNT, RootAccessKey, RootCredentials, Sandbox
from harness.config_events import periodic_event
from harness.pack import deployed_rule_parameters, invoke_rule, lambda_principal

RULE = "mamori-root-access-key"
TAIL = "; remediation notifies and opens an OpsItem: only root or the management account can delete it."
HEADER = (
    "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,"
    "mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,"
    "access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,"
    "access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,"
    "cert_2_last_rotated"
)
# As IAM writes them: the root row's password columns say not_supported, its password use
# no_information; a key slot never used says N/A.
ROOT_ROW = (
    f"<root_account>,arn:aws:iam::{ACCOUNT}:root,2018-01-15T09:12:44+00:00,not_supported,no_information,"
    "not_supported,not_supported,false,true,2019-03-01T10:00:00+00:00,2026-01-01T22:41:00+00:00,ap-southeast-1,ec2,"
    "false,N/A,N/A,N/A,N/A,false,N/A,false,N/A"
)
USER_ROW = (
    f"alice,arn:aws:iam::{ACCOUNT}:user/alice,2024-05-02T12:00:00+00:00,true,no_information,2024-05-02T12:00:05+00:00,"
    "N/A,false,true,2024-05-02T12:00:10+00:00,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A"
)
CREATED = datetime.datetime(2019, 3, 1, tzinfo=datetime.UTC)


def days_ago(moment: datetime.datetime) -> str:
    return f"{(datetime.datetime.now(datetime.UTC) - moment).days:,} days ago"


def evaluate(sandbox: Sandbox, **parameters: str) -> tuple[str, str]:
    invoke_rule(sandbox, "root-access-key", periodic_event(RULE, deployed_rule_parameters("root-access-key", **parameters)))
    return sandbox.config.compliance(RULE)[ACCOUNT]


def real_report(sandbox: Sandbox, *rows: str, keys_present: int = 1) -> None:
    """IAM answers exactly these report rows (and a summary to match) instead of the
    sandbox's root state: sandbox.root stays None, so nothing is added to them."""
    sandbox.root = None
    summary = {"AccountMFAEnabled": 0, "AccountAccessKeysPresent": keys_present, "AccountPasswordPresent": 1}
    sandbox.answer_next("iam:GetAccountSummary", {"SummaryMap": summary})
    sandbox.answer_next("iam:GetCredentialReport", {"Content": ("\n".join([HEADER, *rows]) + "\n").encode()})


@pytest.fixture
def sleeps(monkeypatch: Any) -> list[float]:
    waited: list[float] = []
    monkeypatch.setattr(time, "sleep", waited.append)
    return waited


def test_active_key_says_how_old_it_is_and_when_and_where_it_was_last_used(sandbox: Sandbox) -> None:
    used = datetime.datetime(2026, 1, 1, 8, 30, tzinfo=datetime.UTC)
    sandbox.root = RootCredentials(
        access_keys=[RootAccessKey(created=CREATED, last_used=used, last_used_region="us-east-1", last_used_service="ec2")]
    )

    assert evaluate(sandbox) == (
        "NON_COMPLIANT",
        f"Root has an active access key, created 2019-03-01 ({days_ago(CREATED)}), last used 2026-01-01 in us-east-1 (ec2)"
        + TAIL,
    )


def test_inactive_key_is_a_finding_too(sandbox: Sandbox) -> None:
    sandbox.root = RootCredentials(mfa_active=True, access_keys=[RootAccessKey(active=False, created=CREATED)])

    assert evaluate(sandbox) == (
        "NON_COMPLIANT",
        f"Root has an inactive access key, created 2019-03-01 ({days_ago(CREATED)}), never used" + TAIL,
    )


def test_two_keys_are_both_described_within_256_characters(sandbox: Sandbox) -> None:
    sandbox.root = RootCredentials(
        access_keys=[
            RootAccessKey(
                created=CREATED,
                last_used=datetime.datetime(2026, 11, 19, tzinfo=datetime.UTC),
                last_used_region="ap-southeast-1",
                last_used_service="ec2",
            ),
            RootAccessKey(active=False, created=datetime.datetime(2020, 6, 30, tzinfo=datetime.UTC)),
        ]
    )

    compliance, annotation = evaluate(sandbox)

    assert compliance == "NON_COMPLIANT"
    assert len(annotation) <= 256
    assert annotation.startswith("Root has 2 access keys: active, created 2019-03-01")
    assert "last used 2026-11-19 in ap-southeast-1 (ec2); inactive, created 2020-06-30" in annotation
    assert annotation.endswith("only root or the management account can delete them.")


def test_no_key_is_compliant_after_one_iam_call(sandbox: Sandbox) -> None:
    """The budget: a root without keys costs GetAccountSummary and PutEvaluations, no report."""
    sandbox.root = RootCredentials(password=True, mfa_active=False, access_keys=[])

    assert evaluate(sandbox) == ("COMPLIANT", "Root has no access key.")
    assert dict(sandbox.calls_by(lambda_principal(RULE))) == {"iam:GetAccountSummary": 1, "config:PutEvaluations": 1}


def test_a_key_costs_one_report(sandbox: Sandbox, sleeps: list[float]) -> None:
    sandbox.root = RootCredentials(access_keys=[RootAccessKey()])

    evaluate(sandbox)

    calls = sandbox.calls_by(lambda_principal(RULE))
    assert calls["iam:GetAccountSummary"] == 1 and calls["iam:GetCredentialReport"] == 1
    assert calls["iam:GenerateCredentialReport"] == 2  # moto: STARTED, then COMPLETE
    assert sleeps == [1.0]


def test_real_report_rows_are_read(sandbox: Sandbox, sleeps: list[float]) -> None:
    """N/A, no_information and not_supported as IAM writes them; other users' rows are ignored."""
    real_report(sandbox, USER_ROW, ROOT_ROW)

    assert evaluate(sandbox) == (
        "NON_COMPLIANT",
        f"Root has an active access key, created 2019-03-01 ({days_ago(CREATED.replace(hour=10))}), "
        "last used 2026-01-01 in ap-southeast-1 (ec2)" + TAIL,
    )


def test_key_the_report_does_not_show_yet_is_still_a_finding(sandbox: Sandbox, sleeps: list[float]) -> None:
    """The live summary decides; a report up to 4 hours old (or an inactive key without
    dates) only lacks the details, and the annotation says so."""
    no_key_row = ROOT_ROW.replace(
        "true,2019-03-01T10:00:00+00:00,2026-01-01T22:41:00+00:00,ap-southeast-1,ec2", "false,N/A,N/A,N/A,N/A"
    )
    real_report(sandbox, no_key_row)

    compliance, annotation = evaluate(sandbox)

    assert compliance == "NON_COMPLIANT"
    assert annotation.startswith("Root has an access key (the credential report shows no dates: inactive, or created")


def test_report_that_takes_several_polls(sandbox: Sandbox, sleeps: list[float]) -> None:
    sandbox.root = RootCredentials(access_keys=[RootAccessKey(created=CREATED)])
    sandbox.answer_next("iam:GenerateCredentialReport", {"State": "STARTED"}, {"State": "INPROGRESS"})

    assert evaluate(sandbox)[0] == "NON_COMPLIANT"
    assert sleeps == [1.0, 2.0, 4.0]  # two injected, then moto's own STARTED
    assert sandbox.calls_by(lambda_principal(RULE))["iam:GenerateCredentialReport"] == 4


def test_throttling_is_retried_not_failed(sandbox: Sandbox, sleeps: list[float]) -> None:
    sandbox.root = RootCredentials(access_keys=[RootAccessKey(created=CREATED)])
    sandbox.answer_next("iam:GenerateCredentialReport", "Throttling", "ThrottlingException")

    compliance, annotation = evaluate(sandbox)

    assert compliance == "NON_COMPLIANT"
    assert "created 2019-03-01" in annotation
    assert len(sleeps) == 3


def test_report_never_ready_gives_a_clear_error_and_no_evaluation(sandbox: Sandbox, sleeps: list[float]) -> None:
    sandbox.root = RootCredentials(access_keys=[RootAccessKey()])
    sandbox.answer_next("iam:GenerateCredentialReport", *[{"State": "STARTED"}] * 30)

    response = invoke_rule(sandbox, "root-access-key", periodic_event(RULE, deployed_rule_parameters("root-access-key")))

    assert "the IAM credential report was not ready after" in response["internalErrorMessage"]
    assert sum(sleeps) >= 120
    assert RULE not in sandbox.config.evaluations


def test_report_without_a_root_row_gives_a_clear_error(sandbox: Sandbox, sleeps: list[float]) -> None:
    real_report(sandbox, USER_ROW)

    response = invoke_rule(sandbox, "root-access-key", periodic_event(RULE, deployed_rule_parameters("root-access-key")))

    assert response["internalErrorMessage"] == "the IAM credential report has no <root_account> row"
    assert RULE not in sandbox.config.evaluations


def test_denied_summary_gives_a_customer_error(sandbox: Sandbox) -> None:
    sandbox.root = RootCredentials(access_keys=[RootAccessKey()])
    sandbox.answer_next("iam:GetAccountSummary", "AccessDenied")

    response = invoke_rule(sandbox, "root-access-key", periodic_event(RULE, deployed_rule_parameters("root-access-key")))

    assert response["customerErrorCode"] == "AccessDenied"
    assert RULE not in sandbox.config.evaluations


@pytest.mark.parametrize(
    ("mangle", "problem"),
    [
        (lambda e: e.update(invokingEvent=json.dumps({"messageType": "ScheduledNotification"})), "no notificationCreationTime"),
        (lambda e: e.update(invokingEvent="[]"), "invokingEvent is not a JSON object"),
        (lambda e: e.pop("resultToken"), "the event has no resultToken"),
    ],
)
def test_malformed_events_give_a_clear_error(sandbox: Sandbox, mangle: Any, problem: str) -> None:
    sandbox.root = RootCredentials(access_keys=[RootAccessKey()])
    event = periodic_event(RULE, deployed_rule_parameters("root-access-key"))
    mangle(event)

    response = invoke_rule(sandbox, "root-access-key", event)

    assert response["customerErrorCode"] == "InvalidEvent"
    assert problem in response["customerErrorMessage"]
    assert sandbox.config.put_evaluations_calls == 0


def test_deleting_the_key_makes_it_compliant(sandbox: Sandbox, sleeps: list[float]) -> None:
    sandbox.root = RootCredentials(access_keys=[RootAccessKey()])
    assert evaluate(sandbox)[0] == "NON_COMPLIANT"

    sandbox.root.access_keys.clear()  # the person signed in as root and deleted it

    assert evaluate(sandbox) == ("COMPLIANT", "Root has no access key.")
