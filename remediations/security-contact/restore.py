"""mamori-security-contact-restore: put back the SECURITY alternate contact that
mamori-security-contact replaced, or delete the one it added where there was none, as recorded
at /mamori/security-contact/<account>.

A contact someone changed after mamori set it is not overwritten: the restore fails and keeps
the record. Change ExpectedSecurityEmail (or switch AutoRemediation off) first, or the rule
flags the restored contact and automatic remediation sets mamori's again.
"""

from typing import Any

import boto3

from mamori.automation import flag, required_input
from mamori.records import delete_record, load_record, record_path
from mamori.security_contact import (
    contact_from_record,
    read_security_contact,
    remove_security_contact,
    require_own_account,
    write_security_contact,
)

REMEDIATION_ID = "security-contact"


def handler(events: dict[str, Any], context: Any) -> dict[str, Any]:
    account_id = required_input(events, "AccountId", r"\d{12}")
    dry_run = flag(events, "DryRun")
    require_own_account(boto3.client("sts"), account_id)
    account, ssm = boto3.client("account"), boto3.client("ssm")
    path = record_path(REMEDIATION_ID, account_id)
    result: dict[str, Any] = {"AccountId": account_id, "DryRun": dry_run, "Previous": "", "Contact": ""}

    record = load_record(ssm, path)
    if record is None:
        return {**result, "Status": "NOTHING_TO_RESTORE", "Message": f"No mamori record at {path}; nothing to restore."}
    previous, mamoris = contact_from_record(record.get("previous")), contact_from_record(record.get("set"))
    if mamoris is None:
        raise ValueError(f"{path} does not say which contact mamori set; nothing changed")
    current = read_security_contact(account)
    result["Contact"] = current.describe() if current else "none"
    result["Previous"] = previous.describe() if previous else "none"

    if (previous is None and current is None) or (previous is not None and previous.same_as(current)):
        # The remediation recorded, then failed to change anything; or it was put back by hand.
        if not dry_run:
            delete_record(ssm, path)
        return {**result, "Status": "NOTHING_TO_RESTORE", "Message": "The SECURITY contact is already as it was before mamori."}
    if not mamoris.same_as(current):
        raise RuntimeError(
            f"The SECURITY contact of {account_id} was changed since mamori set {mamoris.describe()} "
            f"(it is now {result['Contact']}); not overwriting it. The record is kept at {path}: delete it when done."
        )
    action = f"put back {previous.describe()}" if previous else "delete mamori's contact (there was none before)"
    if dry_run:
        return {**result, "Status": "DRY_RUN", "Message": f"Would {action} for {account_id}; changed nothing."}

    if previous is None:
        remove_security_contact(account)
    else:
        write_security_contact(account, previous)
    now = read_security_contact(account)
    if not (now is None if previous is None else previous.same_as(now)):
        raise RuntimeError(f"The SECURITY contact of {account_id} reads {now.describe() if now else 'none'} after restoring.")
    delete_record(ssm, path)
    return {
        **result,
        "Status": "RESTORED",
        "Message": (
            f"Restored the SECURITY contact of {account_id}: {action}. Unless ExpectedSecurityEmail now names it, the rule "
            "flags it again and automatic remediation sets mamori's contact again."
        ),
    }
