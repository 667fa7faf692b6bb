"""mamori-security-contact and -restore, run from template.yaml by the document runner (moto
runs no SSM Automation: harness.pack executes each aws:executeScript step's inlined script,
under the IAM actions the template grants the document's role). The contacts live in moto's
Account Management backend and are re-read after every run; the records in moto's SSM."""

import json
from typing import Any

import boto3
import pytest

from harness.aws import ACCOUNT, Sandbox
from harness.config_events import periodic_event
from harness.pack import (
    AUTOMATION_ROLE_ARN,
    AutomationResult,
    automation_principal,
    deployed_rule_parameters,
    invoke_rule,
    remediation_parameters,
    run_document,
    template,
)
from mamori.records import load_record
from tests.closed_loop import assert_closed_loop

RULE = "mamori-security-contact"
RULE_ID = "security-contact"
REMEDIATE = "mamori-security-contact"
RESTORE = "mamori-security-contact-restore"
EXPECTED = "secops@example.com"
# What the deployer sets: the pack parameters the RemediationConfiguration passes on.
PACK = {
    "ExpectedSecurityEmail": EXPECTED,
    "SecurityContactName": "Security Operations",
    "SecurityContactPhone": "+81 3 1234 5678",
}
MAMORIS = {
    "AlternateContactType": "SECURITY",
    "Name": "Security Operations",
    "Title": "Security",
    "EmailAddress": EXPECTED,
    "PhoneNumber": "+81 3 1234 5678",
}


def set_contact(kind: str = "SECURITY", email: str = "former-admin@example.com", name: str = "Former Admin") -> dict[str, str]:
    contact = {"AlternateContactType": kind, "Name": name, "Title": "CTO", "EmailAddress": email, "PhoneNumber": "555-0100"}
    boto3.client("account").put_alternate_contact(**contact)
    return contact


def contact(kind: str = "SECURITY") -> dict[str, str] | None:
    try:
        return dict(boto3.client("account").get_alternate_contact(AlternateContactType=kind)["AlternateContact"])
    except boto3.client("account").exceptions.ResourceNotFoundException:
        return None


def evaluate(sandbox: Sandbox) -> str:
    parameters = deployed_rule_parameters(RULE_ID, ExpectedSecurityEmail=EXPECTED)
    invoke_rule(sandbox, RULE_ID, periodic_event(RULE, parameters))
    return sandbox.config.compliance(RULE)[ACCOUNT][0]


def remediate(sandbox: Sandbox, **overrides: Any) -> Any:
    return run_document(sandbox, REMEDIATE, remediation_parameters(RULE_ID, ACCOUNT, pack_values=PACK, **overrides))


def restore(sandbox: Sandbox, **extra: Any) -> Any:
    return run_document(sandbox, RESTORE, {"AutomationAssumeRole": AUTOMATION_ROLE_ARN, "AccountId": ACCOUNT, **extra})


def record() -> Any:
    found = load_record(boto3.client("ssm"), RULE_ID, ACCOUNT)
    assert found is not None, f"no record of {ACCOUNT}"
    return found.changed


def no_records() -> bool:
    return not boto3.client("ssm").get_parameters_by_path(Path="/mamori", Recursive=True)["Parameters"]


@pytest.mark.closed_loop("security-contact")
def test_closed_loop_from_no_contact(sandbox: Sandbox) -> None:
    """Restore deletes the contact mamori added. BILLING and OPERATIONS stay as they were."""
    billing, operations = set_contact("BILLING", "billing@example.com"), set_contact("OPERATIONS", "noc@example.com")

    def set_from_the_pack(result: AutomationResult) -> None:
        assert result.outputs["Remediate.Previous"] == "none"
        assert result.outputs["Remediate.Contact"] == f"Security Operations <{EXPECTED}>"
        assert contact() == MAMORIS
        assert (contact("BILLING"), contact("OPERATIONS")) == (billing, operations)
        assert record()["previous"] is None and record()["set"]["email"] == EXPECTED

    def unchanged(result: AutomationResult) -> None:
        assert contact() == MAMORIS

    def deleted(result: AutomationResult) -> None:
        assert contact() is None
        assert (contact("BILLING"), contact("OPERATIONS")) == (billing, operations)
        assert no_records()

    assert_closed_loop(
        sandbox,
        RULE_ID,
        ACCOUNT,
        pack=PACK,
        after_remediation=set_from_the_pack,
        after_second_run=unchanged,
        after_restore=deleted,
    )


