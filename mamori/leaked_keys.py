"""AWS Health's exposed-credentials event, read into one typed report, and the containment of an
IAM user's exposed access key on the remediation kernel.

The forgotten root key of the incident leaked and ran miners for days; AWS had told the account
at once. AWS scans public code for access keys and, on a find, sends the AWS Health event
`AWS_RISK_CREDENTIALS_EXPOSED` (service `RISK`, detail-type `AWS Health Event`) naming the key.

The shape is AWS's published sample (aws/aws-health-tools,
automated-actions/AWS_RISK_CREDENTIALS_EXPOSED/README.md, "Testing the Example"):

    {"version": "0", "id": "121345678-1234-1234-1234-123456789012",
     "detail-type": "AWS Health Event", "source": "aws.health", "account": "123456789012",
     "time": "2016-06-05T06:27:57Z", "region": "us-east-1", "resources": [],
     "detail": {"eventArn": "arn:aws:health:us-east-1::event/AWS_RISK_CREDENTIALS_EXPOSED_XXXXXXXXXXXXXXXXX",
                "service": "RISK", "eventTypeCode": "AWS_RISK_CREDENTIALS_EXPOSED",
                "eventTypeCategory": "issue", "startTime": "Sat, 05 Jun 2016 15:10:09 GMT",
                "eventDescription": [{"language": "en_US", "latestDescription": "..."}],
                "affectedEntities": [{"entityValue": "ACCESS_KEY_ID_HERE"}]}}

In organizational views `detail.affectedAccount` names the member whose key it is, and `account`
the account the event was delivered to (as for abuse events, mamori.abuse_events).

An IAM user's key is deactivated (never deleted) by `DeactivateExposedKey`, a remediation on the
kernel that keeps the stale-access-keys remediation's record (/mamori/stale-access-keys/<user id>,
the same entry shape) and tag, so that mamori-stale-access-keys-restore reactivates it.
"""

import datetime
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import botocore.exceptions

from mamori.abuse_events import parse_time
from mamori.access_keys import deactivation_record, list_key_metadata
from mamori.automation import timestamp
from mamori.aws_api import ACCOUNT_ID, error_code
from mamori.iam_user_remediation import IamUserRemediation
from mamori.iam_users import IamUser, as_utc
from mamori.records import Record
from mamori.remediation import Nothing, Plan

SOURCE = "aws.health"
DETAIL_TYPE = "AWS Health Event"
SERVICE = "RISK"
CODE = "AWS_RISK_CREDENTIALS_EXPOSED"
# IAM's AccessKeyId: 16 to 128 word characters (IAM API Reference, AccessKeyMetadata); a long-term
# key, which is what AWS finds in public code, starts with AKIA.
KEY_ID = re.compile(r"^AKIA[A-Z0-9]{12,124}$")
# The kernel's record and restore of an IAM user's deactivated keys.
RECORDING_REMEDIATION = "stale-access-keys"
RESPONDER = "mamori-leaked-key-responder"


class NotAnExposedKeyEvent(ValueError):
    """The event is not an exposed-credentials event that can be read; str() says why."""


@dataclass(frozen=True)
class ExposedKeyReport:
    event_id: str  # EventBridge's id, for the log
    event_arn: str  # detail.eventArn: one per exposure, the case's key
    affected_account: str  # detail.affectedAccount, else the account the event was delivered to
    delivered_to_account: str | None
    received: datetime.datetime | None  # the earliest of detail.startTime and time
    key_ids: tuple[str, ...]
    descriptions: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()  # entities that name no access key

    @property
    def description(self) -> str:
        return " ".join(self.descriptions) or "AWS found the key in a public place (see the AWS Health Dashboard)."


def _event_id(event: Mapping[str, Any]) -> str:
    value = event.get("id")
    return value if isinstance(value, str) and value else "(no id)"


