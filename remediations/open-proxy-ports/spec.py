"""The two documents of the open-proxy-ports remediation and what each may call."""

from mamori.catalog import Permission, RemediationSpec, allow, document, record_permissions, text_parameter
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
            "changed for mamori-open-proxy-ports-restore. Skips groups tagged mamori:exempt."
        ),
        # ProxyPorts and TrustedCidrs are the deployed rule's (mamori.deployed_rule).
        parameters=(GROUP,),
        permissions=(
            Permission("config:DescribeConfigRules"),
            *allow(
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeSecurityGroupRules",
                "ec2:DescribeManagedPrefixLists",
                "ec2:GetManagedPrefixListEntries",
            ),
            *allow("ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress", "ec2:CreateTags", on=SECURITY_GROUP),
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
            *allow("ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress", "ec2:DeleteTags", on=SECURITY_GROUP),
            *record_permissions("open-proxy-ports", "DeleteParameter"),
        ),
        outputs=(("Restored", "StringList"), ("Removed", "StringList")),
    ),
)