def test_a_wrong_contact_is_replaced_and_restored(sandbox: Sandbox) -> None:
    previous = set_contact(email="former-admin@example.com")
    assert evaluate(sandbox) == "NON_COMPLIANT"

    result = remediate(sandbox)

    assert result.outputs["Remediate.Status"] == "REMEDIATED"
    assert result.outputs["Remediate.Previous"] == "Former Admin <former-admin@example.com>"
    assert contact() == MAMORIS
    assert record()["previous"] == {
        "name": "Former Admin",
        "title": "CTO",
        "email": "former-admin@example.com",
        "phone": "555-0100",
    }
    assert evaluate(sandbox) == "COMPLIANT"

    restored = restore(sandbox)

    assert restored.outputs["Restore.Status"] == "RESTORED"
    assert contact() == previous
    assert no_records()
    assert evaluate(sandbox) == "NON_COMPLIANT"


def test_a_contact_with_the_expected_email_is_left_alone(sandbox: Sandbox) -> None:
    """Same email, another name and phone: compliant, so the remediation (which re-checks with
    the rule's decision) keeps what a person wrote."""
    kept = set_contact(email="SecOps@Example.com", name="On-call security")

    result = remediate(sandbox)

    assert (result.status, result.outputs["Remediate.Status"]) == ("Success", "NOTHING_TO_DO")
    assert contact() == kept
    assert no_records()
    assert "account:PutAlternateContact" not in sandbox.calls_by(automation_principal(REMEDIATE))


def test_dry_run_changes_nothing(sandbox: Sandbox) -> None:
    previous = set_contact()

    result = remediate(sandbox, DryRun=True)

    assert (result.status, result.outputs["Remediate.Status"]) == ("Success", "DRY_RUN")
    assert "Would replace Former Admin <former-admin@example.com> with Security Operations" in result.outputs["Remediate.Message"]
    assert contact() == previous
    assert no_records()


@pytest.mark.parametrize(
    ("parameters", "failure"),
    [
        ({"EmailAddress": "security team"}, "does not match allowedPattern"),
        ({"PhoneNumber": "call the SOC"}, "does not match allowedPattern"),
        ({"PhoneNumber": "+1 555 0100 0100 0100 0100 0"}, "does not match allowedPattern"),  # 26 characters
        ({"Name": ""}, "does not match allowedPattern"),
        ({"AccountId": "12345"}, "does not match allowedPattern"),
        ({"DryRun": "maybe"}, "must be a Boolean"),
        ({"AlternateContactType": "BILLING"}, "unknown ['AlternateContactType']"),
        ({"AccountId": "210987654321"}, "AccountId 210987654321 is not the account this automation runs in (123456789012)"),
    ],
)
def test_bad_input_fails_clearly_and_changes_nothing(sandbox: Sandbox, parameters: dict[str, Any], failure: str) -> None:
    previous = set_contact()

    result = remediate(sandbox, **parameters)

    assert result.status == "Failed"
    assert failure in result.failure
    assert contact() == previous
    assert no_records()


def test_a_failed_write_fails_loudly_and_keeps_the_previous_contact_recorded(sandbox: Sandbox) -> None:
    previous = set_contact()
    sandbox.answer_next("account:PutAlternateContact", "TooManyRequestsException")

    result = remediate(sandbox)

    assert result.status == "Failed"
    assert "TooManyRequestsException" in result.failure
    assert contact() == previous
    assert record()["previous"]["email"] == "former-admin@example.com"

    # Nothing was changed, so there is nothing to put back: the record goes.
    restored = restore(sandbox)
    assert (restored.status, restored.outputs["Restore.Status"]) == ("Success", "NOTHING_TO_RESTORE")
    assert contact() == previous and no_records()


