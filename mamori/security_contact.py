"""The account's SECURITY alternate contact: what mamori-security-contact decides and what its
remediation and restore read and write, in one place.

AWS Trust & Safety sends abuse reports to the SECURITY alternate contact; without one they go
to the root user's email address, which in the open-proxy incident nobody read. Only the
SECURITY contact is ever read or written here, never BILLING or OPERATIONS, and always the
caller's own account (no AccountId: the API then acts on the caller's account; a management
account must not pass its own id either).

Standard library and botocore only: remediation scripts inline this module.
"""

import re
from dataclasses import dataclass
from typing import Any

import botocore.exceptions

from mamori.compliance import ANNOTATION_LIMIT

CONTACT_TYPE = "SECURITY"


# PutAlternateContact's own limits (account API model): what AWS would reject, we reject first,
# before anything is changed. The API allows spaces around an email; we take it trimmed.
def _at_most(count: int) -> str:
    """A regex quantifier (written so, because SSM reads two braces in a script as a reference)."""
    return "{" + f"1,{count}" + "}"


# The longest value of each part (botocore account, PutAlternateContactRequest: EmailAddress
# max 254, PhoneNumber 25, Name 64, Title 50).
CONTACT_EMAIL_LIMIT, CONTACT_PHONE_LIMIT, CONTACT_NAME_LIMIT, CONTACT_TITLE_LIMIT = 254, 25, 64, 50
CONTACT_EMAIL_PATTERN = r"[\w+=.#|!&-]+@[\w.-]+\.\w+"
CONTACT_PHONE_PATTERN = r"[\s0-9()+-]" + _at_most(CONTACT_PHONE_LIMIT)
CONTACT_NAME_PATTERN = "." + _at_most(CONTACT_NAME_LIMIT)
CONTACT_TITLE_PATTERN = "." + _at_most(CONTACT_TITLE_LIMIT)
# The pattern each part of a contact must match, by SecurityContact field.
CONTACT_PATTERNS = {
    "name": CONTACT_NAME_PATTERN,
    "title": CONTACT_TITLE_PATTERN,
    "email": CONTACT_EMAIL_PATTERN,
    "phone": CONTACT_PHONE_PATTERN,
}


@dataclass(frozen=True)
class SecurityContact:
    name: str
    title: str
    email: str
    phone: str

    def describe(self) -> str:
        return f"{self.name} <{self.email}>"

    def as_record(self) -> dict[str, str]:
        return {"name": self.name, "title": self.title, "email": self.email, "phone": self.phone}

    def same_as(self, other: "SecurityContact | None") -> bool:
        """Equal as AWS would use it: email addresses compare case-insensitively."""
        return (
            other is not None
            and same_email(self.email, other.email)
            and (self.name, self.title, self.phone.strip()) == (other.name, other.title, other.phone.strip())
        )


@dataclass(frozen=True)
class ContactFinding:
    compliant: bool
    annotation: str  # at most 256 characters, for Config


def same_email(first: str, second: str) -> bool:
    return first.strip().lower() == second.strip().lower()


def parse_expected_email(text: str) -> str:
    """ExpectedSecurityEmail: empty (any SECURITY contact will do) or one email address."""
    value = text.strip()
    if value and not re.fullmatch(CONTACT_EMAIL_PATTERN, value):
        raise ValueError(f"ExpectedSecurityEmail: {text!r} is not an email address")
    return value


@dataclass(frozen=True)
class LiveContact:
    """The account's SECURITY contact as read now (None: there is none), for the remediation
    kernel, whose resource (the account) always exists."""

    contact: SecurityContact | None


def describe_contact(contact: SecurityContact | None) -> str:
    return contact.describe() if contact else "none"


def contact_from_record(record: Any) -> SecurityContact | None:
    if record is None:
        return None
    return SecurityContact(str(record["name"]), str(record["title"]), str(record["email"]), str(record["phone"]))


def read_security_contact(account: Any) -> SecurityContact | None:
    """The live SECURITY contact of the caller's account, or None when there is none."""
    try:
        found = account.get_alternate_contact(AlternateContactType=CONTACT_TYPE)["AlternateContact"]
    except botocore.exceptions.ClientError as error:
        if error.response["Error"]["Code"] == "ResourceNotFoundException":
            return None
        raise
    return SecurityContact(
        name=str(found.get("Name", "")),
        title=str(found.get("Title", "")),
        email=str(found.get("EmailAddress", "")),
        phone=str(found.get("PhoneNumber", "")),
    )


def read_live_contact(account: Any) -> LiveContact:
    return LiveContact(read_security_contact(account))


def write_security_contact(account: Any, contact: SecurityContact) -> None:
    account.put_alternate_contact(
        AlternateContactType=CONTACT_TYPE,
        Name=contact.name,
        Title=contact.title,
        EmailAddress=contact.email,
        PhoneNumber=contact.phone,
    )


def remove_security_contact(account: Any) -> None:
    try:
        account.delete_alternate_contact(AlternateContactType=CONTACT_TYPE)
    except botocore.exceptions.ClientError as error:
        if error.response["Error"]["Code"] != "ResourceNotFoundException":
            raise


def security_contact_finding(contact: SecurityContact | None, expected_email: str) -> ContactFinding:
    """The rule's decision; the remediation re-checks live state with it too."""
    if contact is None:
        annotation = (
            "No SECURITY alternate contact: AWS sends abuse reports to the root user's email instead; "
            "the remediation sets one when the pack's ExpectedSecurityEmail, SecurityContactName and "
            "SecurityContactPhone are set."
        )
        return ContactFinding(False, annotation)
    if expected_email and not same_email(contact.email, expected_email):
        annotation = (
            f"The SECURITY alternate contact is {contact.email}, not the expected {expected_email} "
            f"(ExpectedSecurityEmail): abuse reports go to the wrong inbox; the remediation replaces it."
        )
        return ContactFinding(False, _fit(annotation))
    return ContactFinding(True, _fit(f"SECURITY alternate contact: {contact.describe()}."))


def _fit(annotation: str) -> str:
    """Config keeps 256 characters; two long addresses may not fit."""
    return annotation if len(annotation) <= ANNOTATION_LIMIT else annotation[: ANNOTATION_LIMIT - 1] + "…"


def require_own_account(sts: Any, account_id: str) -> None:
    """The contact calls act on the caller's account: refuse to record one account's contact
    under another's id (the document is run by hand with a wrong AccountId, or centrally)."""
    caller = str(sts.get_caller_identity()["Account"])
    if caller != account_id:
        raise ValueError(
            f"AccountId {account_id} is not the account this automation runs in ({caller}): "
            "mamori-security-contact sets only its own account's contact"
        )
