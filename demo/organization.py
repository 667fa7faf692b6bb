"""Act 4: the organization. Two member accounts: one still has the forgotten root access key
and no SECURITY contact, the other is in order. Inside a member neither can be fixed by a remediation (only
root can delete a root key); the management account's central responder can, through
centralized root access (sts:AssumeRoot) and account:PutAlternateContact with AccountId.

Stood in: moto's Organizations holds the organization; harness.central answers sts:AssumeRoot,
iam:ListOrganizationsFeatures and the root session's IAM calls against each member's root
user (no API can set up root's state, and moto has no AssumeRoot); the events are the
`Config Rules Compliance Change` events the members' forwarding rule puts on the management
account's bus, delivered to the real handler with the actions its role is granted.
"""

import datetime
import importlib.util
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3

from demo.kit import Demo, say, show_messages, step, table
from harness.aws import RootAccessKey
from harness.central import CentralRootAccess, central_responder_environment
from harness.config_events import compliance_change
from harness.pack import LambdaContext, lambda_principal, org_template, role_grants
from mamori.catalog import ROOT, responder_spec
from mamori.records import load_record
from tests.root_helpers import subscribe_inbox

CONTACT = {
    "ExpectedSecurityEmail": "security@example.com",
    "SecurityContactName": "Security team",
    "SecurityContactTitle": "Security",
    "SecurityContactPhone": "+81 3-0000-0000",
}


def central_responder() -> Any:
    path = ROOT / "responders" / "central" / "handler.py"
    spec = importlib.util.spec_from_file_location("mamori_responder_central_handler", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """The function's environment as CloudFormation would set it; put back afterwards."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def security_contact(account: str) -> str:
    try:
        contact = boto3.client("account").get_alternate_contact(AccountId=account, AlternateContactType="SECURITY")[
            "AlternateContact"
        ]
    except boto3.client("account").exceptions.ResourceNotFoundException:
        return "none"
    return f"{contact['Name']} <{contact['EmailAddress']}>"


def play_organization(demo: Demo) -> None:
    step("The organization: this (management) account and two members")
    organizations = boto3.client("organizations")
    organizations.create_organization(FeatureSet="ALL")

    def member(name: str) -> str:
        status = organizations.create_account(AccountName=name, Email=f"{name}@example.com")["CreateAccountStatus"]
        return str(status["AccountId"])

    workloads, sandbox_account = member("workloads"), member("sandbox")
    central = CentralRootAccess(demo.sandbox)  # centralized root access enabled, as README's prerequisites say
    central.give_root_key(
        workloads,
        RootAccessKey(
            created=datetime.datetime(2019, 3, 1, tzinfo=datetime.UTC),
            last_used=datetime.datetime(2026, 11, 19, 3, 17, tzinfo=datetime.UTC),
            last_used_region="ap-southeast-1",
            last_used_service="ec2",
        ),
    )
    client = boto3.client("account")
    client.put_alternate_contact(
        AccountId=sandbox_account,
        AlternateContactType="SECURITY",
        Name=CONTACT["SecurityContactName"],
        Title=CONTACT["SecurityContactTitle"],
        EmailAddress=CONTACT["ExpectedSecurityEmail"],
        PhoneNumber=CONTACT["SecurityContactPhone"],
    )
    topic, inbox = subscribe_inbox()
    inbox()  # earlier acts' messages

    def state() -> list[list[str]]:
        return [
            [account, name, ", ".join(central.key_ids(account)) or "none", security_contact(account)]
            for account, name in ((workloads, "workloads"), (sandbox_account, "sandbox"))
        ]

    table(["Account", "Name", "Root access keys", "SECURITY contact"], state())
    say(
        "workloads' own mamori stack (from the StackSet) finds both: mamori-root-access-key and "
        "mamori-security-contact NON_COMPLIANT; sandbox is in order. Inside the member, the remediation can only "
        "notify (only root deletes a root key). The members' forwarding rule puts both compliance changes on this "
        "account's mamori-central event bus, where mamori-central-responder gets them.",
        indent=2,
        hang=2,
    )
    demo.check(
        bool(central.key_ids(workloads)) and security_contact(workloads) == "none",
        "the incident is in place: a member with a root access key and no security contact",
    )

    step("The central responder acts on the forwarded events")
    handler = central_responder()
    spec = responder_spec("central")
    # What org-template.yaml grants the function's role.
    granted = role_grants(spec.role_id, org_template())
    events = {
        "root key of workloads": compliance_change("mamori-root-access-key", workloads),
        "security contact of workloads": compliance_change(
            "mamori-security-contact", workloads, annotation="No SECURITY alternate contact."
        ),
    }
    environment_values = central_responder_environment(topic, **CONTACT)

    def deliver(event: dict[str, Any]) -> dict[str, Any]:
        """The real handler, with its role's actions and its environment, as Lambda runs it."""
        with environment(environment_values), demo.sandbox.acting_as(lambda_principal(spec.function_name), granted):
            result: dict[str, Any] = handler.lambda_handler(event, LambdaContext(spec.function_name))
        return result

    for label, event in events.items():
        result = deliver(event)
        say(f"{label}: {result.get('status')} - {result.get('reason', '')}", indent=2, hang=4)
    table(["Account", "Name", "Root access keys", "SECURITY contact"], state())
    demo.check(not central.key_ids(workloads), "the member's root access key is deleted (sts:AssumeRoot)")
    demo.check(
        security_contact(workloads) == f"{CONTACT['SecurityContactName']} <{CONTACT['ExpectedSecurityEmail']}>",
        "the member's SECURITY contact is set (account:PutAlternateContact with AccountId)",
    )
    record = load_record(boto3.client("ssm"), "central/root-access-key", workloads)
    [key] = record.changed["keys"].values() if record else [{}]
    say(
        f"recorded before deleting: created {key.get('created')}, last used {key.get('lastUsed')} in "
        f"{key.get('lastUsedRegion')} ({key.get('lastUsedService')})",
        indent=2,
    )
    demo.check(
        key.get("lastUsedRegion") == "ap-southeast-1",
        "the key's last use was recorded before it was deleted (/mamori/central/root-access-key/<account>)",
    )
    show_messages(demo, inbox())

    step("The same events again, and events that must not be acted on")
    again = [deliver(event) for event in events.values()]
    demo.check(all(not r.get("acted") for r in again), "a second delivery changes nothing")
    forged = compliance_change("mamori-root-access-key", workloads)
    forged["detail"]["awsAccountId"] = sandbox_account
    outsider = compliance_change("mamori-root-access-key", "999988887777")
    others = compliance_change("some-other-rule", sandbox_account)
    ignored = [deliver(event) for event in (forged, outsider, others)]
    for label, result in zip(("forged detail", "outside the organization", "not a mamori rule"), ignored, strict=True):
        say(f"{label}: {result.get('status')} - {result.get('reason', '')}", indent=2, hang=4)
    demo.check(
        all(not r.get("acted") for r in ignored),
        "forged, foreign-account and non-mamori events are not acted on",
        f"ignored events: {ignored}",
    )