def test_a_write_that_does_not_stick_fails_loudly(sandbox: Sandbox) -> None:
    """PutAlternateContact answers success but the contact reads otherwise afterwards."""
    set_contact()
    sandbox.answer_next("account:PutAlternateContact", {})

    result = remediate(sandbox)

    assert result.status == "Failed"
    assert "reads Former Admin <former-admin@example.com> after setting Security Operations" in result.failure


def test_restore_never_overwrites_a_contact_changed_since(sandbox: Sandbox) -> None:
    set_contact()
    assert remediate(sandbox).outputs["Remediate.Status"] == "REMEDIATED"
    newer = set_contact(email="soc@example.com", name="SOC")  # a person chose another inbox since

    result = restore(sandbox)

    assert result.status == "Failed"
    assert "was changed since mamori set Security Operations <secops@example.com>" in result.failure
    assert contact() == newer
    assert record()["previous"]["email"] == "former-admin@example.com"


def test_restore_dry_run_changes_nothing(sandbox: Sandbox) -> None:
    set_contact()
    assert remediate(sandbox).status == "Success"

    result = restore(sandbox, DryRun=True)

    assert (result.status, result.outputs["Restore.Status"]) == ("Success", "DRY_RUN")
    assert "Would put back Former Admin <former-admin@example.com>" in result.outputs["Restore.Message"]
    assert contact() == MAMORIS
    assert record()["set"]["email"] == EXPECTED


def test_the_remediation_exists_only_with_a_contact_to_set() -> None:
    """PutAlternateContact needs an email, a name and a phone number: without all three pack
    parameters the template deploys no RemediationConfiguration, and the rule only reports."""
    resources, conditions = template()["Resources"], template()["Conditions"]
    configuration = resources["SecurityContactRemediation"]

    assert configuration["Condition"] == "SecurityContactRemediationConfigured"
    assert conditions["SecurityContactRemediationConfigured"] == {
        "Fn::And": [
            {"Condition": "HasExpectedSecurityEmail"},
            {"Condition": "HasSecurityContactName"},
            {"Condition": "HasSecurityContactPhone"},
        ]
    }
    assert configuration["Properties"]["Parameters"]["Title"] == {"StaticValue": {"Values": [{"Ref": "SecurityContactTitle"}]}}
    assert template()["Parameters"]["SecurityContactTitle"]["Default"] == "Security"


@pytest.mark.parametrize("of_account", [ACCOUNT, "210987654321"], ids=["this-account", "another-account"])
def test_an_unsigned_record_is_refused_and_the_contact_kept(sandbox: Sandbox, of_account: str) -> None:
    """A record of schema 0 (before the envelope) whose `previous` is someone's mailbox: written
    before mamori signed its records, or planted to make that mailbox the SECURITY contact."""
    boto3.client("account").put_alternate_contact(**MAMORIS)
    legacy = {
        "accountId": of_account,
        "previous": {"name": "Former Admin", "title": "CTO", "email": "former-admin@example.com", "phone": "555-0100"},
        "set": {"name": "Security Operations", "title": "Security", "email": EXPECTED, "phone": "+81 3 1234 5678"},
    }
    boto3.client("ssm").put_parameter(Name=f"/mamori/security-contact/{ACCOUNT}", Value=json.dumps(legacy), Type="String")

    result = restore(sandbox)

    assert result.status == "Failed"
    assert "Refused" in result.failure and "no mamori signature" in result.failure
    assert contact() == MAMORIS


def test_a_contact_changed_again_is_replaced_again_and_the_record_names_the_latest(sandbox: Sandbox) -> None:
    """Someone sets another contact after mamori set its own: the next run reads mamori's record
    (verified), replaces the contact again, and records only what it replaced this time."""
    set_contact(email="former-admin@example.com")
    assert remediate(sandbox).outputs["Remediate.Status"] == "REMEDIATED"
    interim = set_contact(email="interim@example.com", name="Interim Lead")

    again = remediate(sandbox)

    assert (again.status, again.outputs["Remediate.Status"]) == ("Success", "REMEDIATED"), again.failure
    assert contact() == MAMORIS and record()["previous"]["email"] == "interim@example.com"
    assert restore(sandbox).outputs["Restore.Status"] == "RESTORED"
    assert contact() == interim
