"""Which inbound security-group entries let the internet reach a proxy port.

One place for the decision, used by the `open-proxy-ports` rule (on Config's configuration
item) and by its remediation (on the live group, re-read with DescribeSecurityGroupRules),
so a stale evaluation never changes a compliant group. Standard library only: this module
is inlined into the SSM documents.
"""

import functools
import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

DEFAULT_PROXY_PORTS: tuple[int, ...] = (1080, 3128, 3129, 8080, 8118, 8888, 9050)

# A public range at least this wide (prefix length at most this) is as good as the
# internet: anyone can rent an address somewhere inside it. 0.0.0.0/1 and 3.0.0.0/8 are;
# 203.0.113.0/24 is not. Wider-than-intended trusted ranges go in TrustedCidrs.
NEAR_WORLD_PREFIX = {4: 8, 6: 16}

# Ranges from which no connection from the internet can come, however wide: every block that
# IANA's special-purpose registries mark not globally reachable ("IANA IPv4 / IPv6
# Special-Purpose Address Registry", Globally Reachable = False), and multicast (IANA's IPv4
# and IPv6 Multicast Address Space registries: a multicast address is never a source, RFC 1112
# and RFC 4291). Left out: blocks with globally reachable parts (192.0.0.0/24 holds 192.0.0.9/32).
# tests/test_exposure.py checks each against Python's ipaddress.
NEVER_INTERNET = tuple(
    ipaddress.ip_network(net)
    for net in (
        "0.0.0.0/8",  # "This network" (RFC 791)
        "10.0.0.0/8",  # Private-Use (RFC 1918)
        "100.64.0.0/10",  # Shared Address Space (RFC 6598)
        "127.0.0.0/8",  # Loopback (RFC 1122)
        "169.254.0.0/16",  # Link Local (RFC 3927)
        "172.16.0.0/12",  # Private-Use (RFC 1918)
        "192.0.2.0/24",  # Documentation TEST-NET-1 (RFC 5737)
        "192.168.0.0/16",  # Private-Use (RFC 1918)
        "198.18.0.0/15",  # Benchmarking (RFC 2544)
        "198.51.100.0/24",  # Documentation TEST-NET-2 (RFC 5737)
        "203.0.113.0/24",  # Documentation TEST-NET-3 (RFC 5737)
        "224.0.0.0/4",  # Multicast (RFC 5771)
        "240.0.0.0/4",  # Reserved (RFC 1112)
        "255.255.255.255/32",  # Limited Broadcast (RFC 919)
        "::/128",  # Unspecified Address (RFC 4291)
        "::1/128",  # Loopback Address (RFC 4291)
        "::ffff:0:0/96",  # IPv4-mapped Address (RFC 4291)
        "64:ff9b:1::/48",  # IPv4-IPv6 Translation, local use (RFC 8215)
        "100::/64",  # Discard-Only Address Block (RFC 6666)
        "2001::/23",  # IETF Protocol Assignments (RFC 2928)
        "2001:db8::/32",  # Documentation (RFC 3849)
        "3fff::/20",  # Documentation (RFC 9637)
        "5f00::/16",  # Segment Routing (SRv6) SIDs (RFC 9602)
        "fc00::/7",  # Unique-Local (RFC 4193)
        "fe80::/10",  # Link-Local Unicast (RFC 4291)
        "ff00::/8",  # Multicast (RFC 4291)
        # Reserved by IETF, never allocated (IANA IPv6 Address Space registry): only 2000::/3 and
        # the blocks above hold addresses anyone uses.
        "::/8",
        "100::/8",
        "200::/7",
        "400::/6",
        "800::/5",
        "1000::/4",
        "4000::/3",
        "6000::/3",
        "8000::/3",
        "a000::/3",
        "c000::/3",
        "e000::/4",
        "f000::/5",
        "f800::/6",
        "fe00::/9",
    )
)

ALL_PROTOCOLS = "-1"
_PROTOCOL_NAMES = {"6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6", "all": ALL_PROTOCOLS}
# Protocols whose permissions reach a TCP port.
_REACHES_TCP = {"tcp", ALL_PROTOCOLS}

IPV4, IPV6, PREFIX_LIST, SECURITY_GROUP = "ipv4", "ipv6", "prefix-list", "security-group"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Source:
    kind: str  # IPV4, IPV6, PREFIX_LIST or SECURITY_GROUP
    value: str  # the CIDR, prefix list id or group id
    description: str = field(default="", compare=False)


