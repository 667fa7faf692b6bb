"""The exposure decision (mamori.exposure), exhaustively and against a reference.

The property tests throw random permissions and CIDRs at find_exposures and compare with a
deliberately simple reference written from DESIGN.md's words, with integer arithmetic
instead of the ipaddress module."""

import functools
import ipaddress
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mamori.exposure import (
    DEFAULT_PROXY_PORTS,
    NEVER_INTERNET,
    Entry,
    MalformedPermission,
    Source,
    annotation,
    entries_from_configuration,
    entries_from_rules,
    find_exposures,
    format_ports,
    is_internet,
    parse_proxy_ports,
    parse_trusted,
    plan_revocation,
)
from mamori.open_proxy import reaching_permissions

# --- the reference ----------------------------------------------------------------------


@functools.cache
def _special_block(version: int, block: int) -> bool:
    """Is the whole /8 (IPv4) or /16 (IPv6) numbered `block` one from which the internet cannot
    connect, as Python's ipaddress classifies its first and last addresses?"""
    bits, widest = (32, 8) if version == 4 else (128, 16)
    network = ipaddress.ip_network((block << (bits - widest), widest))

    def special(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        return address.is_multicast or address.is_reserved or not address.is_global

    return special(network.network_address) and special(network.broadcast_address)


def reference_is_internet(cidr: str) -> bool:
    """As wide as the internet (at most /8 or /16) and not wholly made of blocks ipaddress says
    are multicast, reserved or not global."""
    network = ipaddress.ip_network(cidr)
    widest = 8 if network.version == 4 else 16
    if network.prefixlen > widest:
        return False
    shift = network.max_prefixlen - widest
    first = int(network.network_address) >> shift
    count = 1 << (widest - network.prefixlen)
    return not all(_special_block(network.version, block) for block in range(first, first + count))


def reference_exposed(protocol: str, low: int, high: int, cidr: str, ports: tuple[int, ...]) -> bool:
    reaches = protocol == "-1" or (protocol == "tcp" and any(low <= p <= high for p in ports))
    return reaches and reference_is_internet(cidr)


# --- strategies -------------------------------------------------------------------------

interesting_v4 = st.sampled_from(
    ["0.0.0.0", "10.0.0.0", "172.16.0.0", "192.168.1.0", "100.64.0.0", "169.254.0.0", "3.0.0.0", "128.0.0.0"]
)
ipv4_cidrs = st.one_of(
    st.tuples(interesting_v4, st.integers(0, 32)),
    st.tuples(st.integers(0, 2**32 - 1).map(lambda n: str(ipaddress.IPv4Address(n))), st.integers(0, 32)),
).map(lambda t: str(ipaddress.ip_network(f"{t[0]}/{t[1]}", strict=False)))
interesting_v6 = st.sampled_from(["::", "fc00::", "fd12::", "fe80::", "2001:db8::", "2600::", "::1"])
ipv6_cidrs = st.one_of(
    st.tuples(interesting_v6, st.integers(0, 128)),
    st.tuples(st.integers(0, 2**128 - 1).map(lambda n: str(ipaddress.IPv6Address(n))), st.integers(0, 128)),
).map(lambda t: str(ipaddress.ip_network(f"{t[0]}/{t[1]}", strict=False)))
cidrs = st.one_of(ipv4_cidrs, ipv6_cidrs)
port_pairs = st.tuples(st.integers(0, 65535), st.integers(0, 65535)).map(sorted)
protocols = st.sampled_from(["tcp", "udp", "icmp", "-1", "6", "17"])
proxy_ports = st.lists(st.integers(1, 65535), min_size=1, max_size=8).map(lambda p: tuple(sorted(set(p))))


@st.composite
def config_permissions(draw: Any) -> dict[str, Any]:
    protocol = draw(protocols)
    low, high = draw(port_pairs)
    v4 = draw(st.lists(ipv4_cidrs, max_size=3, unique=True))
    v6 = draw(st.lists(ipv6_cidrs, max_size=2, unique=True))
    shape = draw(st.sampled_from(["ipRanges", "ipv4Ranges", "both"]))
    permission: dict[str, Any] = {"ipProtocol": protocol, "ipv6Ranges": [{"cidrIpv6": c} for c in v6], "userIdGroupPairs": []}
    if protocol not in ("-1", "icmp"):
        permission.update(fromPort=low, toPort=high)
    if shape in ("ipRanges", "both"):
        permission["ipRanges"] = v4
    if shape in ("ipv4Ranges", "both"):
        permission["ipv4Ranges"] = [{"cidrIp": c} for c in v4]
    if draw(st.booleans()):
        permission["userIdGroupPairs"] = [{"groupId": "sg-0123456789abcdef0", "userId": "123456789012"}]
    return permission


@settings(max_examples=400, deadline=None)
@given(st.lists(config_permissions(), max_size=4), proxy_ports)
def test_find_exposures_matches_the_reference(permissions: list[dict[str, Any]], ports: tuple[int, ...]) -> None:
    entries = entries_from_configuration({"ipPermissions": permissions})
    found = {(e.entry.protocol, e.entry.from_port, e.entry.to_port, e.entry.source.value) for e in find_exposures(entries, ports)}

    expected = set()
    for permission in permissions:
        protocol = {"6": "tcp", "17": "udp"}.get(permission["ipProtocol"], permission["ipProtocol"])
        low, high = (permission.get("fromPort", -1), permission.get("toPort", -1))
        if protocol in ("-1", "icmp"):
            low, high = -1, -1
        sources = set(permission.get("ipRanges", [])) | {r["cidrIp"] for r in permission.get("ipv4Ranges", [])}
        sources |= {r["cidrIpv6"] for r in permission["ipv6Ranges"]}
        for cidr in sources:
            if reference_exposed(protocol, low, high, cidr, ports):
                expected.add((protocol, low, high, cidr))
    assert found == expected


@settings(max_examples=300, deadline=None)
@given(cidrs)
def test_is_internet_matches_the_reference(cidr: str) -> None:
    assert is_internet(ipaddress.ip_network(cidr)) == reference_is_internet(cidr)


@settings(max_examples=200, deadline=None)
@given(st.lists(config_permissions(), max_size=4), proxy_ports)
def test_narrowing_closes_exactly_the_proxy_ports(permissions: list[dict[str, Any]], ports: tuple[int, ...]) -> None:
    """After the plan: no exposure remains, and every non-proxy tcp port a revoked entry opened stays open."""
    entries = entries_from_configuration({"ipPermissions": permissions})
    exposures = find_exposures(entries, ports)
    plan = plan_revocation(exposures, ports, entries)
    after = [e for e in entries if e not in plan.revoke] + list(plan.keep_open)

    assert find_exposures(after, ports) == []
    for entry in plan.revoke:
        low, high = (0, 65535) if entry.protocol == "-1" else (entry.from_port, entry.to_port)
        kept = {p for e in after if e.source == entry.source and e.protocol == "tcp" for p in range(e.from_port, e.to_port + 1)}
        wanted = set(range(low, high + 1)) - set(ports)
        assert wanted <= kept


@settings(max_examples=200, deadline=None)
@given(st.lists(config_permissions(), max_size=5), proxy_ports)
def test_annotation_always_fits(permissions: list[dict[str, Any]], ports: tuple[int, ...]) -> None:
    exposures = find_exposures(entries_from_configuration({"ipPermissions": permissions}), ports)
    if exposures:
        assert 0 < len(annotation(exposures)) <= 256


@settings(max_examples=200, deadline=None)
@given(proxy_ports)
def test_port_lists_round_trip(ports: tuple[int, ...]) -> None:
    assert parse_proxy_ports(format_ports(ports)) == ports


# --- both shapes mean the same ---------------------------------------------------------


def test_config_item_and_live_rules_normalize_alike() -> None:
    configuration = {
        "ipPermissions": [
            {
                "ipProtocol": "tcp",
                "fromPort": 3128,
                "toPort": 3128,
                "ipRanges": ["0.0.0.0/0"],
                "ipv4Ranges": [{"cidrIp": "0.0.0.0/0", "description": "x"}],
                "ipv6Ranges": [{"cidrIpv6": "::/0"}],
                "prefixListIds": [{"prefixListId": "pl-0123"}],
                "userIdGroupPairs": [{"groupId": "sg-1", "userId": "123456789012"}],
            },
            {"ipProtocol": "-1", "ipRanges": ["10.0.0.0/8"], "ipv6Ranges": [], "userIdGroupPairs": []},
        ]
    }
    rules = [
        {
            "SecurityGroupRuleId": "sgr-1",
            "IsEgress": False,
            "IpProtocol": "tcp",
            "FromPort": 3128,
            "ToPort": 3128,
            "CidrIpv4": "0.0.0.0/0",
        },
        {
            "SecurityGroupRuleId": "sgr-2",
            "IsEgress": False,
            "IpProtocol": "tcp",
            "FromPort": 3128,
            "ToPort": 3128,
            "CidrIpv6": "::/0",
        },
        {
            "SecurityGroupRuleId": "sgr-3",
            "IsEgress": False,
            "IpProtocol": "tcp",
            "FromPort": 3128,
            "ToPort": 3128,
            "PrefixListId": "pl-0123",
        },
        {
            "SecurityGroupRuleId": "sgr-4",
            "IsEgress": False,
            "IpProtocol": "tcp",
            "FromPort": 3128,
            "ToPort": 3128,
            "ReferencedGroupInfo": {"GroupId": "sg-1", "UserId": "123456789012"},
        },
        {
            "SecurityGroupRuleId": "sgr-5",
            "IsEgress": False,
            "IpProtocol": "-1",
            "FromPort": -1,
            "ToPort": -1,
            "CidrIpv4": "10.0.0.0/8",
        },
        {
            "SecurityGroupRuleId": "sgr-6",
            "IsEgress": True,
            "IpProtocol": "-1",
            "FromPort": -1,
            "ToPort": -1,
            "CidrIpv4": "0.0.0.0/0",
        },
    ]
    assert len(entries_from_configuration(configuration)) == 5
    assert set(entries_from_configuration(configuration)) == set(entries_from_rules(rules))


# --- examples ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cidr", "internet"),
    [
        ("0.0.0.0/0", True),
        ("::/0", True),
        ("0.0.0.0/1", True),
        ("128.0.0.0/1", True),
        ("3.0.0.0/8", True),
        ("3.0.0.0/9", False),
        ("2600::/16", True),
        ("2600::/17", False),
        ("10.0.0.0/8", False),
        ("100.64.0.0/10", False),
        ("169.254.0.0/16", False),
        ("fc00::/7", False),
        ("fe80::/10", False),
        ("203.0.113.7/32", False),
        # Issue 11, item 6: no connection from the internet comes from these (IANA special-purpose).
        ("0.0.0.0/8", False),
        ("224.0.0.0/4", False),
        ("240.0.0.0/4", False),
        ("224.0.0.0/8", False),
        ("ff00::/8", False),
        ("4000::/3", False),
        ("0.0.0.0/4", True),  # holds public space
        ("2000::/3", True),
    ],
)
def test_what_counts_as_the_internet(cidr: str, internet: bool) -> None:
    assert is_internet(ipaddress.ip_network(cidr)) is internet


