"""Fetching and parsing the IAM credential report (mamori.credential_report), on real rows."""

import datetime

import boto3
import pytest

from harness.aws import RootAccessKey, RootCredentials, Sandbox
from mamori.credential_report import (
    ROOT_USER,
    CredentialReportUnavailable,
    days_between,
    fetch_credential_report,
    parse_credential_report,
)

HEADER = (
    "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,"
    "mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,"
    "access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,"
    "access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,"
    "cert_2_last_rotated"
)
# Rows as IAM writes them: the root row's password columns say not_supported; a never-used
# key says N/A; a password never used says no_information.
REAL_ROWS = [
    "<root_account>,arn:aws:iam::123456789012:root,2018-01-15T09:12:44+00:00,not_supported,2026-11-02T08:01:13+00:00,"
    "not_supported,not_supported,false,true,2019-03-01T10:00:00+00:00,2026-11-19T22:41:00+00:00,ap-southeast-1,ec2,"
    "false,N/A,N/A,N/A,N/A,false,N/A,false,N/A",
    "alice,arn:aws:iam::123456789012:user/alice,2024-05-02T12:00:00+00:00,true,no_information,2024-05-02T12:00:05+00:00,"
    "N/A,false,true,2024-05-02T12:00:10+00:00,N/A,N/A,N/A,true,2025-01-01T00:00:00+00:00,2025-06-01T00:00:00+00:00,"
    "us-east-1,s3,false,N/A,false,N/A",
    "deploy-bot,arn:aws:iam::123456789012:user/ci/deploy-bot,2023-01-01T00:00:00+00:00,false,N/A,N/A,N/A,false,false,"
    "2023-01-01T00:00:00+00:00,2023-02-01T00:00:00+00:00,eu-west-1,sts,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A",
]


def test_parses_real_rows() -> None:
    root, alice, bot = parse_credential_report("\n".join([HEADER, *REAL_ROWS]) + "\n")

    assert root.is_root and root.user == ROOT_USER
    assert root.password_enabled is None  # not_supported
    assert root.mfa_active is False
    assert [k.slot for k in root.active_keys] == [1]
    assert root.access_keys[0].last_used == datetime.datetime(2026, 11, 19, 22, 41, tzinfo=datetime.UTC)
    assert (root.access_keys[0].last_used_region, root.access_keys[0].last_used_service) == ("ap-southeast-1", "ec2")
    assert root.access_keys[1] == root.access_keys[1].__class__(2, False, None, None, None, None)

    assert alice.password_enabled is True and alice.password_last_used is None  # no_information
    assert alice.access_keys[0].last_used is None  # N/A: never used
    assert alice.access_keys[0].last_rotated == datetime.datetime(2024, 5, 2, 12, 0, 10, tzinfo=datetime.UTC)
    assert len(alice.active_keys) == 2

    assert bot.password_enabled is False and bot.active_keys == ()
    assert bot.arn.endswith("user/ci/deploy-bot")


def test_days_between_counts_whole_days_only() -> None:
    start = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    assert days_between(start, start + datetime.timedelta(days=90)) == 90
    assert days_between(start, start + datetime.timedelta(days=90, seconds=-1)) == 89


def test_polls_with_backoff_through_throttling_and_a_report_in_progress(sandbox: Sandbox) -> None:
    iam = boto3.client("iam")
    iam.create_user(UserName="alice")
    iam.generate_credential_report()  # moto's first answer is STARTED; have a report ready underneath
    sandbox.answer_next("iam:GenerateCredentialReport", "Throttling", {"State": "STARTED"}, {"State": "INPROGRESS"})
    sandbox.answer_next("iam:GetCredentialReport", "ReportInProgress")
    waits: list[float] = []

    text, calls = fetch_credential_report(iam, sleep=waits.append)

    assert [row.user for row in parse_credential_report(text)] == ["alice"]
    assert waits == [1.0, 2.0, 4.0, 8.0]
    assert calls == 7  # 5 generate (1 throttled, 2 not ready, 2 complete) + 2 get (1 not ready)


def test_gives_up_with_a_clear_error(sandbox: Sandbox) -> None:
    iam = boto3.client("iam")
    sandbox.answer_next("iam:GenerateCredentialReport", *([{"State": "INPROGRESS"}] * 20))
    waits: list[float] = []

    with pytest.raises(CredentialReportUnavailable, match="not ready after 31 s"):
        fetch_credential_report(iam, max_wait_seconds=30, sleep=waits.append)
    assert waits == [1.0, 2.0, 4.0, 8.0, 16.0]


def test_other_errors_are_not_retried(sandbox: Sandbox) -> None:
    sandbox.answer_next("iam:GenerateCredentialReport", "AccessDenied")

    with pytest.raises(Exception, match="AccessDenied"):
        fetch_credential_report(boto3.client("iam"), sleep=lambda _: None)


def test_the_sandbox_root_row_reads_like_iams(sandbox: Sandbox) -> None:
    """The stand-in root row must parse the way a real one does (see REAL_ROWS)."""
    used = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    sandbox.root = RootCredentials(
        access_keys=[RootAccessKey(last_used=used, last_used_region="us-east-1", last_used_service="ec2")]
    )

    text, _ = fetch_credential_report(boto3.client("iam"), sleep=lambda _: None)
    [root] = parse_credential_report(text)

    assert root.is_root and root.password_enabled is None and not root.mfa_active
    assert root.active_keys[0].last_used == used
