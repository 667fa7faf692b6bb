"""Remediations whose resource is the account the automation runs in (security contact,
budget alert, root credentials): the document parameter that names it, declared once.

Inlined into SSM documents: standard library only.
"""

from typing import ClassVar

ACCOUNT_ID_PATTERN = r"\d{12}"


class AccountScoped:
    """Mixin, before Remediation or Restore in the bases: the resource is AccountId."""

    resource_input: ClassVar[str] = "AccountId"
    resource_pattern: ClassVar[str] = ACCOUNT_ID_PATTERN
