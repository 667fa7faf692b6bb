"""One event through the central responder: read it, check the member, act, publish what
happened. Failures are published first and then raised, so that they show in the Lambda's
metrics and Lambda retries.

A member decides when its rules turn NON_COMPLIANT, and may do it again and again: what the
responder did not change (a refusal, a failure) is told once per member, rule and outcome
within WINDOW (mamori.deduplication); what it changed in a member is always told. Every message
ends with how to tell it from a forgery (mamori.messages).
"""

import datetime
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

import botocore.exceptions

from mamori import deduplication, messages
from mamori.abuse_events import subject_line
from mamori.aws_api import error_text
from mamori.central import actions as central_actions
from mamori.central.actions import (
    RESPONDER,
    RETRIES,
    Report,
    Settings,
    finding_text,
    remove_root_access_keys,
    remove_root_password,
    set_security_contact,
)
from mamori.central.events import (
    ROOT_ACCESS_KEY_RULE,
    ROOT_MFA_RULE,
    SECURITY_CONTACT_RULE,
    ComplianceChange,
    Ignored,
    read_event,
)
from mamori.central.organization import Caller, Refusal, assume_root, check_centralized_root_access, check_member
from mamori.security_contact import SecurityContact
from mamori.status import FAILED, IGNORED, REFUSED, REMEDIATED

LOG = logging.getLogger("mamori")

# A refusal or a failure about one member's rule is told once a day: the reason holds until a
# person acts on it, and a member flipping its rule must not flood the management account.
WINDOW = datetime.timedelta(hours=24)


class Clients:
    """boto3 clients made on first use (an ignored event creates none), and the IAM client of a
    root session made from AssumeRoot's credentials."""

    def __init__(self, make: Callable[..., Any]) -> None:
        self._make = make
        self._made: dict[str, Any] = {}

    def __call__(self, service: str) -> Any:
        if service not in self._made:
            self._made[service] = self._make(service)
        return self._made[service]

    def root_iam(self, credentials: Mapping[str, Any]) -> Any:
        return self._make(
            "iam",
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
        )


WHAT = {
    ROOT_ACCESS_KEY_RULE: "Root access key NOT deleted",
    ROOT_MFA_RULE: "Root password NOT removed",
    SECURITY_CONTACT_RULE: "SECURITY contact NOT set",
}


def refusal_report(change: ComplianceChange, refusal: Refusal) -> Report:
    body = [
        f"What: {RESPONDER} did not act on {change.rule} in account {change.account}: {refusal.reason}.",
        f"The finding: {finding_text(change)}",
        f"What to do: {refusal.todo}",
    ]
    return Report(
        REFUSED,
        refusal.reason,
        f"[mamori] {WHAT[change.rule]} in account {change.account}",  # why: in the body (subjects stop at 100)
        "\n\n".join(body),
    )


