"""mamori-leaked-key-responder: AWS Health found an access key of this account in public
(AWS_RISK_CREDENTIALS_EXPOSED); contain it at once and open a case.

The forgotten root key of the incident ran miners in nine regions for days after AWS knew. For
each key the event names:

1. Whose key it is: GetAccessKeyLastUsed names the IAM user (and the key's last use), GetUser
   reads that user live with its tags.
2. An IAM user's key is deactivated (never deleted) in this invocation, on the remediation
   kernel (mamori.leaked_keys.DeactivateExposedKey): recorded first as mamori-stale-access-keys
   records, the user tagged mamori:remediated, the key re-read after;
   mamori-stale-access-keys-restore reactivates it. A user tagged mamori:exempt is left alone,
   and the message says so. With AutoRemediation "false" nothing is changed: people are told.
3. A key of no IAM user while the root user has one (GetAccountSummary) is the root key: only
   root, or the organization's management account through centralized root access, can delete
   it. The message and the OpsItem give the exact steps; in a member account of an organization
   running mamori's organization stack, mamori-central-responder deletes it.
4. A key IAM no longer knows is reported, not an error.
5. What the key did lately, from CloudTrail's event history (mamori.key_activity: read-only, at
   most two LookupEvents calls), goes into one OpsItem per key (deduplicated by the key) and one
   message to the topic.

Only `aws.health` events reach it (EventBridge refuses `aws.` sources from PutEvents). An event
about another account (organizational view) is notified, never acted on. A malformed event is
logged with its id and ignored. A step that fails is said in the message, then raised, so that
Lambda retries and the failure is counted.
"""

import json
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.exceptions

from mamori import automation, leaked_keys
from mamori.abuse_events import format_time, subject_line
from mamori.aws_api import error_text
from mamori.key_activity import KeyActivity, key_activity
from mamori.leaked_keys import DeactivateExposedKey, ExposedKeyReport, KeyOwner, LiveUser
from mamori.messages import signed
from mamori.ops_items import finding_key, open_ops_item
from mamori.remediation import run_remediation
from mamori.status import FAILED, IGNORED, NOT_FOUND, NOTHING_TO_DO, NOTIFIED, REFUSED, REMEDIATED, SKIPPED_EXEMPT

LOG = logging.getLogger("mamori")
LOG.setLevel(logging.INFO)

RESPONDER = leaked_keys.RESPONDER
CASE = "leaked-key"  # the OpsItems' finding key: mamori/leaked-key/<key id>
DESCRIPTION_ROOM = 2048  # CreateOpsItem's Description limit
RESTORE = "mamori-stale-access-keys-restore"


@dataclass
class Case:
    """One exposed key: whose, what mamori did (a mamori.status and one sentence), what it found."""

    key_id: str
    kind: str  # "user", "root", "unknown", or "" when the look-up failed
    status: str
    done: str
    owner: KeyOwner | None = None
    user: LiveUser | None = None
    activity: KeyActivity | None = None
    ops_item: str = ""
    ops_item_new: bool = False
    errors: list[str] = field(default_factory=list)

    @property
    def news(self) -> bool:
        """Whether a person hears something new: a change, a failure, or a case just opened."""
        return self.status in (REMEDIATED, FAILED) or self.ops_item_new or bool(self.errors)


def root_steps(account: str, key_id: str) -> str:
    return (
        f"Only the root user of {account} can deactivate a root access key; the organization's management account "
        "can delete it through centralized root access. Now, as root: sign in at https://console.aws.amazon.com/ with "
        f"the account's email, account menu > Security credentials > Access keys: {key_id} > Actions > Deactivate, "
        "then Delete. Or from the management account: aws sts assume-root --target-principal "
        f"{account} --task-policy-arn arn=arn:aws:iam::aws:policy/root-task/IAMDeleteRootUserCredentials, then with "
        f"those credentials aws iam delete-access-key --access-key-id {key_id}. Give root MFA, and whatever used the "
        "key an IAM role. (In an organization running mamori's organization stack, mamori-central-responder deletes "
        "a member's root key on this same event.)"
    )