@dataclass(frozen=True)
class Entry:
    """One inbound permission with one source: the unit AWS calls a security group rule."""

    protocol: str  # "tcp", "udp", "icmp", "icmpv6", "-1" (all) or an IP protocol number
    from_port: int  # -1 with protocol -1 (all ports)
    to_port: int
    source: Source
    rule_id: str | None = field(default=None, compare=False)  # sgr-…, when read live


@dataclass(frozen=True)
class Trusted:
    """Sources the operator says are never the internet (parameter TrustedCidrs)."""

    networks: tuple[Network, ...] = ()
    prefix_lists: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Exposure:
    entry: Entry
    ports: tuple[int, ...]  # the proxy ports it opens
    via: str  # the internet-wide range (for a prefix list: the entry inside it)


# --- parameters ---------------------------------------------------------------------


# A port 1-65535; ProxyPorts is a comma-separated list of ports and low-high ranges (the
# template's AllowedPattern; whether a range is reversed only the parser can tell).
PORT = r"(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3})"
PORT_ITEM = rf"{PORT}(\s*-\s*{PORT})?"
PROXY_PORTS_PATTERN = rf"^\s*{PORT_ITEM}(\s*,\s*{PORT_ITEM})*\s*$"
# TrustedCidrs: comma-separated IPv4 or IPv6 CIDRs and prefix list ids (pl- and 8 or 17 hex
# digits), or nothing; the parser checks each CIDR.
# A prefix list id: pl- and 8 or 17 hexadecimal digits (EC2 API Reference, ManagedPrefixList).
PREFIX_LIST_ID = r"pl-([0-9a-f]{8}|[0-9a-f]{17})"
TRUSTED_ITEM = r"([0-9]{1,3}(\.[0-9]{1,3}){3}/[0-9]{1,2}|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*/[0-9]{1,3}|" + PREFIX_LIST_ID + ")"
TRUSTED_PATTERN = rf"^\s*$|^\s*{TRUSTED_ITEM}(\s*,\s*{TRUSTED_ITEM})*\s*$"


def parse_proxy_ports(text: str, name: str = "ProxyPorts") -> tuple[int, ...]:
    """'1080, 3128,8000-8100' -> sorted unique ports. ValueError names the parameter."""
    ports: set[int] = set()
    for item in (part.strip() for part in str(text).split(",")):
        if not item:
            continue
        low, dash, high = item.partition("-")
        try:
            if dash and not high.strip():  # "3128-": a range with no end is no port
                raise ValueError(item)
            first, last = int(low), int(high or low)
        except ValueError:
            raise ValueError(f"{name}: {item!r} is not a port or port range (e.g. 3128 or 8000-8100)") from None
        if not 1 <= first <= last <= 65535:
            raise ValueError(f"{name}: {item!r} is outside 1-65535 or its range is reversed")
        ports.update(range(first, last + 1))
    if not ports:
        raise ValueError(f"{name} must name at least one port")
    return tuple(sorted(ports))


def parse_trusted(text: str, name: str = "TrustedCidrs") -> Trusted:
    """Comma-separated CIDRs and prefix list ids that are never the internet."""
    networks: list[Network] = []
    prefix_lists: set[str] = set()
    for item in (part.strip() for part in str(text or "").split(",")):
        if not item:
            continue
        if re.fullmatch(PREFIX_LIST_ID, item):
            prefix_lists.add(item)
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"{name}: {item!r} is neither a CIDR (e.g. 203.0.113.0/24) nor a prefix list id (pl-…)") from None
    return Trusted(tuple(networks), frozenset(prefix_lists))


def format_ports(ports: Sequence[int]) -> str:
    """Inverse of parse_proxy_ports, collapsing runs of three or more: (3128, 3129, 8000, 8001,
    8002) -> '3128,3129,8000-8002'."""
    parts: list[str] = []
    for first, last in _runs(sorted(set(ports))):
        if last - first >= 2:
            parts.append(f"{first}-{last}")
        else:
            parts.extend(str(port) for port in range(first, last + 1))
    return ",".join(parts)


# --- reading the two shapes ------------------------------------------------------------


def normalize_protocol(protocol: object) -> str:
    text = str(protocol).strip().lower() if protocol is not None else ALL_PROTOCOLS
    return _PROTOCOL_NAMES.get(text, text)


class MalformedPermission(ValueError):
    """A permission whose ports are not numbers: AWS never records one; the message names it."""


