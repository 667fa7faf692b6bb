"""mamori-open-proxy-ports: revoke exactly the inbound entries that let the internet reach a
proxy port, after re-reading the live group with the rule's own decision.

A wide entry (tcp 0-65535, or all traffic) is narrowed, not lost: the ports other than the
proxy ports are authorized again for the same source before the wide entry is revoked.
What was revoked and added is recorded (automation output, the group's `mamori:remediated`
tag, and /mamori/open-proxy-ports/<group-id> in Parameter Store) for the restore document:
each entry once, however often it came back, so the record stays small.

A group tagged mamori:exempt is skipped, unless AbuseReport names an AWS abuse report (the
abuse responder passes it): then the account is at stake, the exemption is overridden and the
Message says so. Whoever starts the document can only close proxy ports with it, as the rule
would, so the parameter widens nothing.
"""

import re
from dataclasses import dataclass
from typing import Any

import boto3

from mamori.automation import entries_text, timestamp
from mamori.deployed_rule import ReadsDeployedRule
from mamori.exemption import ABUSE_CODE_PATTERN, EVENT_ARN_PATTERN, Exemptible
from mamori.exposure import (
    DEFAULT_PROXY_PORTS,
    Entry,
    RevocationPlan,
    describe_entry,
    describe_exposure,
    entry_from_record,
    entry_to_record,
    find_exposures,
    format_ports,
    parse_proxy_ports,
    parse_trusted,
    plan_revocation,
    referenced_prefix_lists,
)
from mamori.prefix_lists import resolve_customer_prefix_lists
from mamori.records import REMEDIATED_TAG, Record, capped, fits
from mamori.remediation import Nothing, Plan, Remediation, run_remediation
from mamori.security_groups import GROUP_ID_PATTERN, authorize_entries, describe_group, live_entries, revoke_rules


@dataclass
class Group:
    description: dict[str, Any]
    keep_open_failures: list[str]