def contain(iam: Any, ssm: Any, report: ExposedKeyReport, key_id: str, enforce: bool) -> Case:
    """Whose key it is, and the containment (an IAM user's key) or the steps (root)."""
    try:
        owner = leaked_keys.key_owner(iam, key_id)
        live = leaked_keys.user_of(iam, owner)
        if live is None:
            if leaked_keys.root_has_access_keys(iam):
                return Case(
                    key_id,
                    "root",
                    NOTIFIED,
                    "NOT deleted: it is no IAM user's key and the root user has an access key, so it is the root key. "
                    + root_steps(report.affected_account, key_id),
                    owner,
                )
            return Case(
                key_id, "unknown", NOT_FOUND, "Nothing to contain: no IAM user has this key and root has none (deleted).", owner
            )
        if not enforce:
            return Case(
                key_id,
                "user",
                NOTIFIED,
                f"NOT deactivated: AutoRemediation is false. Deactivate it now: aws iam update-access-key --user-name "
                f"{live.user.name} --access-key-id {key_id} --status Inactive",
                owner,
                live,
            )
        result = run_remediation(DeactivateExposedKey(live, owner, report.event_arn, iam, ssm))
        status, message = str(result["Status"]), str(result["Message"])
        if status == SKIPPED_EXEMPT:
            message = (
                f"NOT deactivated: the user {live.user.name} is tagged mamori:exempt ({message}). An exposed key is "
                f"anyone's: deactivate it by hand unless the exemption is meant to cover this."
            )
        return Case(key_id, "user", status, message, owner, live)
    except (botocore.exceptions.ClientError, RuntimeError) as error:
        # RuntimeError: the kernel found the key still active after the change (it says what it recorded).
        return Case(key_id, "", FAILED, f"FAILED to contain it: {error_text(error)}", errors=[error_text(error)])


def outcome(case: Case) -> str:
    return {
        REMEDIATED: "deactivated",
        NOTHING_TO_DO: "already inactive",
        SKIPPED_EXEMPT: "NOT deactivated (exempt)",
        NOT_FOUND: "no longer exists",
        FAILED: "containment FAILED",
    }.get(case.status, "delete it now" if case.kind == "root" else "deactivate it now")


def case_title(case: Case, account: str) -> str:
    who = f"of IAM user {case.user.user.name}" if case.user else ("of the ROOT user" if case.kind == "root" else "")
    return " ".join(part for part in (f"Exposed access key {case.key_id}", who, f"in {account}: {outcome(case)}") if part)


def case_text(case: Case, report: ExposedKeyReport) -> str:
    received = format_time(report.received) if report.received else "at an unknown time"
    lines = [
        f"What: AWS Health reported access key {case.key_id} of account {report.affected_account} exposed in public "
        f"({leaked_keys.CODE}, {report.event_arn}), received {received}. {report.description}",
        f"Whose: {_whose(case)}",
        f"What mamori did: {case.done}",
    ]
    if case.activity is not None:
        lines.append("What the key did lately:\n" + case.activity.summary())
    lines.append(f"What to do: {_todo(case)}")
    return "\n".join(lines)


def _whose(case: Case) -> str:
    if case.user is not None:
        last = f"; {case.owner.last_use_text()}" if case.owner else ""
        return f"IAM user {case.user.user.name} ({case.user.user.user_id}){last}"
    if case.kind == "root":
        return "the account's root user (no IAM user has this key, and root has an access key)"
    if case.kind == "unknown":
        return "nobody any more: IAM no longer knows this key"
    return "not found out (the look-up failed)"


def _todo(case: Case) -> str:
    if case.kind == "root":
        return "delete the root key as above; then review what it did (above) and resolve this OpsItem."
    if case.status == FAILED:
        return f"{RESPONDER} retries this event up to twice; if it still fails, deactivate the key by hand (IAM console)."
    if case.kind == "user":
        restore = (
            f" If the key must work again after all (it is public: it should not), {RESTORE} with UserId "
            f"{case.user.user.user_id} reactivates it."
            if case.user and case.status == REMEDIATED
            else ""
        )
        return (
            "give the user a new key (or better, a role), update what used the old one, delete the old key, review what "
            f"it did (above, and any changes it made), then resolve this OpsItem.{restore}"
        )
    return "review what the key did (above), then resolve this OpsItem."


def open_case(ssm: Any, case: Case, report: ExposedKeyReport) -> None:
    text = case_text(case, report)
    data = {"mamori:event": report.event_arn}
    if case.activity is not None:
        data["mamori:key-activity"] = case.activity.summary()
    try:
        case.ops_item, case.ops_item_new = open_ops_item(
            ssm,
            finding_key(CASE, case.key_id),
            case_title(case, report.affected_account),
            text[:DESCRIPTION_ROOM],
            data,
        )
    except botocore.exceptions.ClientError as error:
        case.errors.append(f"CreateOpsItem failed: {error_text(error)}")