def parse_exposed_key_event(event: object) -> ExposedKeyReport:
    """The report an EventBridge event carries; NotAnExposedKeyEvent (with the reason) for any
    other event and for one that names no account or no access key."""
    if not isinstance(event, Mapping):
        raise NotAnExposedKeyEvent(f"the event is a {type(event).__name__}, not a JSON object")
    if event.get("source") != SOURCE or event.get("detail-type") != DETAIL_TYPE:
        raise NotAnExposedKeyEvent(
            f"source {event.get('source')!r} / detail-type {event.get('detail-type')!r} is not {SOURCE} / {DETAIL_TYPE}"
        )
    detail = event.get("detail")
    if not isinstance(detail, Mapping):
        raise NotAnExposedKeyEvent("the event has no detail object")
    if detail.get("eventTypeCode") != CODE:
        raise NotAnExposedKeyEvent(f"detail.eventTypeCode {detail.get('eventTypeCode')!r} is not {CODE}")
    delivered = event.get("account") if isinstance(event.get("account"), str) else None
    affected = detail.get("affectedAccount", delivered)
    if not (isinstance(affected, str) and ACCOUNT_ID.match(affected)):
        raise NotAnExposedKeyEvent(f"the affected account {affected!r} is not an account id")
    arn = detail.get("eventArn")
    if not isinstance(arn, str) or not arn.startswith("arn:"):
        raise NotAnExposedKeyEvent(f"detail.eventArn {arn!r} is not an ARN")
    entities = detail.get("affectedEntities")
    if not isinstance(entities, list):
        raise NotAnExposedKeyEvent("detail.affectedEntities is not a list")
    keys: list[str] = []
    problems: list[str] = []
    for entity in entities:
        value = entity.get("entityValue") if isinstance(entity, Mapping) else entity
        if isinstance(value, str) and KEY_ID.match(value.strip()):
            keys.append(value.strip())
        else:
            problems.append(f"affected entity {str(value)[:80]!r} is not an access key id")
    if not keys:
        raise NotAnExposedKeyEvent("the event names no access key id" + (f" ({'; '.join(problems)})" if problems else ""))
    descriptions = detail.get("eventDescription")
    texts = tuple(
        item["latestDescription"].strip()
        for item in (descriptions if isinstance(descriptions, list) else [])
        if isinstance(item, Mapping) and isinstance(item.get("latestDescription"), str) and item["latestDescription"].strip()
    )
    times = [moment for moment in (parse_time(detail.get("startTime")), parse_time(event.get("time"))) if moment]
    return ExposedKeyReport(
        event_id=_event_id(event),
        event_arn=arn,
        affected_account=affected,
        delivered_to_account=delivered,
        received=min(times) if times else None,
        key_ids=tuple(dict.fromkeys(keys)),
        descriptions=texts,
        problems=tuple(problems),
    )


def event_id_of(event: object) -> str:
    """The event's id for a log line, whatever the event is."""
    return _event_id(event) if isinstance(event, Mapping) else "(no id)"


# --- whose key it is -------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyOwner:
    """What IAM says about the key: the user that owns it (None: no IAM user of this account),
    and its last use (GetAccessKeyLastUsed)."""

    key_id: str
    user_name: str | None
    last_used: datetime.datetime | None = None
    last_used_region: str | None = None
    last_used_service: str | None = None

    def last_use_text(self) -> str:
        if self.last_used is None:
            return "never used (or not since IAM began tracking)"
        region = f"in {self.last_used_region}" if self.last_used_region else None
        where = " ".join(part for part in (self.last_used_service, region) if part)
        return f"last used {timestamp(self.last_used)}" + (f" ({where})" if where else "")


def _known(value: Any) -> str | None:
    """IAM says "N/A" for a key never used."""
    return value if isinstance(value, str) and value and value != "N/A" else None


def key_owner(iam: Any, key_id: str) -> KeyOwner:
    """GetAccessKeyLastUsed names the IAM user that owns the key (its answer has no user for a
    key of no IAM user). A key IAM does not know (deleted since) is NoSuchEntity: an owner None."""
    try:
        answer = iam.get_access_key_last_used(AccessKeyId=key_id)
    except botocore.exceptions.ClientError as error:
        if error_code(error) in ("NoSuchEntity", "NoSuchEntityException"):
            return KeyOwner(key_id, None)
        raise
    used = answer.get("AccessKeyLastUsed") or {}
    return KeyOwner(
        key_id,
        _known(answer.get("UserName")),
        as_utc(used.get("LastUsedDate")),
        _known(used.get("Region")),
        _known(used.get("ServiceName")),
    )


def root_has_access_keys(iam: Any) -> bool:
    """GetAccountSummary's AccountAccessKeysPresent: whether the root user has an access key."""
    return bool(iam.get_account_summary()["SummaryMap"].get("AccountAccessKeysPresent"))


# --- containing an IAM user's key ------------------------------------------------------------


@dataclass(frozen=True)
class LiveUser:
    """The IAM user as GetUser answered it just now: who, and its tags (GetUser returns them)."""

    user: IamUser
    tags: tuple[Mapping[str, str], ...] = ()


