"""mamori-miner-responder: what it acts on and everything it may call.

It stops the instance in its own invocation (mamori.miners.StopMiningInstance, on the remediation
kernel), in the region GuardDuty found it in, and keeps the record where
mamori-unapproved-regions-restore reads it: the home region's Parameter Store (in a member stack
that is another region than the function's, which a region-bound ARN cannot name: any region, of
this account, under /mamori/unapproved-regions/).
"""

from mamori.catalog import (
    PUBLISH_TO_TOPIC,
    RECORD_KEY_CONDITION,
    RECORD_KEYS_ANY_REGION,
    Parameter,
    Permission,
    ResponderSpec,
    allow,
)
from mamori.instance_stop import STOP_REMEDIATION
from mamori.miners import (
    DEFAULT_FINDING_TYPES,
    DEFAULT_SEVERITY_FLOOR,
    DETAIL_TYPE,
    FINDING_TYPES_PATTERN,
    SEVERITY_PATTERN,
    SOURCE,
)
from mamori.miners import (
    RESPONDER as FUNCTION_NAME,
)

EC2 = "arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}"
INSTANCES = f"{EC2}:instance/*"
RECORDS = f"arn:${{AWS::Partition}}:ssm:*:${{AWS::AccountId}}:parameter/mamori/{STOP_REMEDIATION}/*"

RESPONDER = ResponderSpec(
    id="guardduty-findings",
    function_name=FUNCTION_NAME,
    description=(
        "Stops (never terminates) an EC2 instance GuardDuty finds mining or leaking its credentials, after "
        "snapshotting its volumes; restorable. Instances tagged mamori:exempt are left running."
    ),
    permissions=(
        Permission("ec2:DescribeInstances"),
        # Evidence first: one snapshot of each of the instance's volumes (tagged on creation).
        Permission("ec2:CreateSnapshots", INSTANCES),
        Permission("ec2:CreateSnapshots", f"{EC2}:volume/*"),
        Permission("ec2:CreateSnapshots", "arn:${AWS::Partition}:ec2:${AWS::Region}::snapshot/*"),
        Permission("ec2:CreateTags", "arn:${AWS::Partition}:ec2:${AWS::Region}::snapshot/*"),
        *allow("ec2:StopInstances", "ec2:CreateTags", on=INSTANCES),
        # The record (DeleteParameter only to take it back when EC2 refuses the stop).
        *allow("ssm:GetParameter", "ssm:PutParameter", "ssm:DeleteParameter", on=RECORDS),
        # ... signed with the record key of the home region (any region, as above: the alias narrows it).
        *allow("kms:VerifyMac", "kms:GenerateMac", on=RECORD_KEYS_ANY_REGION, when=RECORD_KEY_CONDITION),
        *PUBLISH_TO_TOPIC,
    ),
    events={"MiningFinding": {"source": [SOURCE], "detail-type": [DETAIL_TYPE]}},
    environment={
        "TOPIC_ARN": {"Ref": "NotificationTopic"},
        # AutoRemediation "false" (only report): the responder tells people and stops nothing.
        "CONTAIN": {"Fn::If": ["AutoRemediationOn", "true", "false"]},
        "MINER_FINDING_TYPES": {"Ref": "MinerFindingTypes"},
        "MINER_SEVERITY_FLOOR": {"Ref": "MinerSeverityFloor"},
        "SNAPSHOT_BEFORE_STOP": {"Ref": "SnapshotBeforeStop"},
        # Where the records are (the member template makes it the HomeRegion parameter).
        "HOME_REGION": {"Ref": "AWS::Region"},
    },
    parameters=(
        Parameter(
            "MinerResponse",
            '"true": mamori-miner-responder stops (never terminates) an instance GuardDuty finds mining, in every region '
            'the pack runs in (restorable; with AutoRemediation "false" it only tells). "false": not deployed.',
            "true",
            allowed_values=("true", "false"),
        ),
        Parameter(
            "MinerFindingTypes",
            'GuardDuty finding types that stop the instance, comma-separated; a trailing ".*" matches every type '
            "starting with what precedes it.",
            ",".join(DEFAULT_FINDING_TYPES),
            allowed_pattern=FINDING_TYPES_PATTERN,
            constraint="GuardDuty finding types joined by commas, e.g. CryptoCurrency:EC2/BitcoinTool.B,Recon:EC2/PortProbe.*",
        ),
        Parameter(
            "MinerSeverityFloor",
            "The lowest GuardDuty severity (0-10; Medium is 4-6.9, High 7-8.9) that stops the instance.",
            DEFAULT_SEVERITY_FLOOR,
            allowed_pattern=SEVERITY_PATTERN,
            constraint="a number from 0 to 10, e.g. 4 or 7.5",
        ),
        Parameter(
            "SnapshotBeforeStop",
            '"true": snapshot the instance\'s EBS volumes (tagged mamori:evidence) before stopping it, so the evidence '
            "survives; snapshots cost storage until deleted.",
            "true",
            allowed_values=("true", "false"),
        ),
    ),
    condition="MinerResponseOn",
)
