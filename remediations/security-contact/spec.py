"""The two documents of the security-contact remediation, what each may call, and the pack
parameters that hold the contact it sets."""

from mamori.catalog import (
    ACCOUNT_ID,
    ONLY_THE_SECURITY_CONTACT,
    Parameter,
    Permission,
    RemediationSpec,
    allow,
    document,
    record_permissions,
    text_parameter,
)
from mamori.security_contact import (
    CONTACT_EMAIL_PATTERN,
    CONTACT_NAME_LIMIT,
    CONTACT_NAME_PATTERN,
    CONTACT_PHONE_LIMIT,
    CONTACT_PHONE_PATTERN,
    CONTACT_TITLE_LIMIT,
    CONTACT_TITLE_PATTERN,
)

# The account's own alternate contacts (Service Authorization Reference, AWS Account
# Management, resource type `account`), and of them only SECURITY (account:AlternateContactTypes).
OWN_ACCOUNT = "arn:${AWS::Partition}:account::${AWS::AccountId}:account"
# Which account the automation runs in: it must be the AccountId it was given. Needs no
# permission in IAM (it cannot be denied); granted so that the grant lists what is called.
WHO_AM_I = Permission("sts:GetCallerIdentity")
OUTPUTS = (("Previous", "String"), ("Contact", "String"))

REMEDIATION = RemediationSpec(
    id="security-contact",
    pack_parameters=(
        Parameter(
            "SecurityContactName",
            "Name of the SECURITY alternate contact the remediation sets (a team works). Empty: no remediation.",
            "",
            allowed_pattern=f"^$|^{CONTACT_NAME_PATTERN}$",
            max_length=CONTACT_NAME_LIMIT,
            constraint="empty, or the contact's name",
        ),
        Parameter(
            "SecurityContactTitle",
            "Title of the SECURITY alternate contact the remediation sets.",
            "Security",
            allowed_pattern=f"^{CONTACT_TITLE_PATTERN}$",
            max_length=CONTACT_TITLE_LIMIT,
            constraint="the contact's title",
        ),
        Parameter(
            "SecurityContactPhone",
            "Phone number of the SECURITY alternate contact the remediation sets (digits, spaces, + - ( )). "
            "Empty: no remediation.",
            "",
            allowed_pattern=f"^$|^{CONTACT_PHONE_PATTERN}$",
            max_length=CONTACT_PHONE_LIMIT,
            constraint="empty, or a phone number of digits, spaces and + - ( )",
        ),
    ),
    remediate=document(
        "security-contact",
        description=(
            "Sets the account's SECURITY alternate contact (never BILLING or OPERATIONS) unless it already has the "
            "expected email address (re-checked live with mamori-security-contact's own code). Records the previous "
            "contact for mamori-security-contact-restore first, and re-reads the contact afterwards."
        ),
        parameters=(
            ACCOUNT_ID,
            text_parameter(
                "EmailAddress", "The SECURITY contact's email (the rule's ExpectedSecurityEmail).", pattern=CONTACT_EMAIL_PATTERN
            ),
            text_parameter("Name", "The SECURITY contact's name.", pattern=CONTACT_NAME_PATTERN),
            text_parameter("Title", "The SECURITY contact's title.", "Security", CONTACT_TITLE_PATTERN),
            text_parameter("PhoneNumber", "The SECURITY contact's phone number.", pattern=CONTACT_PHONE_PATTERN),
        ),
        permissions=(
            WHO_AM_I,
            *allow("account:GetAlternateContact", "account:PutAlternateContact", on=OWN_ACCOUNT, when=ONLY_THE_SECURITY_CONTACT),
            # The kernel reads the record it is about to replace (a foreign one stops the run).
            *record_permissions("security-contact", "PutParameter"),
        ),
        outputs=OUTPUTS,
    ),
    restore=document(
        "security-contact",
        restore=True,
        description=(
            "Puts back the SECURITY alternate contact mamori-security-contact replaced (or deletes the one it added), "
            "as recorded at /mamori/security-contact/<account>, unless someone has changed it since. Set "
            "ExpectedSecurityEmail to the restored address first, or automatic remediation sets it again."
        ),
        parameters=(ACCOUNT_ID,),
        permissions=(
            WHO_AM_I,
            *allow(
                "account:GetAlternateContact",
                "account:PutAlternateContact",
                "account:DeleteAlternateContact",
                on=OWN_ACCOUNT,
                when=ONLY_THE_SECURITY_CONTACT,
            ),
            *record_permissions("security-contact", "DeleteParameter"),
        ),
        outputs=OUTPUTS,
    ),
)
