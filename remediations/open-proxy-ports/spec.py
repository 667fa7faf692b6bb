"""The two documents of the open-proxy-ports remediation and what each may call."""

from mamori.catalog import (
    MAX_EXEMPTION_DAYS_INPUT,
    ONLY_MAMORI_TAGS,
    PREFIX_LISTS,
    TAGGED_BY_MAMORI,
    Permission,
    RemediationSpec,
    allow,
    document,
    record_permissions,
    text_parameter,
)
from mamori.exemption import ABUSE_CODE_PATTERN, EVENT_ARN_PATTERN
from mamori.security_groups import GROUP_ID_PATTERN

SECURITY_GROUP = "arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:security-group/*"

GROUP = text_parameter("GroupId", "The security group to fix.", pattern=GROUP_ID_PATTERN)

REMEDIATION = RemediationSpec(
    id="open-proxy-ports",
    remediate=document(
        "open-proxy-ports",
        description=(
            "Revokes the inbound entries of a security group that let the internet reach a proxy port "
            "(re-checked on the live group), keeps other ports of a wide entry open, records what it "
            "changed for mamori-open-proxy-ports-restore. Skips groups tagged mamori:exempt, unless AbuseReport names "
            "an AWS abuse report."
        ),
        # ProxyPorts and TrustedCidrs are the deployed rule's (mamori.deployed_rule).
        parameters=(
            GROUP,
            # Set by mamori-abuse-responder only: an abuse report overrides mamori:exempt.
            text_parameter(
                "AbuseReport",
                "The AWS Health abuse event (ARN or AWS_ABUSE_ code) this run answers; it overrides mamori:exempt. "
                "Empty: exempt groups are skipped.",
                "",
                f"$|^{EVENT_ARN_PATTERN}$|^{ABUSE_CODE_PATTERN}",
            ),
            MAX_EXEMPTION_DAYS_INPUT,
        ),
        permissions=(
            Permission("config:DescribeConfigRules"),
            *allow("ec2:DescribeSecurityGroups", "ec2:DescribeSecurityGroupRules", "ec2:DescribeManagedPrefixLists"),
            Permission("ec2:GetManagedPrefixListEntries", PREFIX_LISTS),
            # Not narrower: the group carries no mark of mamori's before this run changes it (the tag
            # is written after), and IAM has no condition on the entries a call adds or revokes.
            *allow("ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress", on=SECURITY_GROUP),
            *allow("ec2:CreateTags", on=SECURITY_GROUP, when=ONLY_MAMORI_TAGS),
            *record_permissions("open-proxy-ports", "PutParameter"),
        ),
        outputs=(("Revoked", "StringList"), ("KeptOpen", "StringList"), ("Dropped", "StringList")),
    ),
    restore=document(
        "open-proxy-ports",
        restore=True,
        description=(
            "Puts back the inbound entries mamori-open-proxy-ports revoked from a security group and removes "
            "the narrower entries it added. Tag the group mamori:exempt first, or automatic remediation revokes them again."
        ),
        parameters=(GROUP,),
        permissions=(
            *allow("ec2:DescribeSecurityGroups", "ec2:DescribeSecurityGroupRules"),
            # Only groups mamori changed (they carry its tag until the restore is done).
            *allow(
                "ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress", on=SECURITY_GROUP, when=TAGGED_BY_MAMORI
            ),
            *allow("ec2:DeleteTags", on=SECURITY_GROUP, when=ONLY_MAMORI_TAGS),
            *record_permissions("open-proxy-ports", "DeleteParameter"),
        ),
        outputs=(("Restored", "StringList"), ("Removed", "StringList")),
    ),
)
