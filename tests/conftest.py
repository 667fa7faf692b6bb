"""Shared fixtures: moto for AWS, plus harness.aws.Sandbox for what moto lacks (Config
evaluations, oversized-item history) and for enforcing each role's IAM actions."""

from collections.abc import Iterator, Sequence
from typing import Any

import boto3
import pytest
from moto import mock_aws

from harness.aws import Sandbox, fake_credentials


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    fake_credentials()
    with mock_aws():
        yield Sandbox()


@pytest.fixture
def ec2(sandbox: Sandbox) -> Any:
    return boto3.client("ec2")


@pytest.fixture
def vpc_id(ec2: Any) -> str:
    return str(ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"])


_names = iter(range(10**6))


def make_group(ec2: Any, vpc_id: str, permissions: Sequence[dict[str, Any]] = (), tags: dict[str, str] | None = None) -> str:
    group_id = str(ec2.create_security_group(GroupName=f"group-{next(_names)}", Description="test", VpcId=vpc_id)["GroupId"])
    if permissions:
        ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=list(permissions))
    if tags:
        ec2.create_tags(Resources=[group_id], Tags=[{"Key": k, "Value": v} for k, v in tags.items()])
    return group_id


def tcp(port: int, *cidrs: str, to_port: int | None = None, description: str = "") -> dict[str, Any]:
    """An IpPermission for tcp port (..to_port) from IPv4/IPv6 cidrs."""
    extra = {"Description": description} if description else {}
    return {
        "IpProtocol": "tcp",
        "FromPort": port,
        "ToPort": to_port if to_port is not None else port,
        "IpRanges": [{"CidrIp": c, **extra} for c in cidrs if ":" not in c],
        "Ipv6Ranges": [{"CidrIpv6": c, **extra} for c in cidrs if ":" in c],
    }


def inbound(ec2: Any, group_id: str) -> set[tuple[str, int, int, str]]:
    """(protocol, from, to, source) of every inbound rule, re-read from the live group."""
    rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [group_id]}])["SecurityGroupRules"]
    return {
        (
            r["IpProtocol"],
            r.get("FromPort", -1),
            r.get("ToPort", -1),
            r.get("CidrIpv4") or r.get("CidrIpv6") or r.get("PrefixListId") or r["ReferencedGroupInfo"]["GroupId"],
        )
        for r in rules
        if not r["IsEgress"]
    }
