"""Configuration items, as AWS Config would record them, built from live Describe calls: what a
configuration-change rule evaluates when the scan runs it without Config.

The shape of AWS::EC2::SecurityGroup follows awslabs/aws-config-resource-schema
(config/properties/resource-types/AWS::EC2::SecurityGroup.properties.json) and what Config
records today: IPv4 sources both as `ipRanges` strings and `ipv4Ranges` objects. The tests'
harness builds the same item (harness/config_events.py); a test holds the two together.
"""

import datetime
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from mamori.open_proxy import config_permission

SECURITY_GROUP = "AWS::EC2::SecurityGroup"


def capture_time() -> str:
    """Now, as Config writes a configuration item's time (milliseconds, Z)."""
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def security_group_item(group: Mapping[str, Any], account: str, region: str, partition: str = "aws") -> dict[str, Any]:
    """The configuration item Config would record for a group from DescribeSecurityGroups."""
    group_id = group["GroupId"]
    owner = group.get("OwnerId", account)
    tags = {tag["Key"]: tag["Value"] for tag in group.get("Tags", [])}
    configuration = {
        "description": group.get("Description", ""),
        "groupName": group.get("GroupName"),
        "ipPermissions": [config_permission(p, owner) for p in group.get("IpPermissions", [])],
        "ownerId": owner,
        "groupId": group_id,
        "ipPermissionsEgress": [config_permission(p, owner) for p in group.get("IpPermissionsEgress", [])],
        "vpcId": group.get("VpcId"),
        "tags": [{"key": key, "value": value} for key, value in tags.items()],
    }
    return {
        "relatedEvents": [],
        "relationships": [
            {
                "resourceId": group.get("VpcId"),
                "resourceName": None,
                "resourceType": "AWS::EC2::VPC",
                "name": "Is contained in Vpc",
            }
        ],
        "configuration": configuration,
        "supplementaryConfiguration": {},
        "tags": tags,
        "configurationItemVersion": "1.3",
        "configurationItemCaptureTime": capture_time(),
        "configurationStateId": int(datetime.datetime.now(datetime.UTC).timestamp() * 1000),
        "awsAccountId": account,
        "configurationItemStatus": "OK",
        "resourceType": SECURITY_GROUP,
        "resourceId": group_id,
        "resourceName": group.get("GroupName"),
        "ARN": f"arn:{partition}:ec2:{region}:{account}:security-group/{group_id}",
        "awsRegion": region,
        "availabilityZone": "Not Applicable",
        "configurationStateMd5Hash": "",
        "resourceCreationTime": None,
    }


def security_group_items(ec2: Any, account: str, region: str, partition: str = "aws") -> Iterator[dict[str, Any]]:
    """Every security group of the region, one page of up to 1,000 at a time."""
    for page in ec2.get_paginator("describe_security_groups").paginate(PaginationConfig={"PageSize": 1000}):
        for group in page.get("SecurityGroups", []):
            yield security_group_item(group, account, region, partition)


# The resource types a configuration-change rule can be scanned for: type -> (service, items of a region).
ITEM_BUILDERS: dict[str, tuple[str, Callable[[Any, str, str, str], Iterator[dict[str, Any]]]]] = {
    SECURITY_GROUP: ("ec2", security_group_items),
}
