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

from mamori.automation import flag, required_input, timestamp, utc_now
from mamori.records import record_path, save_record
from mamori.security_contact import (
    CONTACT_EMAIL_PATTERN,
    CONTACT_NAME_PATTERN,
    CONTACT_PHONE_PATTERN,
    CONTACT_TITLE_PATTERN,
    SecurityContact,
    read_security_contact,
    require_own_account,
    security_contact_finding,
    write_security_contact,
)

REMEDIATION_ID = "security-contact"


def handler(events: dict[str, Any], context: Any) -> dict[str, Any]:
    account_id = required_input(events, "AccountId", r"\d{12}")
    wanted = SecurityContact(
        name=required_input(events, "Name", CONTACT_NAME_PATTERN),
        title=required_input(events, "Title", CONTACT_TITLE_PATTERN),
        email=required_input(events, "EmailAddress", CONTACT_EMAIL_PATTERN),
        phone=required_input(events, "PhoneNumber", CONTACT_PHONE_PATTERN),
    )
    dry_run = flag(events, "DryRun")
    require_own_account(boto3.client("sts"), account_id)
    account = boto3.client("account")
    result: dict[str, Any] = {"AccountId": account_id, "DryRun": dry_run, "Previous": "", "Contact": wanted.describe()}

    current = read_security_contact(account)
    result["Previous"] = current.describe() if current else "none"
    finding = security_contact_finding(current, wanted.email)
    if finding.compliant:
        return {**result, "Status": "NOTHING_TO_DO", "Message": f"{finding.annotation} Nothing to do for {account_id}."}
    action = f"replace {current.describe()} with" if current else "set"
    if dry_run:
        return {
            **result,
            "Status": "DRY_RUN",
            "Message": f"Would {action} {wanted.describe()} as the SECURITY contact of {account_id}; changed nothing.",
        }

    # Record first, so that the previous contact is not lost even if the call below fails.
    # Only the latest change can be undone: a contact someone set after mamori's previous
    # change supersedes what that change replaced.
    ssm = boto3.client("ssm")
    path = record_path(REMEDIATION_ID, account_id)
    save_record(
        ssm,
        path,
        {
            "accountId": account_id,
            "at": timestamp(utc_now()),
            "previous": current.as_record() if current else None,
            "set": wanted.as_record(),
        },
    )
    write_security_contact(account, wanted)

    now = read_security_contact(account)
    if not wanted.same_as(now):
        raise RuntimeError(
            f"The SECURITY contact of {account_id} reads {now.describe() if now else 'none'} after setting "
            f"{wanted.describe()}; the previous one is recorded at {path}."
        )
    return {
        **result,
        "Status": "REMEDIATED",
        "Message": (
            f"Set the SECURITY contact of {account_id} to {wanted.describe()} (was {result['Previous']}); "
            f"recorded at {path}, undo with mamori-security-contact-restore."
        ),
    }
