"""Real-shaped AWS Config rule events, as Config sends them to a rule Lambda.

Sources (checked by tests/test_shapes.py against harness/shapes.py):
* the event envelope and the configuration item's fields: `sam local generate-event config
  item-change-notification` (and oversized-item-change-notification, periodic-rule);
* a security group's configuration: awslabs/aws-config-resource-schema
  (AWS::EC2::SecurityGroup.properties.json), built here from the live (moto) group so that the
  rule sees what Config would record;
* the compliance-change event: the AWS Config Developer Guide's EventBridge example of a
  "Config Rules Compliance Change" event (detail: newEvaluationResult, oldEvaluationResult,
  messageType ComplianceChangeNotification), which the notifier and central responder read.
"""

import json
import time
from collections.abc import Mapping
from typing import Any

from harness.aws import ACCOUNT, REGION, result_token
from mamori.open_proxy import config_permission
from mamori.scan.items import capture_time

_serial = 0


def _config_permission(permission: Mapping[str, Any], ipv4_shape: str) -> dict[str, Any]:
    """EC2 API IpPermission -> Config's ipPermissions item (mamori.open_proxy's, the one conversion),
    with only the IPv4 shape asked for: Config has written ipRanges, ipv4Ranges or both."""
    item = config_permission(permission, ACCOUNT)
    if ipv4_shape == "ipRanges":
        del item["ipv4Ranges"]
    elif ipv4_shape == "ipv4Ranges":
        del item["ipRanges"]
    return item


def security_group_item(ec2: Any, group_id: str, ipv4_shape: str = "both") -> dict[str, Any]:
    """The configuration item Config would record for this (moto) security group now.

    ipv4_shape: "both" (what Config records today), "ipRanges" or "ipv4Ranges" (older items).
    """
    group = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]
    tags = {tag["Key"]: tag["Value"] for tag in group.get("Tags", [])}
    configuration = {
        "description": group["Description"],
        "groupName": group["GroupName"],
        "ipPermissions": [_config_permission(p, ipv4_shape) for p in group.get("IpPermissions", [])],
        "ownerId": group.get("OwnerId", ACCOUNT),
        "groupId": group_id,
        "ipPermissionsEgress": [_config_permission(p, ipv4_shape) for p in group.get("IpPermissionsEgress", [])],
        "vpcId": group.get("VpcId"),
        "tags": [{"key": key, "value": value} for key, value in tags.items()],
    }
    return configuration_item(
        "AWS::EC2::SecurityGroup",
        group_id,
        configuration,
        tags,
        resource_name=group["GroupName"],
        arn=f"arn:aws:ec2:{REGION}:{ACCOUNT}:security-group/{group_id}",
        relationships=[
            {
                "resourceId": group.get("VpcId"),
                "resourceName": None,
                "resourceType": "AWS::EC2::VPC",
                "name": "Is contained in Vpc",
            }
        ],
    )


def configuration_item(
    resource_type: str,
    resource_id: str,
    configuration: Mapping[str, Any] | None,
    tags: Mapping[str, str] | None = None,
    status: str = "OK",
    resource_name: str | None = None,
    arn: str = "",
    relationships: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "relatedEvents": [],
        "relationships": relationships or [],
        "configuration": dict(configuration) if configuration is not None else None,
        "supplementaryConfiguration": {},
        "tags": dict(tags or {}),
        "configurationItemVersion": "1.3",
        "configurationItemCaptureTime": capture_time(),
        "configurationStateId": int(time.time() * 1000),
        "awsAccountId": ACCOUNT,
        "configurationItemStatus": status,
        "resourceType": resource_type,
        "resourceId": resource_id,
        "resourceName": resource_name,
        "ARN": arn,
        "awsRegion": REGION,
        "availabilityZone": "Not Applicable",
        "configurationStateMd5Hash": "",
        "resourceCreationTime": None,
    }


def deleted_item(resource_type: str, resource_id: str) -> dict[str, Any]:
    """What Config sends when the resource is deleted: status ResourceDeleted, no configuration."""
    return configuration_item(resource_type, resource_id, None, status="ResourceDeleted")


