"""The two documents of the unapproved-regions remediation and what each may call."""

from mamori.catalog import (
    MAX_EXEMPTION_DAYS_INPUT,
    ONLY_MAMORI_TAGS,
    TAGGED_BY_MAMORI,
    Permission,
    RemediationSpec,
    allow,
    document,
    record_permissions,
    text_parameter,
)
from mamori.instances import INSTANCE_ID_PATTERN

# Any region: the instance is wherever it was found.
INSTANCES = "arn:${AWS::Partition}:ec2:*:${AWS::AccountId}:instance/*"

INSTANCE_ID = text_parameter("InstanceId", "The EC2 instance (in any enabled region).", pattern=INSTANCE_ID_PATTERN)
OUTPUTS = (("Region", "String"),)

REMEDIATION = RemediationSpec(
    id="unapproved-regions",
    remediate=document(
        "unapproved-regions",
        description=(
            "Stops (never terminates) an EC2 instance running in a region outside ApprovedRegions, after finding it "
            "in every enabled region and re-checking it live; records it for mamori-unapproved-regions-restore and "
            "tags it. Skips instances tagged mamori:exempt."
        ),
        # ApprovedRegions is the deployed rule's (mamori.deployed_rule).
        parameters=(INSTANCE_ID, MAX_EXEMPTION_DAYS_INPUT),
        permissions=(
            Permission("config:DescribeConfigRules"),
            *allow("ec2:DescribeRegions", "ec2:DescribeInstances"),
            Permission("ec2:StopInstances", INSTANCES),
            *allow("ec2:CreateTags", on=INSTANCES, when=ONLY_MAMORI_TAGS),
            # Reads the record it is about to replace (the kernel passes it to the unit).
            # Only to take back the record of a stop EC2 refused (a one-time Spot instance).
            *record_permissions("unapproved-regions", "PutParameter", "DeleteParameter"),
        ),
        outputs=OUTPUTS,
    ),
    restore=document(
        "unapproved-regions",
        restore=True,
        description=(
            "Starts again an EC2 instance that mamori-unapproved-regions stopped, as recorded at "
            "/mamori/unapproved-regions/<instance id>. Approve its region or tag it mamori:exempt first, or automatic "
            "remediation stops it again."
        ),
        parameters=(INSTANCE_ID,),
        permissions=(
            Permission("ec2:DescribeInstances"),
            # Only instances mamori stopped: they carry its tag until the restore is done.
            *allow("ec2:StartInstances", on=INSTANCES, when=TAGGED_BY_MAMORI),
            *allow("ec2:DeleteTags", on=INSTANCES, when=ONLY_MAMORI_TAGS),
            *record_permissions("unapproved-regions", "DeleteParameter"),
        ),
        outputs=OUTPUTS,
    ),
)
