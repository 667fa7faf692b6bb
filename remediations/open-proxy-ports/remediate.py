"""mamori-open-proxy-ports: revoke exactly the inbound entries that let the internet reach a
proxy port, after re-reading the live group with the rule's own decision.

A wide entry (tcp 0-65535, or all traffic) is narrowed, not lost: the ports other than the
proxy ports are authorized again for the same source before the wide entry is revoked.
What was revoked and added is recorded (automation output, the group's `mamori:remediated`
tag, and /mamori/open-proxy-ports/<group-id> in Parameter Store) for the restore document.
"""

from typing import Any

import boto3

from mamori.automation import entries_text, flag, required_input, timestamp, utc_now
from mamori.exemption import exemption_status
from mamori.exposure import (
    DEFAULT_PROXY_PORTS,
    describe_entry,
    describe_exposure,
    entry_to_record,
    find_exposures,
    format_ports,
    parse_proxy_ports,
    parse_trusted,
    plan_revocation,
    referenced_prefix_lists,
)
from mamori.prefix_lists import resolve_customer_prefix_lists
from mamori.records import REMEDIATED_TAG, load_record, record_path, save_record
from mamori.security_groups import GROUP_ID_PATTERN, authorize_entries, describe_group, live_entries, revoke_rules

REMEDIATION_ID = "open-proxy-ports"


def handler(events: dict[str, Any], context: Any) -> dict[str, Any]:
    group_id = required_input(events, "GroupId", GROUP_ID_PATTERN)
    dry_run = flag(events, "DryRun")
    proxy_ports = parse_proxy_ports(str(events.get("ProxyPorts") or format_ports(DEFAULT_PROXY_PORTS)))
    trusted = parse_trusted(str(events.get("TrustedCidrs") or ""))
    ec2 = boto3.client("ec2")
    result: dict[str, Any] = {"GroupId": group_id, "DryRun": dry_run, "Revoked": [], "KeptOpen": [], "Dropped": []}

    group = describe_group(ec2, group_id)
    if group is None:
        return {**result, "Status": "GROUP_NOT_FOUND", "Message": f"{group_id} no longer exists; nothing to do."}
    now = utc_now()
    exemption = exemption_status(group.get("Tags"), now.date())
    if exemption is not None and exemption.applies:
        return {**result, "Status": "SKIPPED_EXEMPT", "Message": exemption.message}

    def exposures_now() -> tuple[list[Any], list[Any]]:
        entries = live_entries(ec2, group_id)
        prefix_lists = resolve_customer_prefix_lists(ec2, referenced_prefix_lists(entries))
        return entries, find_exposures(entries, proxy_ports, trusted, prefix_lists)

    entries, exposures = exposures_now()
    if not exposures:
        return {**result, "Status": "NOTHING_TO_DO", "Message": f"No proxy port of {group_id} is open to the internet."}

    plan = plan_revocation(exposures, proxy_ports, entries)
    result["Revoked"] = [describe_exposure(exposure) for exposure in exposures]
    result["KeptOpen"] = [describe_entry(entry) for entry in plan.keep_open]
    result["Dropped"] = list(plan.dropped)
    if dry_run:
        return {
            **result,
            "Status": "DRY_RUN",
            "Message": f"Would revoke {entries_text(len(plan.revoke))} of {group_id}; changed nothing.",
        }

    # Record first, so that nothing is lost even if a call below fails half-way.
    path = record_path(REMEDIATION_ID, group_id)
    record = load_record(boto3.client("ssm"), path) or {"groupId": group_id, "changes": []}
    record["changes"].append(
        {
            "at": timestamp(now),
            "revoked": [entry_to_record(entry) for entry in plan.revoke],
            "authorized": [entry_to_record(entry) for entry in plan.keep_open],
            "dropped": list(plan.dropped),
        }
    )
    save_record(boto3.client("ssm"), path, record)

    failures = authorize_entries(ec2, group_id, plan.keep_open, [entry.source.description for entry in plan.keep_open])
    revoke_rules(ec2, group_id, [entry.rule_id for entry in plan.revoke if entry.rule_id])
    summary = f"{timestamp(now)} open-proxy-ports revoked " + "; ".join(result["Revoked"])
    restore_hint = " (restore: mamori-open-proxy-ports-restore)"
    tag_value = summary[: 256 - len(restore_hint)] + restore_hint
    ec2.create_tags(Resources=[group_id], Tags=[{"Key": REMEDIATED_TAG, "Value": tag_value}])

    # Same decision, live state: the remediation fails loudly unless the group is now clean.
    _, remaining = exposures_now()
    if remaining:
        raise RuntimeError(
            f"{group_id} still exposes " + "; ".join(describe_exposure(e) for e in remaining) + " after revocation"
        )
    if failures:
        raise RuntimeError(
            f"Revoked the proxy exposure of {group_id}, but could not keep these open: "
            + "; ".join(failures)
            + f". The record at {path} lets mamori-open-proxy-ports-restore put the original entries back."
        )
    return {
        **result,
        "Status": "REMEDIATED",
        "Message": f"Revoked {entries_text(len(plan.revoke))} of {group_id}; recorded at {path}.",
    }