def act(change: ComplianceChange, caller: Caller, settings: Settings, clients: Clients) -> Report:
    """The checks, then the rule's action. Refusal and errors of the checks become reports too."""
    wanted: SecurityContact | None = None
    try:
        member = check_member(clients("organizations"), change.account)
        if change.rule == SECURITY_CONTACT_RULE:
            wanted = settings.security_contact()
        else:
            check_centralized_root_access(clients("iam"))
    except Refusal as refusal:
        return refusal_report(change, refusal)
    except botocore.exceptions.ClientError as error:
        return Report(
            FAILED,
            f"checking {change.account} failed: {error_text(error)}",
            f"[mamori] FAILED to check member account {change.account} for {change.rule}",
            f"What: {RESPONDER} could not check account {change.account} before acting on {change.rule}: "
            f"{error_text(error)}. Nothing was changed.\n\nThe finding: {finding_text(change)}\n\nWhat to do: {RETRIES}",
        )
    if wanted is not None:
        return set_security_contact(clients("account"), clients("ssm"), change, member, wanted, caller, settings)
    try:
        credentials = assume_root(clients("sts"), member.account, caller)
    except botocore.exceptions.ClientError as error:
        return Report(
            FAILED,
            f"sts:AssumeRoot into {member.account} failed: {error_text(error)}",
            f"[mamori] FAILED to open a root session in member account {member.account} for {change.rule}",
            f"What: {RESPONDER} could not open a root session in member account {member.describe()} "
            f"(sts:AssumeRoot, task policy IAMDeleteRootUserCredentials): {error_text(error)}. Nothing was changed.\n\n"
            f"The finding: {finding_text(change)}\n\n"
            f"What to do: {RETRIES} Check that the responder's role may call sts:AssumeRoot with that task policy, that "
            "no SCP denies it, and that centralized root access covers the account.",
        )
    root_iam = clients.root_iam(credentials)
    if change.rule == ROOT_ACCESS_KEY_RULE:
        return remove_root_access_keys(root_iam, clients("ssm"), change, member, caller, settings)
    return remove_root_password(root_iam, clients("ssm"), change, member, caller, settings)


def message_store(settings: Settings, clients: Clients) -> deduplication.Deduplication | None:
    if not (settings.deduplication_table and settings.deduplication_owner):
        return None
    return deduplication.Deduplication(clients("dynamodb"), settings.deduplication_table, settings.deduplication_owner)


def ignored(reason: str, event: Any) -> dict[str, Any]:
    LOG.info("Ignored: %s: %s", reason, json.dumps(event, default=str)[:500])
    return {"acted": False, "status": IGNORED, "reason": reason}


def respond(event: Any, caller: Caller, settings: Settings, clients: Clients) -> dict[str, Any]:
    """Read the event, act, publish what happened; raise after publishing when the action failed
    (the failure then shows in the Lambda's metrics, and Lambda retries)."""
    try:
        change = read_event(event)
    except Ignored as error:
        return ignored(str(error), event)
    if change.account == caller.account:
        return ignored(f"{change.account} is this responder's own account: its own mamori stack remediates it", event)
    if change.exposed_keys and not settings.responds_to_leaked_keys():
        return ignored(f"exposed key of {change.account}: LeakedKeyResponse is false", event)
    if change.rule == ROOT_MFA_RULE and not settings.removes_root_passwords():
        return ignored(f"{ROOT_MFA_RULE} in {change.account}: CentralRootPasswordRemoval is false", event)

    try:
        report = act(change, caller, settings, clients)
    except Exception as error:  # anything unforeseen still reaches a person before the Lambda fails
        report = Report(
            FAILED,
            f"unexpected {error_text(error)}",
            f"[mamori] FAILED to act on {change.rule} in account {change.account}",
            f"What: {RESPONDER} failed on {change.rule} in account {change.account}: {error_text(error)}.\n\n"
            f"The finding: {finding_text(change)}\n\nWhat to do: {RETRIES} Its log says how far it got.",
        )
    LOG.info("%s %s in %s: %s", report.status, change.rule, change.account, report.summary)
    told = False
    if report.subject:
        told = deduplication.publish_once(
            # A change made in a member is always told; the rest once per window.
            None if report.status == REMEDIATED else message_store(settings, clients),
            f"{change.account}#{change.rule}#{report.status}",
            WINDOW,
            central_actions.utc_now(),
            lambda: clients("sns").publish(
                TopicArn=settings.topic_arn,
                Subject=subject_line(report.subject),
                Message=messages.signed(report.body, settings.topic_arn),
            ),
        )
    if report.status == FAILED:
        raise RuntimeError(f"{change.rule} in {change.account}: {report.summary}")
    return {
        "acted": report.status == REMEDIATED,
        "status": report.status,
        "rule": change.rule,
        "account": change.account,
        "reason": report.summary,
        "record": report.record,
        "subject": subject_line(report.subject) if report.subject else "",
        "told": told,
    }
