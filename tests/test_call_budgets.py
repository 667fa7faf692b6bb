"""The performance budgets of issue 12, as API call counts (not times, which a shared test
machine cannot promise; `make bench` measures those): what a rule may call, at a size the
suite can afford."""

import math
import time
from collections.abc import Iterator

import pytest

from harness.aws import Sandbox
from harness.config_events import periodic_event
from harness.iam_state import make_users_in_backend
from harness.pack import deployed_rule_parameters, invoke_rule, lambda_principal, rule_spec

DAY = 86400.0
IAM_RULES = ("iam-user-console-mfa", "stale-access-keys")


@pytest.fixture
def no_report_waits(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The rules wait between polls of the credential report: don't."""
    monkeypatch.setattr(time, "sleep", lambda seconds: None)
    yield


def iam_calls(sandbox: Sandbox, rule_id: str) -> dict[str, int]:
    calls = sandbox.calls_by(lambda_principal(rule_spec(rule_id).config_rule_name))
    return {action: n for action, n in calls.items() if action.startswith("iam:")}


@pytest.mark.parametrize("rule_id", IAM_RULES)
def test_iam_rule_calls_at_2000_users_half_flagged(sandbox: Sandbox, no_report_waits: None, rule_id: str) -> None:
    """At most 3 + ceil(N / 1,000) IAM calls (the credential report in 2 or 3, one
    GetAccountAuthorizationDetails page per 1,000 users), however many users are flagged:
    here half of 2,000 users fail each rule (no MFA; a key unused for 200 days)."""
    import datetime

    days = datetime.timedelta(days=1)
    settled = {"password": True, "keys": 1, "created": 500 * days, "key_created": 400 * days}
    flagged = make_users_in_backend("flagged", 1000, mfa=False, key_used=200 * days, **settled)  # type: ignore[arg-type]
    fine = make_users_in_backend("fine", 1000, mfa=True, key_used=1 * days, **settled)  # type: ignore[arg-type]
    name = rule_spec(rule_id).config_rule_name

    invoke_rule(sandbox, rule_id, periodic_event(name, deployed_rule_parameters(rule_id)))

    stored = sandbox.config.compliance(name)
    assert {stored[user][0] for user in flagged} == {"NON_COMPLIANT"}
    assert {stored[user][0] for user in fine} == {"COMPLIANT"}
    calls = iam_calls(sandbox, rule_id)
    assert sum(calls.values()) <= 3 + math.ceil(2000 / 1000), calls
    assert calls["iam:GetAccountAuthorizationDetails"] == 2
    assert sandbox.config.put_evaluations_calls == 20
