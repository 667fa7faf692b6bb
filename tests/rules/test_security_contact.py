"""mamori-security-contact through its real lambda_handler, with real-shaped periodic events.
The account's alternate contacts live in moto's Account Management backend (set up with the
real PutAlternateContact); API faults are injected by the sandbox. Evaluations are read back
from the Config stand-in, i.e. what PutEvaluations delivered."""

from typing import Any

import boto3
import pytest

from harness.aws import ACCOUNT, Sandbox
from harness.config_events import periodic_event
from harness.pack import deployed_rule_parameters, invoke_rule, lambda_principal

RULE = "mamori-security-contact"
RULE_ID = "security-contact"
NO_CONTACT = (
    "No SECURITY alternate contact: AWS sends abuse reports to the root user's email instead; the remediation sets one "
    "when the pack's ExpectedSecurityEmail, SecurityContactName and SecurityContactPhone are set."
)


def set_contact(kind: str = "SECURITY", email: str = "secops@example.com", name: str = "SecOps") -> None:
    boto3.client("account").put_alternate_contact(
        AlternateContactType=kind, Name=name, Title="Security", EmailAddress=email, PhoneNumber="+1 555 0100"
    )


def invoke(sandbox: Sandbox, **parameters: str) -> Any:
    return invoke_rule(sandbox, RULE_ID, periodic_event(RULE, deployed_rule_parameters(RULE_ID, **parameters)))


def evaluate(sandbox: Sandbox, **parameters: str) -> tuple[str, str]:
    invoke(sandbox, **parameters)
    return sandbox.config.compliance(RULE)[ACCOUNT]


def test_no_security_contact_is_non_compliant_after_one_call(sandbox: Sandbox) -> None:
    """The budget: one GetAlternateContact and one PutEvaluations (no clean-up of old
    evaluations: the account is the only resource)."""
    assert evaluate(sandbox) == ("NON_COMPLIANT", NO_CONTACT)
    assert dict(sandbox.calls_by(lambda_principal(RULE))) == {"account:GetAlternateContact": 1, "config:PutEvaluations": 1}


def test_billing_and_operations_contacts_do_not_count(sandbox: Sandbox) -> None:
    set_contact("BILLING", "billing@example.com")
    set_contact("OPERATIONS", "ops@example.com")

    assert evaluate(sandbox) == ("NON_COMPLIANT", NO_CONTACT)


def test_any_security_contact_is_compliant_without_an_expected_email(sandbox: Sandbox) -> None:
    set_contact(email="secops@example.com", name="SecOps team")

    assert evaluate(sandbox) == ("COMPLIANT", "SECURITY alternate contact: SecOps team <secops@example.com>.")


def test_the_expected_email_matches_whatever_its_case(sandbox: Sandbox) -> None:
    set_contact(email="SecOps@Example.com")

    assert evaluate(sandbox, ExpectedSecurityEmail="secops@example.COM") == (
        "COMPLIANT",
        "SECURITY alternate contact: SecOps <SecOps@Example.com>.",
    )


def test_another_email_than_the_expected_one_is_non_compliant(sandbox: Sandbox) -> None:
    """The open-proxy account's contact went to an inbox nobody read: a contact is only as good
    as the inbox behind it."""
    set_contact(email="former-admin@example.com")

    assert evaluate(sandbox, ExpectedSecurityEmail="secops@example.com") == (
        "NON_COMPLIANT",
        "The SECURITY alternate contact is former-admin@example.com, not the expected secops@example.com "
        "(ExpectedSecurityEmail): abuse reports go to the wrong inbox; the remediation replaces it.",
    )


def test_setting_the_contact_makes_it_compliant(sandbox: Sandbox) -> None:
    assert evaluate(sandbox, ExpectedSecurityEmail="secops@example.com")[0] == "NON_COMPLIANT"

    set_contact(email="secops@example.com")

    assert evaluate(sandbox, ExpectedSecurityEmail="secops@example.com")[0] == "COMPLIANT"


def test_long_addresses_keep_the_annotation_within_256_characters(sandbox: Sandbox) -> None:
    long_email = "a" * 120 + "@" + "b" * 120 + ".com"
    set_contact(email=long_email)

    compliance, annotation = evaluate(sandbox, ExpectedSecurityEmail="secops@" + "c" * 120 + ".com")

    assert compliance == "NON_COMPLIANT"
    assert len(annotation) == 256
    assert annotation.startswith("The SECURITY alternate contact is aaaa") and annotation.endswith("…")


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"ExpectedSecurityEmail": "security team"}, "ExpectedSecurityEmail: 'security team' is not an email address"),
        ({"ExpectedSecurityEmail": "a@b"}, "ExpectedSecurityEmail: 'a@b' is not an email address"),
        ({"ExpectedSecurityEmail": ""}, None),  # empty: any SECURITY contact will do
        ({"ExpectedSecurityEmail": " secops@example.com "}, None),
    ],
)
def test_invalid_parameters_give_a_customer_error_naming_the_parameter(
    sandbox: Sandbox, parameters: dict[str, str], message: str | None
) -> None:
    set_contact(email="secops@example.com")

    response = invoke(sandbox, **parameters)

    if message is None:
        assert sandbox.config.compliance(RULE)[ACCOUNT][0] == "COMPLIANT"
    else:
        assert response["customerErrorCode"] == "InvalidParameterValueException"
        assert response["customerErrorMessage"].startswith(message)
        assert RULE not in sandbox.config.evaluations
        assert "account:GetAlternateContact" not in sandbox.calls_by(lambda_principal(RULE))


@pytest.mark.parametrize("code", ["AccessDeniedException", "TooManyRequestsException", "InternalServerException"])
def test_api_errors_give_an_error_response_and_no_evaluation(sandbox: Sandbox, code: str) -> None:
    """An SCP or a missing grant (AccessDenied), throttling, an AWS fault: Config shows the
    error; a guess would hide the account's state."""
    sandbox.answer_next("account:GetAlternateContact", code)

    response = invoke(sandbox)

    assert response["customerErrorCode"] == code
    assert code in response["internalErrorDetails"]
    assert sandbox.config.put_evaluations_calls == 0


def test_malformed_event_gives_a_clear_error(sandbox: Sandbox) -> None:
    event = periodic_event(RULE, deployed_rule_parameters(RULE_ID))
    event["invokingEvent"] = '{"messageType": "ScheduledNotification"}'

    response = invoke_rule(sandbox, RULE_ID, event)

    assert response["customerErrorCode"] == "InvalidEvent"
    assert "no notificationCreationTime" in response["customerErrorMessage"]
    assert sandbox.config.put_evaluations_calls == 0