def test_trusted_sources_are_never_the_internet() -> None:
    trusted = parse_trusted("0.0.0.0/1, pl-0abc1234")
    assert not is_internet(ipaddress.ip_network("0.0.0.0/1"), trusted)
    assert is_internet(ipaddress.ip_network("128.0.0.0/1"), trusted)
    entry = Entry("tcp", 3128, 3128, Source("prefix-list", "pl-0abc1234"))
    assert find_exposures([entry], DEFAULT_PROXY_PORTS, trusted, {"pl-0abc1234": ["0.0.0.0/0"]}) == []


def test_default_ports_are_the_documented_ones() -> None:
    assert DEFAULT_PROXY_PORTS == (1080, 3128, 3129, 8080, 8118, 8888, 9050)
    assert format_ports(DEFAULT_PROXY_PORTS) == "1080,3128,3129,8080,8118,8888,9050"
    assert parse_proxy_ports("8000-8002, 9050") == (8000, 8001, 8002, 9050)


@pytest.mark.parametrize("text", ["", "abc", "0", "65536", "9000-8000", "1-2-3", "3128-", "3128 - ", "-3128", "80,3128-"])
def test_bad_port_lists_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="ProxyPorts"):
        parse_proxy_ports(text)


@pytest.mark.parametrize("text", ["pl-", "pl-0abc", "pl-xyz12345", "10.0.0.0/8,pl-", "pl-0123456789abcdef"])
def test_bad_trusted_sources_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="TrustedCidrs"):
        parse_trusted(text)


