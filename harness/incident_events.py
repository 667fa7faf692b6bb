"""The events AWS sends about incidents, as its published samples shape them, for the tests,
the demo and the bench: an AWS Health abuse report (the AWS Health EventBridge schema's sample),
an exposed access key (aws/aws-health-tools, AWS_RISK_CREDENTIALS_EXPOSED) and a GuardDuty
finding (the GuardDuty finding format). No test framework: `make demo` imports them too."""

import json
from typing import Any

from harness.aws import ACCOUNT, REGION


def proxy_report(
    *entities: str,
    resources: list[str] | None = None,
    code: str = "AWS_ABUSE_OPEN_PROXY_REPORT",
    description: str = "We have received a report that your instance is operating as an open proxy.",
    account: str = ACCOUNT,
    affected_account: str | None = ACCOUNT,
    event_region: str | None = REGION,
) -> dict[str, Any]:
    """The published sample's shape (organizational fields, paging, status), about an open proxy."""
    detail: dict[str, Any] = {
        "eventArn": f"arn:aws:health:global::event/{code}_92387492375_4498_2026_11_21_09_30_00",
        "service": "ABUSE",
        "eventTypeCode": code,
        "eventTypeCategory": "issue",
        "eventScopeCode": "ACCOUNT_SPECIFIC",
        "communicationId": "1234abc01232a4012345678-1",
        "startTime": "Sat, 21 Nov 2026 09:30:00 GMT",
        "lastUpdatedTime": "Sat, 21 Nov 2026 09:30:00 GMT",
        "statusCode": "open",
        "eventDescription": [{"language": "en_US", "latestDescription": description}],
        "affectedEntities": [{"entityValue": value, "lastUpdatedTime": "Sat, 21 Nov 2026 09:30:00 GMT"} for value in entities],
        "page": "1",
        "totalPages": "1",
    }
    if event_region is not None:
        detail["eventRegion"] = event_region
    if affected_account is not None:
        detail["affectedAccount"] = affected_account
    return {
        "version": "0",
        "id": "7bf73129-1428-4cd3-a780-000000000001",
        "detail-type": "AWS Health Abuse Event",
        "source": "aws.health",
        "account": account,
        "time": "2026-11-21T09:30:05Z",
        "region": "global",
        "resources": list(entities) if resources is None else resources,
        "detail": detail,
    }


EVENT_ARN = "arn:aws:health:us-east-1::event/RISK/AWS_RISK_CREDENTIALS_EXPOSED/AWS_RISK_CREDENTIALS_EXPOSED_1a2b3c"

# AWS's published sample (aws/aws-health-tools, automated-actions/AWS_RISK_CREDENTIALS_EXPOSED/
# README.md, "Testing the Example"), with the key id a test puts in.
SAMPLE: dict[str, Any] = {
    "version": "0",
    "id": "121345678-1234-1234-1234-123456789012",
    "detail-type": "AWS Health Event",
    "source": "aws.health",
    "account": "123456789012",
    "time": "2016-06-05T06:27:57Z",
    "region": "us-east-1",
    "resources": [],
    "detail": {
        "eventArn": "arn:aws:health:us-east-1::event/AWS_RISK_CREDENTIALS_EXPOSED_XXXXXXXXXXXXXXXXX",
        "service": "RISK",
        "eventTypeCode": "AWS_RISK_CREDENTIALS_EXPOSED",
        "eventTypeCategory": "issue",
        "startTime": "Sat, 05 Jun 2016 15:10:09 GMT",
        "eventDescription": [{"language": "en_US", "latestDescription": "A description of the event will be provided here"}],
        "affectedEntities": [{"entityValue": "ACCESS_KEY_ID_HERE"}],
    },
}


def exposed(*key_ids: str, account: str = ACCOUNT, affected: str | None = None) -> dict[str, Any]:
    event = json.loads(json.dumps(SAMPLE))
    event["account"] = account
    event["time"] = "2026-11-30T02:10:00Z"
    event["detail"]["eventArn"] = EVENT_ARN
    event["detail"]["startTime"] = "Mon, 30 Nov 2026 02:09:41 GMT"
    event["detail"]["affectedEntities"] = [{"entityValue": key} for key in key_ids]
    if affected is not None:
        event["detail"]["affectedAccount"] = affected
    return event


MINING_REGION = "ap-southeast-1"


def finding(instance_id: str | None, finding_type: str = "CryptoCurrency:EC2/BitcoinTool.B!DNS", **detail: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {"resourceType": "Instance"}
    if instance_id is not None:
        resource["instanceDetails"] = {"instanceId": instance_id, "instanceType": "c5.4xlarge", "instanceState": "running"}
    body: dict[str, Any] = {
        "schemaVersion": "2.0",
        "accountId": ACCOUNT,
        "region": MINING_REGION,
        "partition": "aws",
        "id": "b0baa89de4ab301f8d0a8c9a3dfd5726",
        "arn": f"arn:aws:guardduty:{MINING_REGION}:{ACCOUNT}:detector/feb3c048238f682b8902532ec100b3fb/finding/"
        "b0baa89de4ab301f8d0a8c9a3dfd5726",
        "type": finding_type,
        "resource": resource,
        "service": {
            "serviceName": "guardduty",
            "detectorId": "feb3c048238f682b8902532ec100b3fb",
            "action": {"actionType": "DNS_REQUEST", "dnsRequestAction": {"domain": "pool.minergate.com", "blocked": False}},
            "resourceRole": "ACTOR",
            "eventFirstSeen": "2026-11-30T02:01:00.000Z",
            "eventLastSeen": "2026-11-30T02:04:00.000Z",
            "archived": False,
            "count": 1,
        },
        "severity": 8,
        "createdAt": "2026-11-30T02:05:00.000Z",
        "updatedAt": "2026-11-30T02:05:00.000Z",
        "title": f"Bitcoin-related domain name queried by EC2 instance {instance_id}.",
        "description": f"EC2 instance {instance_id} is querying a domain name that is associated with Bitcoin-related activity.",
    }
    body.update(detail)
    return {
        "version": "0",
        "id": "cd2d702e-ab31-411b-9344-793ce56b1bc7",
        "detail-type": "GuardDuty Finding",
        "source": "aws.guardduty",
        "account": ACCOUNT,
        "time": "2026-11-30T02:05:10Z",
        "region": MINING_REGION,
        "resources": [],
        "detail": body,
    }
