"""mamori-guardduty-enabled: what the rule is, what it takes, what it may call."""

from mamori.catalog import Permission, RemediationLink, RuleSpec

DETECTORS = "arn:${AWS::Partition}:guardduty:*:${AWS::AccountId}:detector/*"

RULE = RuleSpec(
    id="guardduty-enabled",
    description=(
        "NON_COMPLIANT when GuardDuty is off (no detector, or a suspended one) in any enabled region of the account; "
        "regions that refuse to be checked (an SCP, not opted in) are named and skipped. Deploy in the home region only."
    ),
    trigger="periodic",
    # GuardDuty's state rarely changes; daily is what AWS's own guardduty-enabled-centralized rule uses.
    frequency="TwentyFour_Hours",
    resource_types=("AWS::::Account",),
    permissions=(
        # No GetComplianceDetailsByConfigRule: the only resource is the account, evaluated again each time.
        Permission("config:PutEvaluations"),
        Permission("ec2:DescribeRegions"),
        # ListDetectors takes no resource ("*"); GetDetector is scoped to the account's detectors.
        Permission("guardduty:ListDetectors"),
        Permission("guardduty:GetDetector", DETECTORS),
    ),
    remediation=RemediationLink(
        document="guardduty-enabled",
        resource_id_parameter="AccountId",
        maximum_automatic_attempts=3,
        retry_attempt_seconds=300,
    ),
    # Every enabled region is asked at once, but a throttled region retries with backoff.
    timeout_seconds=300,
)