def test_prefix_list_ids_of_both_lengths_are_trusted() -> None:
    trusted = parse_trusted("pl-0abc1234, pl-0123456789abcdef0")
    assert trusted.prefix_lists == {"pl-0abc1234", "pl-0123456789abcdef0"}


# Newer than the registries Python's ipaddress knows: 3fff::/20 (RFC 9637, 2024).
NEWER_THAN_PYTHON = {"3fff::/20"}


@pytest.mark.parametrize("block", [str(net) for net in NEVER_INTERNET], ids=str)
def test_every_never_internet_block_is_special_to_python_too(block: str) -> None:
    """The table is IANA's registries; Python's ipaddress, written from the same registries,
    must agree that each block is multicast, reserved or not global (its first and last address)."""
    if block in NEWER_THAN_PYTHON:
        pytest.skip(f"{block} is newer than Python's ipaddress tables")
    network = ipaddress.ip_network(block)
    for address in (network.network_address, network.broadcast_address):
        assert address.is_multicast or address.is_reserved or not address.is_global, address


@pytest.mark.parametrize(
    ("permission", "problem"),
    [
        ({"ipProtocol": "tcp", "fromPort": 3128, "toPort": "tcp"}, "toPort 'tcp' is not a port number"),
        ({"ipProtocol": "tcp", "fromPort": "", "toPort": 3128}, "fromPort '' is not a port number"),
        ({"ipProtocol": "tcp", "fromPort": True, "toPort": 3128}, "fromPort True is not a port number"),
        ({"ipProtocol": "tcp", "fromPort": 3.5, "toPort": 3128}, "fromPort 3.5 is not a port number"),
    ],
)
def test_a_port_that_is_not_a_number_is_named(permission: dict[str, Any], problem: str) -> None:
    with pytest.raises(MalformedPermission, match=problem):
        entries_from_configuration({"ipPermissions": [{**permission, "ipRanges": ["0.0.0.0/0"]}]})