def _envelope(rule_name: str, invoking_event: Mapping[str, Any], rule_parameters: Mapping[str, str] | None) -> dict[str, Any]:
    global _serial
    _serial += 1
    event: dict[str, Any] = {
        "invokingEvent": json.dumps(invoking_event),
        "resultToken": result_token(rule_name, _serial),
        "eventLeftScope": False,
        "executionRoleArn": f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig",
        "configRuleArn": f"arn:aws:config:{REGION}:{ACCOUNT}:config-rule/config-rule-{_serial:06d}",
        "configRuleName": rule_name,
        "configRuleId": f"config-rule-{_serial:06d}",
        "accountId": ACCOUNT,
        "version": "1.0",
    }
    if rule_parameters is not None:
        event["ruleParameters"] = json.dumps(dict(rule_parameters))
    return event


def change_event(rule_name: str, item: Mapping[str, Any], rule_parameters: Mapping[str, str] | None = None) -> dict[str, Any]:
    invoking = {
        "configurationItemDiff": None,
        "configurationItem": dict(item),
        "notificationCreationTime": capture_time(),
        "messageType": "ConfigurationItemChangeNotification",
        "recordVersion": "1.3",
    }
    return _envelope(rule_name, invoking, rule_parameters)


def oversized_event(rule_name: str, item: Mapping[str, Any], rule_parameters: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Config sends only a summary when the item is over 256 KB; the rule fetches the rest."""
    summary = {
        "changeType": "UPDATE",
        "configurationItemVersion": "1.3",
        "configurationItemCaptureTime": item["configurationItemCaptureTime"],
        "configurationStateId": item["configurationStateId"],
        "awsAccountId": item["awsAccountId"],
        "configurationItemStatus": item["configurationItemStatus"],
        "resourceType": item["resourceType"],
        "resourceId": item["resourceId"],
        "resourceName": item.get("resourceName"),
        "ARN": item.get("ARN"),
        "awsRegion": item["awsRegion"],
        "availabilityZone": item.get("availabilityZone"),
        "configurationStateMd5Hash": item.get("configurationStateMd5Hash", ""),
        "resourceCreationTime": item.get("resourceCreationTime"),
    }
    invoking = {
        "configurationItemSummary": summary,
        "messageType": "OversizedConfigurationItemChangeNotification",
        "notificationCreationTime": capture_time(),
        "recordVersion": "1.3",
    }
    return _envelope(rule_name, invoking, rule_parameters)


def periodic_event(rule_name: str, rule_parameters: Mapping[str, str] | None = None) -> dict[str, Any]:
    invoking = {
        "awsAccountId": ACCOUNT,
        "notificationCreationTime": capture_time(),
        "messageType": "ScheduledNotification",
        "recordVersion": "1.0",
    }
    return _envelope(rule_name, invoking, rule_parameters)


def compliance_change(
    rule: str,
    account: str,
    compliance: str = "NON_COMPLIANT",
    previous: str | None = "COMPLIANT",
    annotation: str = "Root has an active access key, created 2019-03-01, last used 2026-01-01 in us-east-1 (ec2).",
) -> dict[str, Any]:
    """A member's compliance change as its EventBridge delivers it (and forwards it): `account`
    is the member, set by EventBridge for aws.* events."""
    detail: dict[str, Any] = {
        "resourceId": account,
        "awsRegion": REGION,
        "awsAccountId": account,
        "configRuleName": rule,
        "recordVersion": "1.0",
        "configRuleARN": f"arn:aws:config:{REGION}:{account}:config-rule/config-rule-abc123",
        "messageType": "ComplianceChangeNotification",
        "newEvaluationResult": {
            "evaluationResultIdentifier": {
                "evaluationResultQualifier": {"configRuleName": rule, "resourceType": "AWS::::Account", "resourceId": account},
                "orderingTimestamp": "2026-11-21T05:59:58.000Z",
            },
            "complianceType": compliance,
            "resultRecordedTime": "2026-11-21T06:00:00.000Z",
            "configRuleInvokedTime": "2026-11-21T05:59:59.000Z",
            "annotation": annotation,
        },
        "notificationCreationTime": "2026-11-21T06:00:00.000Z",
        "resourceType": "AWS::::Account",
    }
    if previous is not None:
        detail["oldEvaluationResult"] = {"complianceType": previous}
    return {
        "version": "0",
        "id": f"5e0a5e1c-0000-0000-0000-{account}",
        "detail-type": "Config Rules Compliance Change",
        "source": "aws.config",
        "account": account,
        "time": "2026-11-21T06:00:00Z",
        "region": REGION,
        "resources": [],
        "detail": detail,
    }
