"""The published shapes the harness's events and configuration items are checked against
(tests/test_shapes.py), each naming its source.

* Config rule events: the samples `sam local generate-event config item-change-notification`
  (and oversized-item-change-notification, periodic-rule) prints, read offline from the
  aws-sam-cli package (samcli/lib/generated_sample_events/events/config/).
* A security group's configuration: awslabs/aws-config-resource-schema,
  config/properties/resource-types/AWS::EC2::SecurityGroup.properties.json (commit 599974d4),
  the configuration.* properties transcribed below with their types; plus configuration.tags,
  which that schema (written for advanced queries, where tags are the item's) leaves out but
  recorded items hold (`"tags":[]` in the configuration of the AWS::EC2::SecurityGroup item in
  AWS Tools for PowerShell's Get-CFGAggregateResourceConfig example).
* AWS Health events: AWS Health User Guide, "Reference: AWS Health events Amazon EventBridge
  schema" (aws-health-events-eventbridge-schema): the event's and its detail's parameters.
"""

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import samcli

SAM_CONFIG_EVENTS = Path(samcli.__file__).parent / "lib" / "generated_sample_events" / "events" / "config"
SAM_SAMPLES = {
    "ConfigurationItemChangeNotification": "ConfigurationItemChangeNotification.json",
    "OversizedConfigurationItemChangeNotification": "OversizedConfigurationItemChangeNotification.json",
    "ScheduledNotification": "PeriodicRule.json",
}

# configuration.* of AWS::EC2::SecurityGroup (aws-config-resource-schema, see above): property
# path -> type. Lists are flattened as the schema writes them (ipPermissions.fromPort).
SECURITY_GROUP_CONFIGURATION: Mapping[str, str] = {
    "description": "string",
    "groupId": "string",
    "groupName": "string",
    "ownerId": "string",
    "vpcId": "string",
    "tags.key": "string",  # not in the schema: see above
    "tags.value": "string",
    **{
        f"{permissions}.{field}": kind
        for permissions in ("ipPermissions", "ipPermissionsEgress")
        for field, kind in {
            "fromPort": "integer",
            "toPort": "integer",
            "ipProtocol": "string",
            "ipRanges": "cidr_block",
            "ipv4Ranges.cidrIp": "cidr_block",
            "ipv4Ranges.description": "string",
            "ipv6Ranges.cidrIpv6": "cidr_block",
            "ipv6Ranges.description": "string",
            "prefixListIds.description": "string",
            "prefixListIds.prefixListId": "string",
            "userIdGroupPairs.description": "string",
            "userIdGroupPairs.groupId": "string",
            "userIdGroupPairs.peeringStatus": "string",
            "userIdGroupPairs.userId": "string",
            "userIdGroupPairs.vpcId": "string",
            "userIdGroupPairs.vpcPeeringConnectionId": "string",
            # Inbound pairs only (the schema lists no groupName for egress pairs).
            **({"userIdGroupPairs.groupName": "string"} if permissions == "ipPermissions" else {}),
        }.items()
    },
}

# AWS Health events (AWS Health User Guide, EventBridge schema): the event's parameters and
# those of its detail (with the parameters of the detail's lists of objects).
HEALTH_EVENT = frozenset({"version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"})
HEALTH_DETAIL = frozenset(
    {
        "eventArn",
        "service",
        "eventTypeCode",
        "eventTypeCategory",
        "eventScopeCode",
        "communicationId",
        "startTime",
        "endTime",
        "lastUpdatedTime",
        "statusCode",
        "eventRegion",
        "eventDescription",
        "eventMetadata",
        "affectedEntities",
        "affectedAccount",
        "page",
        "totalPages",
    }
)
HEALTH_DESCRIPTION = frozenset({"language", "latestDescription"})
HEALTH_ENTITY = frozenset({"entityValue", "lastUpdatedTime", "status", "tags"})


def sam_sample(message_type: str) -> dict[str, Any]:
    """SAM's sample event of that message type, its invokingEvent parsed."""
    event: dict[str, Any] = json.loads((SAM_CONFIG_EVENTS / SAM_SAMPLES[message_type]).read_text())
    event["invokingEvent"] = json.loads(event["invokingEvent"])
    return event


def property_paths(value: Any, prefix: str = "") -> dict[str, set[str]]:
    """{flattened path: {python type names}} of a configuration's values, lists flattened as the
    schema does (an empty list holds no value to type)."""
    found: dict[str, set[str]] = {}
    if isinstance(value, Mapping):
        for key, inner in value.items():
            for path, kinds in property_paths(inner, f"{prefix}.{key}" if prefix else str(key)).items():
                found.setdefault(path, set()).update(kinds)
    elif isinstance(value, list):
        for inner in value:
            for path, kinds in property_paths(inner, prefix).items():
                found.setdefault(path, set()).update(kinds)
    else:
        found.setdefault(prefix, set()).add(type(value).__name__)
    return found
