"""mamori-root-mfa through its real lambda_handler, with real-shaped periodic events. The
root user's state is set through the sandbox (GetAccountSummary: AccountPasswordPresent,
AccountAccessKeysPresent, AccountMFAEnabled); a virtual MFA device assigned to root through
tests/root_helpers.py (no API can assign one). Evaluations are read back from the Config
stand-in, i.e. what PutEvaluations delivered."""

from typing import Any

import pytest

from harness.aws import ACCOUNT, RootAccessKey, RootCredentials, Sandbox
from harness.config_events import periodic_event
from harness.pack import deployed_rule_parameters, invoke_rule, lambda_principal
from tests.root_helpers import assign_root_virtual_mfa, assign_user_virtual_mfa

RULE = "mamori-root-mfa"
TAIL = (
    " but no MFA; remediation notifies and opens an OpsItem: only root (or the management account, centrally) can "
    "assign MFA or remove the credentials."
)


def evaluate(sandbox: Sandbox, **parameters: str) -> tuple[str, str]:
    invoke_rule(sandbox, "root-mfa", periodic_event(RULE, deployed_rule_parameters("root-mfa", **parameters)))
    return sandbox.config.compliance(RULE)[ACCOUNT]


@pytest.mark.parametrize(
    ("root", "held"),
    [
        (RootCredentials(password=True, mfa_active=False), "a password"),
        (RootCredentials(password=False, mfa_active=False, access_keys=[RootAccessKey(active=False)]), "an access key"),
        (RootCredentials(password=True, mfa_active=False, access_keys=[RootAccessKey()]), "a password and an access key"),
    ],
    ids=["password", "key-only", "both"],
)
def test_credentials_without_mfa_are_non_compliant(sandbox: Sandbox, root: RootCredentials, held: str) -> None:
    sandbox.root = root

    assert evaluate(sandbox) == ("NON_COMPLIANT", f"Root has {held}{TAIL}")


@pytest.mark.parametrize("mfa", [False, True])
def test_root_without_credentials_is_not_applicable(sandbox: Sandbox, mfa: bool) -> None:
    """Centralized root access removed password and keys: nothing to sign in with, so no
    finding (Prowler #5804 reported these as failures)."""
    sandbox.root = RootCredentials(password=False, mfa_active=mfa, access_keys=[])

    assert evaluate(sandbox, RequireHardwareMfa="true") == (
        "NOT_APPLICABLE",
        "Root has no password and no access key (removed, e.g. by centralized root access): no MFA needed.",
    )


def test_mfa_is_compliant_after_one_iam_call(sandbox: Sandbox) -> None:
    """The budget: GetAccountSummary and PutEvaluations; MFA devices are listed only when
    hardware MFA is required."""
    sandbox.root = RootCredentials(password=True, mfa_active=True)
    assign_root_virtual_mfa()

    assert evaluate(sandbox) == ("COMPLIANT", "Root has MFA.")
    assert dict(sandbox.calls_by(lambda_principal(RULE))) == {"iam:GetAccountSummary": 1, "config:PutEvaluations": 1}


@pytest.mark.parametrize(
    ("name", "report_user"),
    [("root-account-mfa-device", True), ("root-account-mfa-device", False), ("my-phone", True)],
    ids=["serial-and-user", "serial-only", "user-arn-only"],
)
def test_virtual_root_device_fails_when_hardware_is_required(sandbox: Sandbox, name: str, report_user: bool) -> None:
    sandbox.root = RootCredentials(password=True, mfa_active=True)
    assign_root_virtual_mfa(name, report_user=report_user)

    assert evaluate(sandbox, RequireHardwareMfa="true") == (
        "NON_COMPLIANT",
        f"Root's MFA includes a virtual device ({name}) and RequireHardwareMfa is true; remediation notifies and opens "
        "an OpsItem: only root can replace it with a hardware key.",
    )
    assert evaluate(sandbox, RequireHardwareMfa="false") == ("COMPLIANT", "Root has MFA.")