def _port(value: object, name: str) -> int:
    """A port as Config (an int) or an API (an int, or its digits) writes it."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]{1,5}", value.strip()):
        return int(value)
    raise MalformedPermission(f"{name} {value!r} is not a port number")


def _port_range(protocol: str, from_port: object, to_port: object, names: tuple[str, str]) -> tuple[int, int]:
    if protocol == ALL_PROTOCOLS:
        return -1, -1
    if from_port is None or to_port is None:
        # tcp/udp without ports never comes from AWS; treat as every port (safe side).
        return (0, 65535) if protocol in ("tcp", "udp") else (-1, -1)
    return _port(from_port, names[0]), _port(to_port, names[1])


def entries_from_configuration(configuration: Mapping[str, object]) -> list[Entry]:
    """Inbound entries of a security group as AWS Config records it.

    Config writes IPv4 sources twice over the years: `ipRanges` (a list of strings) and
    `ipv4Ranges` (a list of {cidrIp, description}); either or both may be present.
    """
    entries: list[Entry] = []
    for permission in _list(configuration.get("ipPermissions")):
        if not isinstance(permission, Mapping):
            continue
        protocol = normalize_protocol(permission.get("ipProtocol"))
        low, high = _port_range(protocol, permission.get("fromPort"), permission.get("toPort"), ("fromPort", "toPort"))
        sources: dict[tuple[str, str], Source] = {}
        for cidr in _list(permission.get("ipRanges")):
            if isinstance(cidr, str):
                sources.setdefault((IPV4, cidr), Source(IPV4, cidr))
        for item in _mappings(permission.get("ipv4Ranges")):
            cidr = str(item.get("cidrIp", ""))
            if cidr:
                sources[(IPV4, cidr)] = Source(IPV4, cidr, str(item.get("description") or ""))
        for item in _mappings(permission.get("ipv6Ranges")):
            cidr = str(item.get("cidrIpv6", ""))
            if cidr:
                sources[(IPV6, cidr)] = Source(IPV6, cidr, str(item.get("description") or ""))
        for item in _mappings(permission.get("prefixListIds")):
            pl_id = str(item.get("prefixListId", ""))
            if pl_id:
                sources[(PREFIX_LIST, pl_id)] = Source(PREFIX_LIST, pl_id, str(item.get("description") or ""))
        for item in _mappings(permission.get("userIdGroupPairs")):
            group = str(item.get("groupId", ""))
            if group:
                sources[(SECURITY_GROUP, group)] = Source(SECURITY_GROUP, group, str(item.get("description") or ""))
        entries.extend(Entry(protocol, low, high, source) for source in sources.values())
    return entries


def entries_from_rules(rules: Iterable[Mapping[str, object]]) -> list[Entry]:
    """Inbound entries from EC2 DescribeSecurityGroupRules (the live state)."""
    entries: list[Entry] = []
    for rule in rules:
        if rule.get("IsEgress"):
            continue
        protocol = normalize_protocol(rule.get("IpProtocol"))
        low, high = _port_range(protocol, rule.get("FromPort"), rule.get("ToPort"), ("FromPort", "ToPort"))
        description = str(rule.get("Description") or "")
        referenced = rule.get("ReferencedGroupInfo")
        if rule.get("CidrIpv4"):
            source = Source(IPV4, str(rule["CidrIpv4"]), description)
        elif rule.get("CidrIpv6"):
            source = Source(IPV6, str(rule["CidrIpv6"]), description)
        elif rule.get("PrefixListId"):
            source = Source(PREFIX_LIST, str(rule["PrefixListId"]), description)
        elif isinstance(referenced, Mapping) and referenced.get("GroupId"):
            source = Source(SECURITY_GROUP, str(referenced["GroupId"]), description)
        else:
            continue
        rule_id = rule.get("SecurityGroupRuleId")
        entries.append(Entry(protocol, low, high, source, str(rule_id) if rule_id else None))
    return entries


def referenced_prefix_lists(entries: Iterable[Entry]) -> list[str]:
    return sorted({entry.source.value for entry in entries if entry.source.kind == PREFIX_LIST})


# --- the decision ----------------------------------------------------------------------


# The same blocks merged where they touch (::/8 ... 1000::/4 are ::/3), so that a range made of
# several of them is found inside one.
_NEVER_INTERNET_MERGED = tuple(ipaddress.collapse_addresses(n for n in NEVER_INTERNET if n.version == 4)) + tuple(
    ipaddress.collapse_addresses(n for n in NEVER_INTERNET if n.version == 6)
)


def is_internet(network: Network, trusted: Trusted = Trusted()) -> bool:
    """The whole internet, or a public range so wide it is as good as the internet."""
    for safe in trusted.networks + _NEVER_INTERNET_MERGED:
        if network.version == safe.version and network.subnet_of(safe):  # type: ignore[arg-type]
            return False
    return network.prefixlen <= NEAR_WORLD_PREFIX[network.version]


def ports_reached(entry: Entry, proxy_ports: Sequence[int]) -> tuple[int, ...]:
    if entry.protocol not in _REACHES_TCP:
        return ()
    if entry.protocol == ALL_PROTOCOLS:
        return tuple(proxy_ports)
    return tuple(port for port in proxy_ports if entry.from_port <= port <= entry.to_port)


def internet_range(source: Source, trusted: Trusted, prefix_lists: Mapping[str, Sequence[str]]) -> str | None:
    """The internet-wide range this source lets in, or None.

    Security-group references are never the internet. A prefix list counts only when it is
    customer-managed and was resolved (AWS-managed lists hold AWS service ranges).
    """
    if source.kind in (IPV4, IPV6):
        return source.value if _cidr_is_internet(source.value, trusted) else None
    if source.kind == PREFIX_LIST and source.value not in trusted.prefix_lists:
        for cidr in prefix_lists.get(source.value, ()):
            if _cidr_is_internet(cidr, trusted):
                return cidr
    return None


@functools.lru_cache(maxsize=4096)
def _cidr_is_internet(cidr: str, trusted: Trusted) -> bool:
    """is_internet of a CIDR as written; cached, because the same few sources (0.0.0.0/0, an
    office range) recur in every group and parsing and comparing them is most of the decision."""
    network = _network(cidr)
    return network is not None and is_internet(network, trusted)


def find_exposures(
    entries: Iterable[Entry],
    proxy_ports: Sequence[int],
    trusted: Trusted = Trusted(),
    prefix_lists: Mapping[str, Sequence[str]] | None = None,
) -> list[Exposure]:
    exposures: list[Exposure] = []
    for entry in entries:
        ports = ports_reached(entry, proxy_ports)
        if not ports:
            continue
        via = internet_range(entry.source, trusted, prefix_lists or {})
        if via is not None:
            exposures.append(Exposure(entry, ports, via))
    return exposures


# --- words -----------------------------------------------------------------------------


def describe_entry(entry: Entry) -> str:
    """'tcp 3128 from 0.0.0.0/0', 'all traffic from ::/0'."""
    if entry.protocol == ALL_PROTOCOLS:
        what = "all traffic"
    elif entry.from_port == -1 or entry.from_port == entry.to_port:
        what = f"{entry.protocol} {entry.from_port}" if entry.from_port != -1 else entry.protocol
    else:
        what = f"{entry.protocol} {entry.from_port}-{entry.to_port}"
    return f"{what} from {entry.source.value}"


def describe_exposure(exposure: Exposure) -> str:
    text = describe_entry(exposure.entry)
    if exposure.entry.source.kind == PREFIX_LIST:
        text += f" ({exposure.via})"
    single_port = exposure.entry.protocol == "tcp" and exposure.entry.from_port == exposure.entry.to_port
    if not single_port:
        text += f" [proxy {_short_ports(exposure.ports)}]"
    return text


def annotation(exposures: Sequence[Exposure], limit: int = 256) -> str:
    """'Proxy port open to the internet: tcp 3128 from 0.0.0.0/0; remediation revokes it.'

    Names each offending entry while it fits Config's 256-character limit, then counts the rest.
    """
    head = "Proxy port open to the internet: " if len(exposures) == 1 else "Proxy ports open to the internet: "
    tail = "; remediation revokes it." if len(exposures) == 1 else "; remediation revokes them."
    parts = [describe_exposure(exposure) for exposure in exposures]
    for shown in range(len(parts), 0, -1):
        more = len(parts) - shown
        text = head + "; ".join(parts[:shown]) + (f"; +{more} more" if more else "") + tail
        if len(text) <= limit:
            return text
    return (head + f"{len(parts)} entries" + tail)[:limit]


# --- the narrowest fix -----------------------------------------------------------------


@dataclass(frozen=True)
class RevocationPlan:
    revoke: tuple[Entry, ...]
    # Narrower entries authorized in place of a revoked wide one, so that ports other than
    # the proxy ports stay open to the same source (tcp 0-65535 -> 0-1079, 1081-3127, …).
    keep_open: tuple[Entry, ...]
    # Access that cannot be kept when an all-traffic entry is narrowed.
    dropped: tuple[str, ...]


def plan_revocation(exposures: Sequence[Exposure], proxy_ports: Sequence[int], existing: Iterable[Entry] = ()) -> RevocationPlan:
    """Revoke each exposed entry; keep open, for the same source, what it opened besides the
    proxy ports. A kept entry carries its origin's description, or says what it came from."""
    already = set(existing)
    revoke: list[Entry] = []
    keep: list[Entry] = []
    dropped: list[str] = []
    for exposure in exposures:
        entry = exposure.entry
        revoke.append(entry)
        what = describe_entry(entry).split(" from ")[0]
        note = entry.source.description or f"kept open by mamori (was {what})"
        source = Source(entry.source.kind, entry.source.value, note)
        if entry.protocol == ALL_PROTOCOLS:
            low, high = 0, 65535
            keep.append(Entry("udp", 0, 65535, source))
            keep.append(Entry("icmpv6" if ":" in exposure.via else "icmp", -1, -1, source))
            dropped.append(f"protocols other than tcp, udp and icmp from {entry.source.value}")
        else:
            low, high = entry.from_port, entry.to_port
        closed = [port for port in proxy_ports if low <= port <= high]
        keep.extend(Entry("tcp", first, last, source) for first, last in _gaps(low, high, closed))
    kept = tuple(dict.fromkeys(item for item in keep if item not in already and item not in revoke))
    return RevocationPlan(tuple(revoke), kept, tuple(dropped))


