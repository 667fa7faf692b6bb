"""The compliance-change events the central responder reads: a member account's mamori rule
turned NON_COMPLIANT, forwarded to the management account's default bus.

Whom to trust: the event's top-level `account`, which EventBridge sets for aws.* events and a
member cannot forge; detail.awsAccountId and the resource id must agree with it. Anything else
is Ignored, with the reason.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mamori.aws_api import ACCOUNT_ID
from mamori.compliance import NON_COMPLIANT
from mamori.leaked_keys import CODE as EXPOSED_KEY_CODE
from mamori.leaked_keys import DETAIL_TYPE as HEALTH_DETAIL_TYPE
from mamori.leaked_keys import SOURCE as HEALTH_SOURCE
from mamori.leaked_keys import NotAnExposedKeyEvent, parse_exposed_key_event

# The exposed-key event the responder also acts on (responders/central/spec.py's pattern).
EXPOSED_KEY_EVENT = (HEALTH_SOURCE, HEALTH_DETAIL_TYPE, EXPOSED_KEY_CODE)

SOURCE = "aws.config"
DETAIL_TYPE = "Config Rules Compliance Change"
MESSAGE_TYPE = "ComplianceChangeNotification"
ACCOUNT_RESOURCE_TYPE = "AWS::::Account"
ROOT_ACCESS_KEY_RULE = "mamori-root-access-key"
ROOT_MFA_RULE = "mamori-root-mfa"
SECURITY_CONTACT_RULE = "mamori-security-contact"
RULES = (ROOT_ACCESS_KEY_RULE, ROOT_MFA_RULE, SECURITY_CONTACT_RULE)


class Ignored(ValueError):
    """The event is not one to act on: logged, never acted on, nobody told."""


@dataclass(frozen=True)
class ComplianceChange:
    rule: str
    account: str  # the event's `account`: the member whose rule changed
    region: str
    event_id: str
    annotation: str
    previous: str  # the old compliance type, "" when the event has none
    # An AWS Health exposed-credentials event instead of a compliance change (read_exposed_key):
    # the keys it names and its ARN. The member's root keys are deleted when one of them is root's.
    exposed_keys: tuple[str, ...] = ()
    health_event: str = ""


def _text(mapping: Mapping[str, Any], key: str, where: str) -> str | None:
    """A text field, None when absent (or null); Ignored when it holds anything else."""
    value = mapping.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise Ignored(f"{where}.{key} is not text ({type(value).__name__})")
    return value


def _object(mapping: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = mapping.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise Ignored(f"{where}.{key} is not an object ({type(value).__name__})")
    return value


def read_compliance_change(event: Any) -> ComplianceChange:
    """The member's NON_COMPLIANT finding for one of RULES, or Ignored with the reason."""
    if not isinstance(event, Mapping):
        raise Ignored(f"the event is a {type(event).__name__}, not a JSON object")
    if event.get("source") != SOURCE:
        raise Ignored(f"source {event.get('source')!r} is not {SOURCE}")
    if event.get("detail-type") != DETAIL_TYPE:
        raise Ignored(f"detail-type {event.get('detail-type')!r} is not {DETAIL_TYPE!r}")
    detail = event.get("detail")
    if not isinstance(detail, Mapping):
        raise Ignored("the event has no detail object")
    rule = _text(detail, "configRuleName", "detail")
    if rule not in RULES:
        raise Ignored(f"rule {rule!r} is not one the central responder acts on ({', '.join(RULES)})")
    account = event.get("account")
    if not isinstance(account, str) or not ACCOUNT_ID.match(account):
        raise Ignored(f"the event's account {account!r} is not an account id")
    message_type = _text(detail, "messageType", "detail")
    if message_type not in (None, MESSAGE_TYPE):
        raise Ignored(f"detail.messageType {message_type!r} is not {MESSAGE_TYPE}")
    new = _object(detail, "newEvaluationResult", "detail")
    state = new.get("complianceType")
    if state != NON_COMPLIANT:
        raise Ignored(f"{rule} now finds {state!r}, not {NON_COMPLIANT}: nothing to fix")
    qualifier = _object(
        _object(new, "evaluationResultIdentifier", "newEvaluationResult"), "evaluationResultQualifier", "newEvaluationResult"
    )
    if _text(qualifier, "configRuleName", "qualifier") not in (None, rule):
        raise Ignored(f"the evaluation is of rule {qualifier.get('configRuleName')!r}, the event of {rule}")
    # The member's Config sets these; they must agree with `account`, which it cannot forge.
    claimed = _text(detail, "awsAccountId", "detail")
    if claimed not in (None, account):
        raise Ignored(f"detail.awsAccountId {claimed} is not the event's account {account} (forged or misrouted)")
    types = {value for value in (_text(detail, "resourceType", "detail"), _text(qualifier, "resourceType", "qualifier")) if value}
    if types != {ACCOUNT_RESOURCE_TYPE}:
        raise Ignored(f"resource type {sorted(types) or 'missing'} is not {ACCOUNT_RESOURCE_TYPE}")
    ids = {value for value in (_text(detail, "resourceId", "detail"), _text(qualifier, "resourceId", "qualifier")) if value}
    if ids != {account}:
        raise Ignored(f"resource id {sorted(ids) or 'missing'} is not the event's account {account}")
    old = detail.get("oldEvaluationResult")
    previous = old.get("complianceType") if isinstance(old, Mapping) else None
    annotation = new.get("annotation")
    region = detail.get("awsRegion") or event.get("region")
    return ComplianceChange(
        rule=rule,
        account=account,
        region=region if isinstance(region, str) else "",
        event_id=str(event.get("id", "")),
        annotation=annotation if isinstance(annotation, str) else "",
        previous=previous if isinstance(previous, str) else "",
    )


def read_exposed_key(event: Any) -> ComplianceChange:
    """AWS Health's AWS_RISK_CREDENTIALS_EXPOSED about a member (organizational view: the event
    reaches this account with detail.affectedAccount naming the member), read as a finding of
    mamori-root-access-key to check in that member; Ignored with the reason otherwise.

    Whom to trust: AWS Health sets affectedAccount, and EventBridge refuses `aws.` sources from
    PutEvents; a member that forwards its own events can only forward what is about itself."""
    try:
        report = parse_exposed_key_event(event)
    except NotAnExposedKeyEvent as error:
        raise Ignored(str(error)) from None
    region = event.get("region") if isinstance(event.get("region"), str) else ""
    return ComplianceChange(
        rule=ROOT_ACCESS_KEY_RULE,
        account=report.affected_account,
        region=region,
        event_id=report.event_id,
        annotation="",
        previous="",
        exposed_keys=report.key_ids,
        health_event=report.event_arn,
    )


def read_event(event: Any) -> ComplianceChange:
    """A compliance change (aws.config) or an exposed-key event (aws.health)."""
    if isinstance(event, Mapping) and event.get("source") == HEALTH_SOURCE:
        return read_exposed_key(event)
    return read_compliance_change(event)
