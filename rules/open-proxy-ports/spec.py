"""mamori-open-proxy-ports: what the rule is, what it takes, what it may call."""

from mamori.catalog import FREQUENCIES, MAX_EXEMPTION_DAYS, PREFIX_LISTS, Parameter, Permission, RemediationLink, RuleSpec
from mamori.exposure import DEFAULT_PROXY_PORTS, PROXY_PORTS_PATTERN, TRUSTED_PATTERN, format_ports

RULE = RuleSpec(
    id="open-proxy-ports",
    description=(
        "NON_COMPLIANT when a security group lets the internet (0.0.0.0/0, ::/0 or a public "
        "range as wide) reach a proxy port over tcp or all protocols."
    ),
    trigger="configuration-change",
    resource_types=("AWS::EC2::SecurityGroup",),
    regional=True,  # security groups live in a region: the rule runs in every region
    # Besides each change, every group of the region, at once: what no change event tells (a
    # prefix list that changed, an evaluation lost) is caught within this period.
    sweep=Parameter(
        "OpenProxySweepFrequency",
        "How often mamori-open-proxy-ports also evaluates every security group of the region at once, besides "
        "each change (AWS Config MaximumExecutionFrequency).",
        "TwentyFour_Hours",
        allowed_values=FREQUENCIES,
    ),
    parameters=(
        Parameter(
            "ProxyPorts",
            "Comma-separated TCP ports (or ranges like 8000-8100) that must never be open to the internet.",
            format_ports(DEFAULT_PROXY_PORTS),
            allowed_pattern=PROXY_PORTS_PATTERN,
            constraint="comma-separated TCP ports 1-65535 or ranges low-high (e.g. 1080,3128,8000-8100)",
        ),
        Parameter(
            "TrustedCidrs",
            "Comma-separated CIDRs or prefix list ids that are never the internet (e.g. your office range). Empty for none.",
            "",
            allowed_pattern=TRUSTED_PATTERN,
            # With ProxyPorts (256), the rule's InputParameters stay under Config's 1,024 characters.
            max_length=640,
            constraint="empty, or comma-separated CIDRs (203.0.113.0/24, 2001:db8::/32) and prefix list ids (pl-...)",
        ),
        MAX_EXEMPTION_DAYS,
    ),
    permissions=(
        Permission("config:PutEvaluations"),
        # Oversized configuration items are fetched by rdklib.
        Permission("config:GetResourceConfigHistory"),
        # Only when a group references a prefix list (cached a minute per container; once per list in a sweep).
        Permission("ec2:DescribeManagedPrefixLists"),
        Permission("ec2:GetManagedPrefixListEntries", PREFIX_LISTS),
        # The periodic sweep: every group of the region, 1,000 a call.
        Permission("ec2:DescribeSecurityGroups"),
    ),
    remediation=RemediationLink(
        document="open-proxy-ports",
        resource_id_parameter="GroupId",
        # Its paired remediation reads the list parameters from the deployed rule (mamori.deployed_rule).
        parameters=(MAX_EXEMPTION_DAYS.name,),
        maximum_automatic_attempts=3,
        retry_attempt_seconds=120,
    ),
)
