"""The two documents of the open-proxy-ports remediation and what each may call."""

from mamori.catalog import DocumentParameter, Permission, RemediationSpec, document, record_permissions
from mamori.exposure import DEFAULT_PROXY_PORTS, format_ports
from mamori.security_groups import GROUP_ID_PATTERN

SECURITY_GROUP = "arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:security-group/*"

GROUP = DocumentParameter("GroupId", "String", "The security group to fix.", allowed_pattern=f"^{GROUP_ID_PATTERN}$")

REMEDIATION = RemediationSpec(
    id="open-proxy-ports",
    remediate=document(
        "open-proxy-ports",
        description=(
            "Revokes the inbound entries of a security group that let the internet reach a proxy port "
            "(re-checked on the live group), keeps other ports of a wide entry open, records what it "
            "changed for mamori-open-proxy-ports-restore. Skips groups tagged mamori:exempt."
        ),
        parameters=(
            GROUP,
            DocumentParameter(
                "ProxyPorts",
                "String",
                "Comma-separated proxy ports (the rule's ProxyPorts).",
                default=format_ports(DEFAULT_PROXY_PORTS),
            ),
            DocumentParameter(
                "TrustedCidrs", "String", "Sources that are never the internet (the rule's TrustedCidrs).", default=""
            ),
        ),
        permissions=(
            Permission("ec2:DescribeSecurityGroups"),
            Permission("ec2:DescribeSecurityGroupRules"),
            Permission("ec2:DescribeManagedPrefixLists"),
            Permission("ec2:GetManagedPrefixListEntries"),
            Permission("ec2:AuthorizeSecurityGroupIngress", SECURITY_GROUP),
            Permission("ec2:RevokeSecurityGroupIngress", SECURITY_GROUP),
            Permission("ec2:CreateTags", SECURITY_GROUP),
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
            Permission("ec2:DescribeSecurityGroups"),
            Permission("ec2:DescribeSecurityGroupRules"),
            Permission("ec2:AuthorizeSecurityGroupIngress", SECURITY_GROUP),
            Permission("ec2:RevokeSecurityGroupIngress", SECURITY_GROUP),
            Permission("ec2:DeleteTags", SECURITY_GROUP),
            *record_permissions("open-proxy-ports", "DeleteParameter"),
        ),
        outputs=(("Restored", "StringList"), ("Removed", "StringList")),
    ),
)
