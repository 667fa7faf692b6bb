"""Live security-group state and changes (inlined into SSM documents)."""

from collections.abc import Iterable, Sequence
from typing import Any

import botocore.exceptions

from mamori.exposure import Entry, entries_from_rules, to_ip_permission

GROUP_ID_PATTERN = r"sg-[0-9a-f]{8,17}"


def describe_group(ec2: Any, group_id: str) -> dict[str, Any] | None:
    """The group, or None when it no longer exists."""
    try:
        groups = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"]
    except botocore.exceptions.ClientError as error:
        if error.response["Error"]["Code"] in ("InvalidGroup.NotFound", "InvalidGroupId.NotFound"):
            return None
        raise
    return groups[0] if groups else None


def live_entries(ec2: Any, group_id: str) -> list[Entry]:
    paginator = ec2.get_paginator("describe_security_group_rules")
    rules: list[dict[str, Any]] = []
    for page in paginator.paginate(Filters=[{"Name": "group-id", "Values": [group_id]}]):
        rules.extend(page.get("SecurityGroupRules", []))
    return entries_from_rules(rules)


def authorize_entries(ec2: Any, group_id: str, entries: Sequence[Entry], descriptions: Sequence[str | None]) -> list[str]:
    """Authorize each entry; an entry that already exists is fine. Returns the failures."""
    permissions = [to_ip_permission(entry, text) for entry, text in zip(entries, descriptions, strict=True)]
    if not permissions:
        return []
    try:
        ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=permissions)
        return []
    except botocore.exceptions.ClientError:
        # One call for all; on any error (a duplicate among them, a quota) go one by one
        # so that every entry that can be added is, and each failure is named.
        return _one_by_one(ec2, group_id, permissions)


def _one_by_one(ec2: Any, group_id: str, permissions: Iterable[dict[str, object]]) -> list[str]:
    failures = []
    for permission in permissions:
        try:
            ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=[permission])
        except botocore.exceptions.ClientError as error:
            if error.response["Error"]["Code"] != "InvalidPermission.Duplicate":
                failures.append(f"{permission}: {error.response['Error']['Code']}: {error.response['Error']['Message']}")
    return failures


def revoke_rules(ec2: Any, group_id: str, rule_ids: Sequence[str]) -> None:
    if rule_ids:
        ec2.revoke_security_group_ingress(GroupId=group_id, SecurityGroupRuleIds=list(rule_ids))
