"""mamori-unapproved-regions: what the rule is, what it takes, what it may call."""

from mamori.catalog import CONFIG_RULES, MAX_EXEMPTION_DAYS, Parameter, Permission, RemediationLink, RuleSpec
from mamori.instances import REGION_LIST_PATTERN

RULE = RuleSpec(
    id="unapproved-regions",
    description=(
        "NON_COMPLIANT for each EC2 instance running in an enabled region outside ApprovedRegions, found by asking "
        "every enabled region directly (not through AWS Config); one AWS::::Account evaluation summarises the scan."
    ),
    trigger="periodic",
    frequency="One_Hour",
    # The first type is the remediation's: the account summary never starts it.
    resource_types=("AWS::EC2::Instance", "AWS::::Account"),
    parameters=(
        Parameter(
            "ApprovedRegions",
            "Comma-separated regions where EC2 instances may run, e.g. us-east-1,eu-west-1. Instances in any other "
            "enabled region are stopped (never terminated).",
            None,
            allowed_pattern=REGION_LIST_PATTERN,
            # Every commercial region takes about 450 characters; the rule's InputParameters stay under 1,024.
            max_length=940,
            constraint="comma-separated region names (e.g. us-east-1,eu-west-1), at least one",
        ),
        MAX_EXEMPTION_DAYS,
    ),
    permissions=(
        Permission("config:PutEvaluations"),
        # rdklib marks instances gone since the last run NOT_APPLICABLE; the rule also keeps the
        # earlier findings of a region that refused to be scanned.
        Permission("config:GetComplianceDetailsByConfigRule", CONFIG_RULES),
        Permission("ec2:DescribeRegions"),
        # One call per 1,000 instances in each enabled region outside ApprovedRegions.
        Permission("ec2:DescribeInstances"),
    ),
    remediation=RemediationLink(
        document="unapproved-regions",
        resource_id_parameter="InstanceId",
        # Its paired remediation reads the list parameters from the deployed rule (mamori.deployed_rule).
        parameters=(MAX_EXEMPTION_DAYS.name,),
    ),
    # Every region is asked at once, but a region with many instances is paged one call after another.
    timeout_seconds=300,
    # One full vCPU ("At 1,769 MB, a function has the equivalent of one vCPU", Lambda Developer
    # Guide, Configure Lambda function memory): what the concurrent scan leaves is CPU under one
    # interpreter lock, which can use one vCPU and no more. It also holds a client per region
    # (~1.4 MB each) and up to one 1,000-instance page per region being parsed (~20 MB each).
    # See README.md, "Cost".
    memory_mb=1769,
)