class RevokeProxyExposure(Exemptible, ReadsDeployedRule, Remediation[Group]):
    paired_rule = "mamori-open-proxy-ports"
    remediation_id = "open-proxy-ports"
    resource_input = "GroupId"
    resource_pattern = GROUP_ID_PATTERN
    list_outputs = ("Revoked", "KeptOpen", "Dropped")

    def read_parameters(self) -> None:
        # The deployed rule's ProxyPorts and TrustedCidrs (mamori.deployed_rule says why not document parameters).
        deployed = self.rule_parameters()
        self.proxy_ports = parse_proxy_ports(deployed.get("ProxyPorts") or format_ports(DEFAULT_PROXY_PORTS))
        self.trusted = parse_trusted(deployed.get("TrustedCidrs") or "")
        self.abuse_report = str(self.events.get("AbuseReport") or "").strip()
        if self.abuse_report and not re.fullmatch(f"{EVENT_ARN_PATTERN}|{ABUSE_CODE_PATTERN}", self.abuse_report):
            raise ValueError(f"AbuseReport must be an AWS Health event ARN or an AWS_ABUSE_ code, got {self.abuse_report!r}")
        self.ec2 = boto3.client("ec2")

    def exemption_override(self) -> str | None:
        if not self.abuse_report:
            return None
        return f"AWS reported abuse ({self.abuse_report}) and the account is at stake, so the exemption does not hold"

    def find(self) -> Group | None:
        group = describe_group(self.ec2, self.resource_id)
        return Group(group, []) if group is not None else None

    def not_found_message(self) -> str:
        return f"{self.resource_id} no longer exists; nothing to do."

    def tags(self, target: Group) -> object:
        return target.description.get("Tags")

    def plan(self, target: Group) -> Plan | Nothing:
        entries = live_entries(self.ec2, self.resource_id)
        prefix_lists = resolve_customer_prefix_lists(self.ec2, referenced_prefix_lists(entries))
        exposures = find_exposures(entries, self.proxy_ports, self.trusted, prefix_lists)
        if not exposures:
            return Nothing(f"No proxy port of {self.resource_id} is open to the internet.")
        revocation = plan_revocation(exposures, self.proxy_ports, entries)
        described = [describe_exposure(exposure) for exposure in exposures]
        return Plan(
            changes=[f"revoke {text}" for text in described],
            data=revocation,
            outputs={
                "Revoked": described,
                "KeptOpen": [describe_entry(entry) for entry in revocation.keep_open],
                "Dropped": list(revocation.dropped),
            },
        )

    def dry_run_message(self, target: Group, plan: Plan) -> str:
        return f"Would revoke {entries_text(len(plan.data.revoke))} of {self.resource_id}; changed nothing."

    def record(self, target: Group, plan: Plan, previous: Record | None) -> dict[str, Any]:
        """Only what the restore needs, each entry once however often it was revoked (a rule that
        infrastructure as code re-adds must not grow the record: finding 3 of issue 10), and the
        HISTORY_LIMIT latest runs for people. Descriptions go first if it still does not fit."""
        revocation: RevocationPlan = plan.data
        earlier = previous.changed if previous else {}
        changed = {
            "revoked": _entries(earlier.get("revoked"), revocation.revoke),
            "authorized": _entries(earlier.get("authorized"), revocation.keep_open),
            "history": capped(
                earlier.get("history") or [],
                {
                    "at": timestamp(self.now),
                    "revoked": len(revocation.revoke),
                    "authorized": len(revocation.keep_open),
                    "dropped": list(revocation.dropped),
                },
            ),
        }
        for shrink in (_fewer_history, _without_descriptions):
            if fits(Record(self.remediation_id, self.resource_id, self.document, timestamp(self.now), changed)):
                break
            changed = shrink(changed)
        return changed

    def apply(self, target: Group, plan: Plan) -> None:
        revocation: RevocationPlan = plan.data
        target.keep_open_failures = authorize_entries(
            self.ec2, self.resource_id, revocation.keep_open, [entry.source.description for entry in revocation.keep_open]
        )
        revoke_rules(self.ec2, self.resource_id, [entry.rule_id for entry in revocation.revoke if entry.rule_id])

    def tag_summary(self, target: Group, plan: Plan) -> str:
        return "revoked " + " + ".join(plan.outputs["Revoked"])

    def write_tag(self, target: Group, value: str) -> None:
        self.ec2.create_tags(Resources=[self.resource_id], Tags=[{"Key": REMEDIATED_TAG, "Value": value}])

    def still_wrong(self, target: Group, plan: Plan) -> str | None:
        wrong = super().still_wrong(target, plan)
        if wrong is None and target.keep_open_failures:
            return (
                "revoked the proxy exposure, but could not keep these open: "
                + "; ".join(target.keep_open_failures)
                + ". mamori-open-proxy-ports-restore puts the original entries back"
            )
        return wrong

    def done_message(self, target: Group, plan: Plan) -> str:
        revoked = entries_text(len(plan.data.revoke))
        return f"Revoked {revoked} of {self.resource_id}; recorded at {self.record_path}."


def _entries(earlier: object, new: tuple[Entry, ...]) -> list[dict[str, object]]:
    """The recorded entries and the new ones, each entry once (the latest description wins)."""
    kept: dict[Entry, dict[str, object]] = {}
    for item in [*(earlier if isinstance(earlier, list) else []), *(entry_to_record(entry) for entry in new)]:
        kept.pop(entry_from_record(item), None)
        kept[entry_from_record(item)] = item
    return list(kept.values())


def _fewer_history(changed: dict[str, Any]) -> dict[str, Any]:
    return {**changed, "history": changed["history"][-1:]}


def _without_descriptions(changed: dict[str, Any]) -> dict[str, Any]:
    """The restore then puts the entries back without their descriptions (and says so)."""
    bare = {key: [{**item, "description": ""} for item in changed[key]] for key in ("revoked", "authorized")}
    return {**changed, **bare, "descriptionsDropped": True}


def handler(events: dict[str, Any], context: Any) -> dict[str, Any]:
    return run_remediation(RevokeProxyExposure(events))
