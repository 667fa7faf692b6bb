"""At most one message per key and window: the same AWS Health event arriving twice (from
us-east-1 and from its backup us-west-2, or delivered twice by EventBridge), or a member account
that flips a rule back to NON_COMPLIANT again and again, tells people once.

The store is the DynamoDB table mamori-deduplication (template/base.yaml, one per account and
region, pay per request): one item per key, `pk` = "<owner>#<key>", `expires` = epoch seconds.
A conditional PutItem claims a key atomically, so two Lambdas handling two copies at the same
moment cannot both win. `expires` is also the table's TTL attribute, which only tidies up (TTL
deletes within days): whether a claim has lapsed is decided by the condition, not by TTL.

Each publisher has its own owner prefix, and its role may write only keys that start with it
(the dynamodb:LeadingKeys condition), so no publisher can silence another's messages.

A failure never loses a message: the key is released when publishing fails after the claim
(the Lambda's retry then tells), and a store that cannot be reached lets the message through.
"""

import datetime
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import botocore.exceptions

from mamori.aws_api import error_code, error_text

LOG = logging.getLogger("mamori")

TABLE_ENVIRONMENT = "DEDUPLICATION_TABLE"  # the table's name, in each publisher's environment
KEY = "pk"
EXPIRES = "expires"
KEY_LIMIT = 512  # DynamoDB takes up to 2,048 bytes; longer keys are hashed, never cut (two would collide)
CONDITION_FAILED = "ConditionalCheckFailedException"


def _epoch(moment: datetime.datetime) -> int:
    return int(moment.timestamp())


@dataclass(frozen=True)
class Deduplication:
    client: Any  # a boto3 DynamoDB client
    table: str
    owner: str  # the publisher's prefix: its role may write only keys that start with "<owner>#"

    def item_key(self, key: str) -> str:
        text = f"{self.owner}#{key}"
        if len(text.encode()) <= KEY_LIMIT:
            return text
        return f"{self.owner}#sha256:{hashlib.sha256(key.encode()).hexdigest()}"

    def claim(self, key: str, window: datetime.timedelta, now: datetime.datetime) -> bool:
        """True when this is the first time within the window (the key is now claimed until
        now + window); False when another run claimed it and its window has not lapsed. True,
        with a log line, when the store cannot be reached: a duplicate is better than silence."""
        try:
            self.client.put_item(
                TableName=self.table,
                Item={KEY: {"S": self.item_key(key)}, EXPIRES: {"N": str(_epoch(now + window))}},
                ConditionExpression="attribute_not_exists(#key) OR #expires <= :now",
                ExpressionAttributeNames={"#key": KEY, "#expires": EXPIRES},
                ExpressionAttributeValues={":now": {"N": str(_epoch(now))}},
            )
        except botocore.exceptions.ClientError as error:
            if error_code(error) == CONDITION_FAILED:
                return False
            LOG.warning("Deduplication store %s unavailable (%s): telling anyway", self.table, error_text(error))
        return True

    def release(self, key: str) -> None:
        """Forget a claim whose message did not go out, so that the retry tells."""
        try:
            self.client.delete_item(TableName=self.table, Key={KEY: {"S": self.item_key(key)}})
        except botocore.exceptions.ClientError as error:
            LOG.warning(
                "Could not release %s in %s (%s): a retry within the window stays silent", key, self.table, error_text(error)
            )


def publish_once(
    deduplication: Deduplication | None,
    key: str,
    window: datetime.timedelta,
    now: datetime.datetime,
    publish: Callable[[], Any],
) -> bool:
    """Run publish() unless key was told within the window; True when it ran. A publish that
    raises releases the claim and raises on."""
    if deduplication is not None and not deduplication.claim(key, window, now):
        LOG.info("Told already within %s: %s", window, key)
        return False
    try:
        publish()
    except Exception:
        if deduplication is not None:
            deduplication.release(key)
        raise
    return True


OWNER_ENVIRONMENT = "DEDUPLICATION_OWNER"  # the key prefix the role may write (mamori.catalog.Deduplicating)


def from_environment(environ: Any, make_client: Callable[..., Any]) -> Deduplication | None:
    """The publisher's store from its environment; None when it has none (then it tells every time)."""
    table, owner = environ.get(TABLE_ENVIRONMENT), environ.get(OWNER_ENVIRONMENT)
    return Deduplication(make_client("dynamodb"), table, owner) if table and owner else None


def health_event_key(event: Any) -> str:
    """What makes two deliveries of an AWS Health event one message: the affected account and
    the communication id, which AWS Health says identifies backup copies and pages of one event
    (AWS Health EventBridge schema, communicationId; each page keeps its own). Without one: the
    event ARN (not unique across accounts), its page and its version (copies carry the same
    time, an update a new one)."""
    detail = event.get("detail") if isinstance(event, dict) else None
    detail = detail if isinstance(detail, dict) else {}
    account = detail.get("affectedAccount") or (event.get("account") if isinstance(event, dict) else None)
    communication = detail.get("communicationId")
    if isinstance(communication, str) and communication:
        return f"health#{account}#{communication}"
    version = detail.get("lastUpdatedTime") or detail.get("startTime")
    return f"health#{account}#{detail.get('eventArn')}#{detail.get('page')}#{version}"
