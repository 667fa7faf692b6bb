"""OpsCenter work items for findings only a person can fix, opened once per finding.

One finding (a rule and a resource) has at most one open OpsItem: before creating one,
look for an open OpsItem carrying the finding's key in its operational data
(`mamori:finding`); the same key is the OpsItem's `/aws/dedup` string, so that two runs
racing each other still open one item (Systems Manager refuses a duplicate of an Open or
InProgress OpsItem with OpsItemAlreadyExistsException). A resolved OpsItem does not count:
if the finding comes back, a new one is opened. Botocore only: remediation scripts inline it.
"""

import json
from collections.abc import Mapping
from typing import Any

import botocore.exceptions

FINDING_DATA_KEY = "mamori:finding"
OPS_ITEM_SOURCE = "mamori"
OPEN_STATUSES = frozenset({"Open", "InProgress"})
DESCRIPTION_LIMIT = 2048
TITLE_LIMIT = 1024


def finding_key(rule_id: str, resource_id: str) -> str:
    return f"mamori/{rule_id}/{resource_id}"


def find_open_ops_item(ssm: Any, key: str) -> str | None:
    """The id of an Open or InProgress OpsItem for this finding, or None."""
    wanted = json.dumps({"key": FINDING_DATA_KEY, "value": key}, separators=(",", ":"))
    for page in ssm.get_paginator("describe_ops_items").paginate(
        OpsItemFilters=[{"Key": "OperationalData", "Values": [wanted], "Operator": "Equal"}]
    ):
        for summary in page.get("OpsItemSummaries", []):
            if summary.get("Status") in OPEN_STATUSES:
                return str(summary["OpsItemId"])
    return None


def open_ops_item(
    ssm: Any,
    key: str,
    title: str,
    description: str,
    extra_data: Mapping[str, str] | None = None,
    severity: str = "1",
    priority: int = 1,
) -> tuple[str, bool]:
    """(OpsItem id, whether this call created it). Creates an OpsItem for the finding unless
    Systems Manager already holds an open one with the same dedup string."""
    data = {
        "/aws/dedup": {"Type": "SearchableString", "Value": json.dumps({"dedupString": key})},
        FINDING_DATA_KEY: {"Type": "SearchableString", "Value": key},
    }
    for name, value in (extra_data or {}).items():
        data[name] = {"Type": "String", "Value": value}
    try:
        created = ssm.create_ops_item(
            Title=title[:TITLE_LIMIT],
            Description=description[:DESCRIPTION_LIMIT],
            Source=OPS_ITEM_SOURCE,
            Category="Security",
            Severity=severity,
            Priority=priority,
            OperationalData=data,
        )
    except botocore.exceptions.ClientError as error:
        response: Mapping[str, Any] = error.response  # the modelled error's OpsItemId sits beside "Error"
        if response["Error"]["Code"] == "OpsItemAlreadyExistsException" and response.get("OpsItemId"):
            return str(response["OpsItemId"]), False
        raise
    return str(created["OpsItemId"]), True


def open_and_notify(
    ssm: Any,
    sns: Any,
    topic_arn: str,
    key: str,
    title: str,
    description: str,
    dry_run: bool,
    extra_data: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Open the finding's OpsItem and notify the topic, once: an OpsItem already open for the
    finding means a person was told already, so nothing is opened or sent again. Returns the
    automation outputs Status (NOTIFIED, ALREADY_OPEN, DRY_RUN), Message and OpsItemId.

    The OpsItem comes first, so the notification can name it; if publishing then fails, the
    automation fails loudly (the OpsItem stays open, and the compliance-change notifier has
    told the topic about the finding anyway)."""
    existing = find_open_ops_item(ssm, key)
    if existing is not None:
        return {
            "Status": "ALREADY_OPEN",
            "Message": f"OpsItem {existing} is already open for {key}; opened and notified nothing new.",
            "OpsItemId": existing,
        }
    if dry_run:
        return {
            "Status": "DRY_RUN",
            "Message": f"Would open an OpsItem for {key} and notify {topic_arn}: {title}. Changed nothing.",
            "OpsItemId": "",
        }
    ops_item_id, created = open_ops_item(ssm, key, title, description, extra_data)
    if not created:
        return {
            "Status": "ALREADY_OPEN",
            "Message": f"OpsItem {ops_item_id} is already open for {key} (Systems Manager deduplicated it); notified nothing.",
            "OpsItemId": ops_item_id,
        }
    subject = f"[mamori] ACTION NEEDED: {title}"
    if len(subject) > 99 or not subject.isascii():
        subject = subject.encode("ascii", "replace").decode("ascii")[:96] + "..."
    try:
        sns.publish(TopicArn=topic_arn, Subject=subject, Message=f"{description}\n\nOpsItem: {ops_item_id}")
    except botocore.exceptions.ClientError as error:
        raise RuntimeError(f"Opened OpsItem {ops_item_id} for {key}, but could not notify {topic_arn}: {error}") from error
    return {
        "Status": "NOTIFIED",
        "Message": f"Opened OpsItem {ops_item_id} for {key} and notified {topic_arn}.",
        "OpsItemId": ops_item_id,
    }
