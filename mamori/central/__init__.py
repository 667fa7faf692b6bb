"""The central responders: what the management (or delegated administrator) account does when
a member account's mamori rule turns NON_COMPLIANT, for the few fixes only it can make.

Member accounts forward their `Config Rules Compliance Change` events for mamori rules to the
management account's default event bus; mamori-central-responder reads them with this package:

* mamori-root-access-key: delete the member's root access keys through centralized root access
  (sts:AssumeRoot with the IAMDeleteRootUserCredentials task policy), each key's id, dates and
  last use recorded first, because a deleted root key cannot be restored (the forgotten root key
  of the incident ran up $2,798 in nine regions).
* mamori-root-mfa: with CentralRootPasswordRemoval "true", remove the member root's password
  the same way, when it has no MFA at all.
* mamori-security-contact: set the member's SECURITY alternate contact (account API with
  AccountId), so that abuse reports reach a monitored inbox.

One module per concern: events (reading and trusting the event), organization (whether and how
this account may act on the member), actions (the three fixes), responder (one event, end to
end). The account must be an ACTIVE member of this organization, neither the management account
nor this responder's own account (its own mamori stack remediates those). Anything else is
ignored with a log line, or refused with a message that says why and what a person can do.

Shipped with the central responder only (responders/central/Makefile), not in the members' layer.
"""

from mamori.central.actions import RESPONDER, Report, Settings
from mamori.central.events import ACCOUNT_RESOURCE_TYPE, DETAIL_TYPE, RULES, SOURCE, ComplianceChange, read_compliance_change
from mamori.central.organization import Caller, Member
from mamori.central.responder import Clients, respond

__all__ = [
    "ACCOUNT_RESOURCE_TYPE",
    "DETAIL_TYPE",
    "RESPONDER",
    "RULES",
    "SOURCE",
    "Caller",
    "Clients",
    "ComplianceChange",
    "Member",
    "Report",
    "Settings",
    "read_compliance_change",
    "respond",
]