def message(report: ExposedKeyReport, cases: Sequence[Case]) -> tuple[str, str]:
    if len(cases) == 1:
        root = " (ROOT)" if cases[0].kind == "root" else ""
        subject = f"[mamori] Exposed access key {cases[0].key_id}{root}: {outcome(cases[0])}"
    else:
        done = sum(1 for case in cases if case.status == REMEDIATED)
        subject = f"[mamori] {len(cases)} exposed access keys in {report.affected_account}: {done} deactivated"
    if any(case.errors or case.status == FAILED for case in cases):
        subject = "[mamori] FAILED: " + subject.removeprefix("[mamori] ")
    parts = []
    for case in cases:
        opened = f"OpsItem: {case.ops_item}" if case.ops_item else "OpsItem: not opened (see the error)"
        errors = "\nErrors: " + "; ".join(case.errors) if case.errors else ""
        parts.append(case_text(case, report) + f"\n{opened}{errors}")
    if report.problems:
        parts.append("Could not read: " + "; ".join(report.problems))
    return subject_line(subject), "\n\n".join(parts)


def other_account_message(report: ExposedKeyReport, account: str) -> tuple[str, str]:
    keys = ", ".join(report.key_ids)
    body = (
        f"What: AWS Health reported access key(s) {keys} of account {report.affected_account} exposed in public "
        f"({report.event_arn}). This event reached account {account} through AWS Health's organizational view.\n"
        f"What mamori did here: nothing; it acts only in the account the key belongs to. The mamori stack of "
        f"{report.affected_account} deactivates an IAM user's key; a member's root key is deleted by "
        "mamori-central-responder in the management account.\n"
        f"What to do: if {report.affected_account} runs no mamori stack, deactivate the key there now."
    )
    return subject_line(f"[mamori] Access key exposed in account {report.affected_account}: acted on there, not here"), body


def this_account(context: Any) -> str | None:
    arn = getattr(context, "invoked_function_arn", None)
    parts = arn.split(":") if isinstance(arn, str) else []
    return parts[4] if len(parts) > 4 and parts[4] else None


@dataclass
class Clients:
    """The clients one invocation uses, each made once by `make` (boto3.client): IAM, SSM and SNS
    of the function's region, CloudTrail of any region."""

    make: Callable[..., Any]
    made: dict[tuple[str, str | None], Any] = field(default_factory=dict)

    def __call__(self, service: str, region: str | None = None) -> Any:
        if (service, region) not in self.made:
            self.made[(service, region)] = self.make(service, region_name=region) if region else self.make(service)
        return self.made[(service, region)]


def respond(event: Any, account: str | None, environ: Mapping[str, str], clients: Clients) -> dict[str, Any]:
    try:
        report = leaked_keys.parse_exposed_key_event(event)
    except leaked_keys.NotAnExposedKeyEvent as error:
        LOG.warning("Ignored event %s: %s: %s", leaked_keys.event_id_of(event), error, json.dumps(event, default=str)[:500])
        return {"acted": False, "status": IGNORED, "reason": str(error)}
    topic = environ["TOPIC_ARN"]
    if report.affected_account != account:
        subject, body = other_account_message(report, account or "(unknown)")
        clients("sns").publish(TopicArn=topic, Subject=subject, Message=signed(body, topic))
        LOG.info("Event %s is about account %s, not %s: notified only", report.event_id, report.affected_account, account)
        return {"acted": False, "status": REFUSED, "reason": f"about account {report.affected_account}", "subject": subject}

    iam, region = clients("iam"), environ.get("AWS_REGION", "")
    enforce = environ.get("CONTAIN", "true") == "true"
    # Containment first, every key: the look-ups below only describe.
    cases = [contain(iam, clients("ssm"), report, key_id, enforce) for key_id in report.key_ids]
    now = automation.utc_now()
    for case in cases:
        if case.kind:
            regions = [region] + ([case.owner.last_used_region] if case.owner and case.owner.last_used_region else [])
            case.activity = key_activity(lambda where: clients("cloudtrail", where), case.key_id, regions, now)
        open_case(clients("ssm"), case, report)
    result: dict[str, Any] = {
        "acted": any(case.status == REMEDIATED for case in cases),
        "status": FAILED if any(case.status == FAILED or case.errors for case in cases) else cases[0].status,
        "cases": {case.key_id: {"status": case.status, "ops_item": case.ops_item, "done": case.done} for case in cases},
    }
    if not any(case.news for case in cases):
        # The same exposure again (EventBridge delivers at least once; an update): nothing new to say.
        LOG.info("Event %s: nothing changed and the OpsItems were open already; notified nothing", report.event_id)
        return result | {"subject": ""}
    subject, body = message(report, cases)
    clients("sns").publish(TopicArn=topic, Subject=subject, Message=signed(body, topic))
    LOG.info("Published %r", subject)
    failures = [f"{case.key_id}: {'; '.join(case.errors) or case.done}" for case in cases if case.status == FAILED or case.errors]
    if failures:
        raise RuntimeError(f"{subject}: " + " | ".join(failures))
    return result | {"subject": subject}


def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    return respond(event, this_account(context), os.environ, Clients(boto3.client))