def user_of(iam: Any, owner: KeyOwner) -> LiveUser | None:
    """The IAM user GetAccessKeyLastUsed named, read live (GetUser); None when there is none."""
    if owner.user_name is None:
        return None
    try:
        user = iam.get_user(UserName=owner.user_name)["User"]
    except botocore.exceptions.ClientError as error:
        if error_code(error) in ("NoSuchEntity", "NoSuchEntityException"):
            return None
        raise
    found = IamUser(str(user["UserName"]), str(user["UserId"]), str(user["Arn"]), as_utc(user.get("CreateDate")))
    return LiveUser(found, tuple(user.get("Tags") or ()))


class DeactivateExposedKey(IamUserRemediation):
    """Deactivate (never delete) one exposed access key of an IAM user, on the kernel: the user
    as GetUser just read it (with its tags, so its exemption is honoured), the key re-read live,
    recorded first under the stale-access-keys remediation's record (so that
    mamori-stale-access-keys-restore reactivates it), deactivated, the user tagged, the key
    re-read after. It runs in the responder, not as a document: no document parameter lets
    anyone with iam:PassRole deactivate a key by naming it."""

    remediation_id = RECORDING_REMEDIATION
    list_outputs = ("Deactivated",)

    def __init__(self, live: LiveUser, owner: KeyOwner, event_arn: str, iam: Any, ssm: Any) -> None:
        self.live = live
        self.owner = owner
        self.event_arn = event_arn
        self._iam = iam
        self._ssm = ssm
        self.created: datetime.datetime | None = None
        self.live_key_ids: set[str] = set()
        super().__init__({"UserId": live.user.user_id, "DryRun": False})

    def read_parameters(self) -> None:
        self.iam = self._iam
        self._tags = [dict(tag) for tag in self.live.tags]

    @property
    def document(self) -> str:
        return RESPONDER

    @property
    def ssm(self) -> Any:
        return self._ssm

    def find(self) -> IamUser:
        self.outputs["UserName"] = self.live.user.name
        return self.live.user

    def plan(self, target: IamUser) -> Plan | Nothing:
        live = {str(item["AccessKeyId"]): item for item in list_key_metadata(self.iam, target.name)}
        self.live_key_ids = set(live)
        key = live.get(self.owner.key_id)
        if key is None:
            return Nothing(f"{self.owner.key_id} is no longer a key of {target.name} (deleted since): nothing to deactivate.")
        if key.get("Status") != "Active":
            return Nothing(f"{self.owner.key_id} of {target.name} is already inactive: nothing to do.")
        self.created = as_utc(key.get("CreateDate"))
        return Plan(
            changes=[f"deactivate {self.owner.key_id} of {target.name} (reported exposed by AWS Health)"],
            outputs={"Deactivated": [self.owner.key_id]},
        )

    def record(self, target: IamUser, plan: Plan, previous: Record | None) -> dict[str, Any]:
        # The record of mamori-stale-access-keys, which its restore reads.
        moment = timestamp(self.now)
        key = {
            "keyId": self.owner.key_id,
            "at": moment,
            "event": self.event_arn,
            "created": timestamp(self.created) if self.created else None,
            "lastUsed": timestamp(self.owner.last_used) if self.owner.last_used else None,
            "reason": f"reported exposed by AWS Health ({CODE})",
        }
        return deactivation_record(previous.changed if previous else {}, target.name, self.live_key_ids, [key], moment)

    def apply(self, target: IamUser, plan: Plan) -> None:
        self.iam.update_access_key(UserName=target.name, AccessKeyId=self.owner.key_id, Status="Inactive")

    def tag_summary(self, target: IamUser, plan: Plan) -> str:
        return f"deactivated {self.owner.key_id}: reported exposed by AWS Health"

    def still_wrong(self, target: IamUser, plan: Plan) -> str | None:
        live = {str(item["AccessKeyId"]): item.get("Status") for item in list_key_metadata(self.iam, target.name)}
        status = live.get(self.owner.key_id)
        return f"{self.owner.key_id} is still {status} after deactivating it" if status == "Active" else None

    def done_message(self, target: IamUser, plan: Plan) -> str:
        return (
            f"Deactivated {self.owner.key_id} of {target.name} (not deleted); recorded at {self.record_path}; "
            f"mamori-stale-access-keys-restore with UserId {target.user_id} reactivates it."
        )