def test_other_users_virtual_devices_do_not_count(sandbox: Sandbox) -> None:
    sandbox.root = RootCredentials(password=True, mfa_active=True)
    assign_user_virtual_mfa("alice")

    assert evaluate(sandbox, RequireHardwareMfa="true") == ("COMPLIANT", "Root has hardware MFA.")
    assert sandbox.calls_by(lambda_principal(RULE))["iam:ListVirtualMFADevices"] == 1


def test_required_hardware_without_any_mfa_says_no_mfa(sandbox: Sandbox) -> None:
    sandbox.root = RootCredentials(password=True, mfa_active=False)

    assert evaluate(sandbox, RequireHardwareMfa="true") == ("NON_COMPLIANT", f"Root has a password{TAIL}")
    assert "iam:ListVirtualMFADevices" not in sandbox.calls_by(lambda_principal(RULE))


def test_assigning_mfa_makes_it_compliant(sandbox: Sandbox) -> None:
    sandbox.root = RootCredentials(password=True, mfa_active=False)
    assert evaluate(sandbox)[0] == "NON_COMPLIANT"

    sandbox.root.mfa_active = True  # the person signed in as root and assigned a security key

    assert evaluate(sandbox, RequireHardwareMfa="true") == ("COMPLIANT", "Root has hardware MFA.")


def test_summary_without_the_password_key_gives_a_clear_error(sandbox: Sandbox) -> None:
    """Without AccountPasswordPresent the rule cannot tell a removed password from a
    present one: it says so rather than guess (the credential report says not_supported)."""
    sandbox.answer_next("iam:GetAccountSummary", {"SummaryMap": {"AccountMFAEnabled": 0, "AccountAccessKeysPresent": 0}})

    response = invoke_rule(sandbox, "root-mfa", periodic_event(RULE, deployed_rule_parameters("root-mfa")))

    assert response["internalErrorMessage"] == "iam:GetAccountSummary did not return AccountPasswordPresent"
    assert RULE not in sandbox.config.evaluations


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"RequireHardwareMfa": "yes"}, "RequireHardwareMfa must be true or false, got 'yes'"),
        ({"RequireHardwareMfa": ""}, None),  # empty means the default, false
        ({"RequireHardwareMfa": "TRUE"}, None),
    ],
)
def test_invalid_parameters_give_a_customer_error_naming_the_parameter(
    sandbox: Sandbox, parameters: dict[str, str], message: str | None
) -> None:
    sandbox.root = RootCredentials(password=True, mfa_active=False)

    response = invoke_rule(sandbox, "root-mfa", periodic_event(RULE, deployed_rule_parameters("root-mfa", **parameters)))

    if message is None:
        assert sandbox.config.compliance(RULE)[ACCOUNT][0] == "NON_COMPLIANT"
    else:
        assert response["customerErrorCode"] == "InvalidParameterValueException"
        assert response["customerErrorMessage"].startswith(message)
        assert RULE not in sandbox.config.evaluations


@pytest.mark.parametrize(
    ("mangle", "problem"),
    [
        (lambda e: e.update(invokingEvent='{"messageType": "ScheduledNotification"}'), "no notificationCreationTime"),
        (lambda e: e.update(ruleParameters='{"RequireHardwareMfa": true}'), "ruleParameters must be a JSON object of strings"),
        (lambda e: e.pop("invokingEvent"), "invokingEvent is missing or is not JSON"),
    ],
)
def test_malformed_events_give_a_clear_error(sandbox: Sandbox, mangle: Any, problem: str) -> None:
    sandbox.root = RootCredentials(password=True, mfa_active=False)
    event = periodic_event(RULE, deployed_rule_parameters("root-mfa"))
    mangle(event)

    response = invoke_rule(sandbox, "root-mfa", event)

    assert response["customerErrorCode"] == "InvalidEvent"
    assert problem in response["customerErrorMessage"]
    assert sandbox.config.put_evaluations_calls == 0