def to_ip_permission(entry: Entry, description: str | None = None) -> dict[str, object]:
    """The EC2 API shape (AuthorizeSecurityGroupIngress) of one entry."""
    permission: dict[str, object] = {"IpProtocol": entry.protocol}
    if entry.protocol != ALL_PROTOCOLS:
        permission["FromPort"] = entry.from_port
        permission["ToPort"] = entry.to_port
    text = entry.source.description if description is None else description
    extra = {"Description": text} if text else {}
    if entry.source.kind == IPV4:
        permission["IpRanges"] = [{"CidrIp": entry.source.value, **extra}]
    elif entry.source.kind == IPV6:
        permission["Ipv6Ranges"] = [{"CidrIpv6": entry.source.value, **extra}]
    elif entry.source.kind == PREFIX_LIST:
        permission["PrefixListIds"] = [{"PrefixListId": entry.source.value, **extra}]
    else:
        permission["UserIdGroupPairs"] = [{"GroupId": entry.source.value, **extra}]
    return permission


def entry_to_record(entry: Entry) -> dict[str, object]:
    return {
        "protocol": entry.protocol,
        "fromPort": entry.from_port,
        "toPort": entry.to_port,
        "sourceKind": entry.source.kind,
        "source": entry.source.value,
        "description": entry.source.description,
    }


