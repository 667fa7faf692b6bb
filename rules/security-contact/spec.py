"""mamori-security-contact: what the rule is, what it takes, what it may call."""

from mamori.catalog import ONLY_THE_SECURITY_CONTACT, Parameter, Permission, RemediationLink, RuleSpec, allow
from mamori.security_contact import CONTACT_EMAIL_LIMIT, CONTACT_EMAIL_PATTERN

# The account's own alternate contacts are the `account` resource type,
# arn:${Partition}:account::${Account}:account (Service Authorization Reference, AWS Account
# Management: GetAlternateContact, PutAlternateContact, DeleteAlternateContact); the other
# type, accountInOrganization, is for member accounts managed centrally.
OWN_ACCOUNT = "arn:${AWS::Partition}:account::${AWS::AccountId}:account"

RULE = RuleSpec(
    id="security-contact",
    description=(
        "NON_COMPLIANT when the account has no SECURITY alternate contact (abuse reports then go to the root "
        "user's email), or, with ExpectedSecurityEmail set, when the contact's email is another address."
    ),
    trigger="periodic",
    resource_types=("AWS::::Account",),
    parameters=(
        Parameter(
            "ExpectedSecurityEmail",
            "The email address the SECURITY alternate contact must have (a monitored team inbox). Empty: any "
            "SECURITY contact is compliant, and no remediation is deployed.",
            "",
            allowed_pattern=f"^$|^{CONTACT_EMAIL_PATTERN}$",
            max_length=CONTACT_EMAIL_LIMIT,
            constraint="empty, or an email address",
        ),
    ),
    permissions=(
        Permission("config:PutEvaluations"),
        # One live call decides: the SECURITY contact, the only one the rule may read.
        *allow("account:GetAlternateContact", on=OWN_ACCOUNT, when=ONLY_THE_SECURITY_CONTACT),
    ),
    remediation=RemediationLink(
        document="security-contact",
        resource_id_parameter="AccountId",
        # PutAlternateContact needs all four; Title has a default.
        pack_values=(
            ("EmailAddress", "ExpectedSecurityEmail"),
            ("Name", "SecurityContactName"),
            ("Title", "SecurityContactTitle"),
            ("PhoneNumber", "SecurityContactPhone"),
        ),
        # Without a contact to set, the rule only reports.
        requires=("ExpectedSecurityEmail", "SecurityContactName", "SecurityContactPhone"),
        maximum_automatic_attempts=3,
        retry_attempt_seconds=300,
    ),
)
