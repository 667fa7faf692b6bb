"""mamori-security-contact: set the account's SECURITY alternate contact, so that abuse
reports reach a monitored inbox instead of the root user's email.

Re-checks the live contact with the rule's own decision first: a contact that already has the
expected email address is left alone (its name or phone may have been updated by a person).
The contact it replaces (or that there was none) is recorded at
/mamori/security-contact/<account> before anything changes, for the restore document.
BILLING and OPERATIONS contacts are never read or touched.
"""

from typing import Any

import boto3

from mamori.account_unit import AccountScoped
from mamori.automation import required_input
from mamori.records import Record
from mamori.remediation import Nothing, Plan, Remediation, run_remediation
from mamori.security_contact import (
    CONTACT_PATTERNS,
    LiveContact,
    SecurityContact,
    describe_contact,
    read_live_contact,
    require_own_account,
    security_contact_finding,
    write_security_contact,
)


class SetSecurityContact(AccountScoped, Remediation[LiveContact]):
    remediation_id = "security-contact"
    text_outputs = ("Previous", "Contact")

    def read_parameters(self) -> None:
        inputs = {"name": "Name", "title": "Title", "email": "EmailAddress", "phone": "PhoneNumber"}
        self.wanted = SecurityContact(
            **{part: required_input(self.events, name, CONTACT_PATTERNS[part]) for part, name in inputs.items()}
        )
        self.outputs["Contact"] = self.wanted.describe()
        require_own_account(boto3.client("sts"), self.resource_id)
        self.account = boto3.client("account")

    def find(self) -> LiveContact:
        live = read_live_contact(self.account)
        self.outputs["Previous"] = describe_contact(live.contact)
        return live

    def plan(self, target: LiveContact) -> Plan | Nothing:
        current = target.contact
        finding = security_contact_finding(current, self.wanted.email)
        if finding.compliant:
            return Nothing(f"{finding.annotation} Nothing to do for {self.resource_id}.")
        action = f"replace {current.describe()} with" if current else "set"
        return Plan([f"{action} {self.wanted.describe()} as the SECURITY contact of {self.resource_id}"])

    def record(self, target: LiveContact, plan: Plan, previous: Record | None) -> dict[str, Any]:
        # Only the latest change can be undone: a contact someone set after mamori's previous
        # change supersedes what that change replaced.
        return {"previous": target.contact.as_record() if target.contact else None, "set": self.wanted.as_record()}

    def apply(self, target: LiveContact, plan: Plan) -> None:
        write_security_contact(self.account, self.wanted)

    def still_wrong(self, target: LiveContact, plan: Plan) -> str | None:
        # Stricter than the rule: the name, title and phone mamori wrote must read back too.
        now = read_live_contact(self.account).contact
        if self.wanted.same_as(now):
            return None
        return f"the SECURITY contact reads {describe_contact(now)} after setting {self.wanted.describe()}"

    def done_message(self, target: LiveContact, plan: Plan) -> str:
        return (
            f"Set the SECURITY contact of {self.resource_id} to {self.wanted.describe()} (was {self.outputs['Previous']}); "
            f"recorded at {self.record_path}, undo with {self.restore_document}."
        )


def handler(events: dict[str, Any], context: Any) -> dict[str, Any]:
    return run_remediation(SetSecurityContact(events))
