"""mamori-security-contact-restore: put back the SECURITY alternate contact that
mamori-security-contact replaced, or delete the one it added where there was none, as recorded
at /mamori/security-contact/<account>.

A contact someone changed after mamori set it is not overwritten: the restore fails and keeps
the record. Change ExpectedSecurityEmail (or switch AutoRemediation off) first, or the rule
flags the restored contact and automatic remediation sets mamori's again.
"""

from typing import Any

import boto3

from mamori.account_unit import AccountScoped
from mamori.records import Record
from mamori.restoration import Nothing, Plan, Restore, run_restore
from mamori.security_contact import (
    LiveContact,
    contact_from_record,
    describe_contact,
    read_live_contact,
    remove_security_contact,
    require_own_account,
    write_security_contact,
)


class PutBackSecurityContact(AccountScoped, Restore[LiveContact]):
    remediation_id = "security-contact"
    text_outputs = ("Previous", "Contact")

    def read_parameters(self) -> None:
        require_own_account(boto3.client("sts"), self.resource_id)
        self.account = boto3.client("account")

    def find(self, record: Record | None) -> LiveContact:
        return read_live_contact(self.account)

    def plan(self, target: LiveContact, record: Record | None) -> Plan | Nothing:
        changed = record.changed if record else {}
        previous, mamoris = contact_from_record(changed.get("previous")), contact_from_record(changed.get("set"))
        current = target.contact
        if mamoris is None:
            raise ValueError(f"{self.record_path} does not say which contact mamori set; nothing changed")
        self.outputs.update(Contact=describe_contact(current), Previous=describe_contact(previous))
        if (previous is None and current is None) or (previous is not None and previous.same_as(current)):
            # The remediation recorded, then failed to change anything; or it was put back by hand.
            return Nothing("The SECURITY contact is already as it was before mamori.")
        if not mamoris.same_as(current):
            raise RuntimeError(
                f"The SECURITY contact of {self.resource_id} was changed since mamori set {mamoris.describe()} "
                f"(it is now {describe_contact(current)}); not overwriting it. The record is kept at {self.record_path}: "
                "delete it when done."
            )
        action = f"put back {previous.describe()}" if previous else "delete mamori's contact (there was none before)"
        return Plan([f"{action} for {self.resource_id}"], data=(previous, action))

    def apply(self, target: LiveContact, plan: Plan, record: Record | None) -> None:
        previous, _ = plan.data
        if previous is None:
            remove_security_contact(self.account)
        else:
            write_security_contact(self.account, previous)
        # Checked here, before the kernel forgets the record: a restore that did not stick keeps it.
        now = read_live_contact(self.account).contact
        if not (now is None if previous is None else previous.same_as(now)):
            raise RuntimeError(f"The SECURITY contact of {self.resource_id} reads {describe_contact(now)} after restoring.")

    def exempt_hint(self, target: LiveContact) -> str:
        return (
            " Unless ExpectedSecurityEmail now names it, the rule flags it again and automatic remediation sets "
            "mamori's contact again."
        )

    def done_message(self, target: LiveContact, plan: Plan) -> str:
        _, action = plan.data
        return f"Restored the SECURITY contact of {self.resource_id}: {action}."


def handler(events: dict[str, Any], context: Any) -> dict[str, Any]:
    return run_restore(PutBackSecurityContact(events))
