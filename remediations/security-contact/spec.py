"""The two documents of the security-contact remediation, what each may call, and the pack
parameters that hold the contact it sets."""

from mamori.catalog import (
    ACCOUNT_ID,
    AUTOMATION_ASSUME_ROLE,
    DRY_RUN,
    DocumentParameter,
    DocumentSpec,
    Parameter,
    Permission,
    RemediationSpec,
)
from mamori.security_contact import (
    CONTACT_EMAIL_PATTERN,
    CONTACT_NAME_PATTERN,
    CONTACT_PHONE_PATTERN,
    CONTACT_TITLE_PATTERN,
)

# The account's own alternate contacts (Service Authorization Reference, AWS Account
# Management, resource type `account`). Only SECURITY is ever touched; IAM could pin that with
# the account:AlternateContactTypes condition key, which mamori's Permission cannot express yet.
OWN_ACCOUNT = "arn:${AWS::Partition}:account::${AWS::AccountId}:account"
RECORDS = "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/mamori/security-contact/*"
# Which account the automation runs in: it must be the AccountId it was given. Needs no
# permission in IAM (it cannot be denied); granted so that the grant lists what is called.
WHO_AM_I = Permission("sts:GetCallerIdentity")
OUTPUTS = (("Status", "String"), ("Message", "String"), ("Previous", "String"), ("Contact", "String"))

REMEDIATION = RemediationSpec(
    id="security-contact",
    pack_parameters=(
        Parameter(
            "SecurityContactName",
            "Name of the SECURITY alternate contact the remediation sets (a team works). Empty: no remediation.",
            "",
            allowed_pattern=f"^$|^{CONTACT_NAME_PATTERN}$",
        ),
        Parameter(
            "SecurityContactTitle",
            "Title of the SECURITY alternate contact the remediation sets.",
            "Security",
            allowed_pattern=f"^{CONTACT_TITLE_PATTERN}$",
        ),
        Parameter(
            "SecurityContactPhone",
            "Phone number of the SECURITY alternate contact the remediation sets (digits, spaces, + - ( )). "
            "Empty: no remediation.",
            "",
            allowed_pattern=f"^$|^{CONTACT_PHONE_PATTERN}$",
        ),
    ),
    remediate=DocumentSpec(
        name="mamori-security-contact",
        description=(
            "Sets the account's SECURITY alternate contact (never BILLING or OPERATIONS) unless it already has the "
            "expected email address (re-checked live with mamori-security-contact's own code). Records the previous "
            "contact for mamori-security-contact-restore first, and re-reads the contact afterwards."
        ),
        script="remediate.py",
        parameters=(
            AUTOMATION_ASSUME_ROLE,
            ACCOUNT_ID,
            DocumentParameter(
                "EmailAddress",
                "String",
                "The SECURITY contact's email (the rule's ExpectedSecurityEmail).",
                allowed_pattern=f"^{CONTACT_EMAIL_PATTERN}$",
            ),
            DocumentParameter("Name", "String", "The SECURITY contact's name.", allowed_pattern=f"^{CONTACT_NAME_PATTERN}$"),
            DocumentParameter(
                "Title",
                "String",
                "The SECURITY contact's title.",
                default="Security",
                allowed_pattern=f"^{CONTACT_TITLE_PATTERN}$",
            ),
            DocumentParameter(
                "PhoneNumber",
                "String",
                "The SECURITY contact's phone number.",
                allowed_pattern=f"^{CONTACT_PHONE_PATTERN}$",
            ),
            DRY_RUN,
        ),
        permissions=(
            WHO_AM_I,
            Permission("account:GetAlternateContact", OWN_ACCOUNT),
            Permission("account:PutAlternateContact", OWN_ACCOUNT),
            # The kernel reads the record it is about to replace (a foreign one stops the run).
            Permission("ssm:GetParameter", RECORDS),
            Permission("ssm:PutParameter", RECORDS),
        ),
        outputs=OUTPUTS,
    ),
    restore=DocumentSpec(
        name="mamori-security-contact-restore",
        description=(
            "Puts back the SECURITY alternate contact mamori-security-contact replaced (or deletes the one it added), "
            "as recorded at /mamori/security-contact/<account>, unless someone has changed it since. Set "
            "ExpectedSecurityEmail to the restored address first, or automatic remediation sets it again."
        ),
        script="restore.py",
        parameters=(AUTOMATION_ASSUME_ROLE, ACCOUNT_ID, DRY_RUN),
        permissions=(
            WHO_AM_I,
            Permission("account:GetAlternateContact", OWN_ACCOUNT),
            Permission("account:PutAlternateContact", OWN_ACCOUNT),
            Permission("account:DeleteAlternateContact", OWN_ACCOUNT),
            Permission("ssm:GetParameter", RECORDS),
            Permission("ssm:DeleteParameter", RECORDS),
        ),
        outputs=OUTPUTS,
    ),
)