def entry_from_record(record: Mapping[str, object]) -> Entry:
    if record.get("sourceKind") not in (IPV4, IPV6, PREFIX_LIST, SECURITY_GROUP):
        raise ValueError(f"a recorded entry has an unknown source kind {record.get('sourceKind')!r}")
    source = Source(str(record["sourceKind"]), str(record["source"]), str(record.get("description") or ""))
    return Entry(str(record["protocol"]), int(str(record["fromPort"])), int(str(record["toPort"])), source)


# --- helpers ---------------------------------------------------------------------------


def _network(text: str) -> Network | None:
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None


def _list(value: object) -> list[object]:
    return value if isinstance(value, list) else []  # only read, never changed


def _mappings(value: object) -> list[Mapping[str, object]]:
    # type() first: a JSON object is a dict, and isinstance against an ABC is slow.
    return [item for item in _list(value) if type(item) is dict or isinstance(item, Mapping)]


def _runs(ports: Sequence[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for port in ports:
        if runs and port == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], port)
        else:
            runs.append((port, port))
    return runs


def _gaps(low: int, high: int, closed: Sequence[int]) -> list[tuple[int, int]]:
    """Sub-ranges of low..high that avoid every closed port."""
    gaps: list[tuple[int, int]] = []
    start = low
    for port in sorted(set(closed)):
        if port > start:
            gaps.append((start, port - 1))
        start = port + 1
    if start <= high:
        gaps.append((start, high))
    return gaps


def _short_ports(ports: Sequence[int]) -> str:
    text = format_ports(ports)
    return text if len(text) <= 40 else text[:37].rsplit(",", 1)[0] + ",…"
