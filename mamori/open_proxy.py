"""What mamori-open-proxy-ports needs around the decision (mamori.exposure) to be cheap at
scale: the groups of a region read at once for the periodic sweep, in the shape Config
records (so the sweep and the change trigger decide from the same fields with the same
code), the permissions that can matter, and prefix lists kept for a minute per container.

Not inlined into SSM documents: the remediation re-reads the live group and its prefix lists.
"""

import threading
import time
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from mamori.exposure import ALL_PROTOCOLS, Entry, Source, _port_range, normalize_protocol, ports_reached
from mamori.prefix_lists import resolve_customer_prefix_lists

# DescribeSecurityGroups returns at most 1,000 groups a call (MaxResults 5 to 1,000, EC2 API reference).
GROUPS_PER_PAGE = 1000
# How long a prefix list's entries are trusted between look-ups: a burst of changes to groups
# that use the same list costs one look-up. A list that changes is caught by the next event
# after this, and by the sweep, which always reads the lists afresh.
PREFIX_LIST_SECONDS = 60.0

_NO_SOURCE = Source("ipv4", "")


def reaching_permissions(configuration: Mapping[str, Any], proxy_ports: Sequence[int]) -> dict[str, Any]:
    """The configuration with only the inbound permissions whose protocol and ports reach a
    proxy port. None of the others can be an exposure, so the decision on this is the decision
    on the whole; it is most of the work saved (a typical group opens 80 and 443)."""
    kept = []
    for permission in configuration.get("ipPermissions") or ():
        if not isinstance(permission, Mapping):
            continue
        protocol = normalize_protocol(permission.get("ipProtocol"))
        if protocol != ALL_PROTOCOLS and protocol != "tcp":
            continue
        try:
            low, high = _port_range(protocol, permission.get("fromPort"), permission.get("toPort"), ("fromPort", "toPort"))
        except (TypeError, ValueError):
            kept.append(permission)  # ports it cannot read: the decision says what that means
            continue
        if ports_reached(Entry(protocol, low, high, _NO_SOURCE), proxy_ports):
            kept.append(permission)
    return {**configuration, "ipPermissions": kept}


def _described(items: object, fields: Mapping[str, str]) -> list[dict[str, Any]]:
    """API items ({"CidrIp": …, "Description": …}) with Config's field names ({"cidrIp": …})."""
    if not isinstance(items, list):
        return []
    return [
        {config: item[api] for api, config in fields.items() if item.get(api) is not None}
        for item in items
        if isinstance(item, Mapping)
    ]


# An IpPermission's lists: the EC2 API's name, Config's, and their fields by the same two names
# (Config's: awslabs/aws-config-resource-schema, AWS::EC2::SecurityGroup.properties.json).
_PERMISSION_LISTS = (
    ("IpRanges", "ipv4Ranges", {"CidrIp": "cidrIp", "Description": "description"}),
    ("Ipv6Ranges", "ipv6Ranges", {"CidrIpv6": "cidrIpv6", "Description": "description"}),
    ("PrefixListIds", "prefixListIds", {"PrefixListId": "prefixListId", "Description": "description"}),
    (
        "UserIdGroupPairs",
        "userIdGroupPairs",
        {
            "GroupId": "groupId",
            "GroupName": "groupName",
            "UserId": "userId",
            "VpcId": "vpcId",
            "VpcPeeringConnectionId": "vpcPeeringConnectionId",
            "PeeringStatus": "peeringStatus",
            "Description": "description",
        },
    ),
)


def config_permission(permission: Mapping[str, Any], owner: str | None = None) -> dict[str, Any]:
    """An EC2 API IpPermission as Config records it in ipPermissions, IPv4 sources both as
    `ipRanges` strings and `ipv4Ranges` objects, as Config writes them today. The one
    conversion: the sweep, the abuse case, the read-only scan and the tests' items use it.
    owner: the userId of a group pair that names none (the group's owner)."""
    item: dict[str, Any] = {"ipProtocol": permission.get("IpProtocol")}
    if "FromPort" in permission:
        item["fromPort"] = permission["FromPort"]
    if "ToPort" in permission:
        item["toPort"] = permission["ToPort"]
    for api, config, fields in _PERMISSION_LISTS:
        item[config] = _described(permission.get(api), fields)
    item["ipRanges"] = [source["cidrIp"] for source in item["ipv4Ranges"] if "cidrIp" in source]
    if owner is not None:
        item["userIdGroupPairs"] = [{"userId": owner, **pair} for pair in item["userIdGroupPairs"]]
    return item


def configuration_from_api(group: Mapping[str, Any]) -> dict[str, Any]:
    """A DescribeSecurityGroups group as AWS Config records its configuration (the fields the
    decision reads)."""
    owner = group.get("OwnerId")
    return {
        "groupId": group.get("GroupId"),
        "groupName": group.get("GroupName"),
        "ownerId": owner,
        "vpcId": group.get("VpcId"),
        "ipPermissions": [
            config_permission(permission, owner)
            for permission in group.get("IpPermissions") or ()
            if isinstance(permission, Mapping)
        ],
    }


def security_groups(ec2: Any) -> list[dict[str, Any]]:
    """Every security group of ec2's region, 1,000 a call."""
    pages = ec2.get_paginator("describe_security_groups").paginate(PaginationConfig={"PageSize": GROUPS_PER_PAGE})
    return [group for page in pages for group in page.get("SecurityGroups", [])]


class PrefixListCache:
    """Customer-managed prefix lists' entries per container, each trusted PREFIX_LIST_SECONDS
    (AWS-managed and missing lists are remembered as such, None). One cache per EC2 client:
    a client is one region and one set of credentials."""

    def __init__(self, seconds: float = PREFIX_LIST_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self.clock = clock
        self._lock = threading.Lock()
        self._lists: weakref.WeakKeyDictionary[Any, dict[str, tuple[float, list[str] | None]]] = weakref.WeakKeyDictionary()

    def resolve(self, ec2: Any, prefix_list_ids: Iterable[str]) -> dict[str, list[str]]:
        """{pl-id: cidrs} of the customer-managed lists among prefix_list_ids, as
        resolve_customer_prefix_lists answers, looking up only the lists not seen lately."""
        now = self.clock()
        with self._lock:
            known = self._lists.setdefault(ec2, {})
            wanted = sorted(set(prefix_list_ids))
            stale = [pl for pl in wanted if pl not in known or known[pl][0] <= now]
        if stale:
            found = resolve_customer_prefix_lists(ec2, stale)
            with self._lock:
                for pl in stale:
                    known[pl] = (now + self.seconds, found.get(pl))
        with self._lock:
            return {pl: list(cidrs) for pl in wanted if (cidrs := known[pl][1]) is not None}

    def clear(self) -> None:
        with self._lock:
            self._lists.clear()


PREFIX_LISTS = PrefixListCache()