def test_ports_written_as_digits_are_read() -> None:
    [entry] = entries_from_configuration(
        {"ipPermissions": [{"ipProtocol": "tcp", "fromPort": "3128", "toPort": " 3129", "ipRanges": ["0.0.0.0/0"]}]}
    )
    assert (entry.from_port, entry.to_port) == (3128, 3129)


def test_the_permissions_that_cannot_matter_are_left_out_and_nothing_else() -> None:
    """open-proxy-ports decides on the permissions that reach a proxy port only (most of a
    decision's work saved); the decision on them is the decision on the whole group."""
    web = {"ipProtocol": "tcp", "fromPort": 443, "toPort": 443, "ipRanges": ["0.0.0.0/0"]}
    proxy = {"ipProtocol": "tcp", "fromPort": 3000, "toPort": 3200, "ipRanges": ["0.0.0.0/0"]}
    everything = {"ipProtocol": "-1", "ipv6Ranges": [{"cidrIpv6": "::/0"}]}
    udp = {"ipProtocol": "udp", "fromPort": 3128, "toPort": 3128, "ipRanges": ["0.0.0.0/0"]}
    unreadable = {"ipProtocol": "tcp", "fromPort": "tcp", "toPort": 3128, "ipRanges": ["0.0.0.0/0"]}
    configuration = {"groupId": "sg-1", "ipPermissions": [web, proxy, everything, udp, unreadable]}

    kept = reaching_permissions(configuration, DEFAULT_PROXY_PORTS)

    assert kept["ipPermissions"] == [proxy, everything, unreadable]  # unreadable ports: the decision's business
    assert kept["groupId"] == "sg-1"
    readable = {**configuration, "ipPermissions": [web, proxy, everything, udp]}
    decided = find_exposures(entries_from_configuration(reaching_permissions(readable, DEFAULT_PROXY_PORTS)), DEFAULT_PROXY_PORTS)
    assert decided == find_exposures(entries_from_configuration(readable), DEFAULT_PROXY_PORTS)
    assert len(decided) == 2


@given(st.lists(config_permissions(), max_size=4), proxy_ports)
def test_leaving_out_what_cannot_matter_never_changes_the_decision(
    permissions: list[dict[str, Any]], ports: tuple[int, ...]
) -> None:
    configuration = {"ipPermissions": permissions}
    whole = find_exposures(entries_from_configuration(configuration), ports)
    assert find_exposures(entries_from_configuration(reaching_permissions(configuration, ports)), ports) == whole
