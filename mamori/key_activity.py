"""What an access key did lately, as CloudTrail's event history can tell: read-only and bounded.

LookupEvents filters by AccessKeyId (one of its eight lookup attributes) and answers at most 50
events per call (CloudTrail API Reference, LookupEvents: MaxResults 1-50; 2 requests per second
per account and region). The history is regional, so mamori asks at most two regions, one call
each: its own, and the region where IAM says the key was last used (GetAccessKeyLastUsed).
What it finds is a summary for a person (counts by action, where from, when), not an audit: the
message says where the rest is.

Standard library and botocore only.
"""

import collections
import datetime
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import botocore.exceptions

from mamori.automation import timestamp
from mamori.aws_api import error_text

EVENTS_PER_CALL = 50  # LookupEvents' MaxResults maximum
LOOKBACK = datetime.timedelta(days=7)
TOP = 8  # actions and addresses named in the summary


@dataclass
class RegionActivity:
    region: str
    events: list[Mapping[str, Any]] = field(default_factory=list)
    truncated: bool = False  # more events than one call returns
    error: str = ""


@dataclass
class KeyActivity:
    key_id: str
    since: datetime.datetime
    regions: list[RegionActivity] = field(default_factory=list)

    @property
    def events(self) -> list[Mapping[str, Any]]:
        return [event for region in self.regions for event in region.events]

    def summary(self) -> str:
        """A few lines for the OpsItem and the message."""
        asked = ", ".join(region.region for region in self.regions)
        failed = [f"{region.region}: {region.error}" for region in self.regions if region.error]
        events = self.events
        lines = []
        if not events:
            lines.append(f"CloudTrail event history ({asked}, since {timestamp(self.since)}) shows no call with this key.")
        else:
            times = sorted(moment for moment in (_time(event) for event in events) if moment is not None)
            span = f"{timestamp(times[0])} to {timestamp(times[-1])}" if times else "unknown times"
            more = " (the latest 50 per region; more in the console)" if any(r.truncated for r in self.regions) else ""
            lines.append(f"CloudTrail event history ({asked}): {len(events)} calls with this key, {span}{more}.")
            lines.append("Actions: " + _counted(str(event.get("EventName", "?")) for event in events))
            sources = [source for source in (_detail(event).get("sourceIPAddress") for event in events) if source]
            if sources:
                lines.append("From: " + _counted(str(source) for source in sources))
            regions = [region for region in (_detail(event).get("awsRegion") for event in events) if region]
            if regions:
                lines.append("Regions: " + _counted(str(region) for region in regions))
            denied = sum(1 for event in events if _detail(event).get("errorCode"))
            if denied:
                lines.append(f"{denied} of them failed (errorCode set: denied or invalid).")
        if failed:
            lines.append("Could not read CloudTrail in " + "; ".join(failed) + ".")
        lines.append(
            "Other regions and data events are not looked at: CloudTrail console > Event history, filter "
            f"'AWS access key' = {self.key_id}, in each region."
        )
        return "\n".join(lines)


def _counted(values: Iterable[str]) -> str:
    counts = collections.Counter(values)
    shown = ", ".join(f"{name} x{count}" for name, count in counts.most_common(TOP))
    return shown + (f", and {len(counts) - TOP} more" if len(counts) > TOP else "")


def _time(event: Mapping[str, Any]) -> datetime.datetime | None:
    moment = event.get("EventTime")
    if isinstance(moment, datetime.datetime):
        return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)
    return None


def _detail(event: Mapping[str, Any]) -> Mapping[str, Any]:
    """The CloudTrailEvent JSON of a LookupEvents event ({} when it cannot be read)."""
    try:
        value = json.loads(str(event.get("CloudTrailEvent") or "{}"))
    except ValueError:
        return {}
    return value if isinstance(value, Mapping) else {}


def key_activity(cloudtrail_in: Callable[[str], Any], key_id: str, regions: Sequence[str], now: datetime.datetime) -> KeyActivity:
    """One LookupEvents call per region (distinct, in order), filtered by the key. A failed call
    is said in the summary, never raised: the containment does not depend on it."""
    activity = KeyActivity(key_id, now - LOOKBACK)
    for region in dict.fromkeys(regions):
        found = RegionActivity(region)
        try:
            answer = cloudtrail_in(region).lookup_events(
                LookupAttributes=[{"AttributeKey": "AccessKeyId", "AttributeValue": key_id}],
                StartTime=activity.since,
                EndTime=now,
                MaxResults=EVENTS_PER_CALL,
            )
        except botocore.exceptions.ClientError as error:
            found.error = error_text(error)
        else:
            found.events = list(answer.get("Events") or [])
            found.truncated = bool(answer.get("NextToken"))
        activity.regions.append(found)
    return activity
