"""mamori-open-proxy-ports: what the rule is, what it takes, what it may call."""

from mamori.catalog import MAX_EXEMPTION_DAYS, PREFIX_LISTS, Parameter, Permission, RemediationLink, RuleSpec
from mamori.exposure import DEFAULT_PROXY_PORTS, format_ports

RULE = RuleSpec(
    id="open-proxy-ports",
    description=(
        "NON_COMPLIANT when a security group lets the internet (0.0.0.0/0, ::/0 or a public "
        "range as wide) reach a proxy port over tcp or all protocols."
    ),
    trigger="configuration-change",
    resource_types=("AWS::EC2::SecurityGroup",),
    regional=True,  # security groups live in a region: the rule runs in every region
    parameters=(
        Parameter(
            "ProxyPorts",
            "Comma-separated TCP ports (or ranges like 8000-8100) that must never be open to the internet.",
            format_ports(DEFAULT_PROXY_PORTS),
            allowed_pattern=r"^\s*\d{1,5}(\s*-\s*\d{1,5})?(\s*,\s*\d{1,5}(\s*-\s*\d{1,5})?)*\s*$",
        ),
        Parameter(
            "TrustedCidrs",
            "Comma-separated CIDRs or prefix list ids that are never the internet (e.g. your office range). Empty for none.",
            "",
        ),
        MAX_EXEMPTION_DAYS,
    ),
    permissions=(
        Permission("config:PutEvaluations"),
        # Oversized configuration items are fetched by rdklib.
        Permission("config:GetResourceConfigHistory"),
        # Only when a group references a prefix list.
        Permission("ec2:DescribeManagedPrefixLists"),
        Permission("ec2:GetManagedPrefixListEntries", PREFIX_LISTS),
    ),
    remediation=RemediationLink(
        document="open-proxy-ports",
        resource_id_parameter="GroupId",
        parameters=("ProxyPorts", "TrustedCidrs", MAX_EXEMPTION_DAYS.name),
        maximum_automatic_attempts=3,
        retry_attempt_seconds=120,
    ),
)
