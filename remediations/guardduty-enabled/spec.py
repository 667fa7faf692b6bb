"""The two documents of the guardduty-enabled remediation and what each may call."""

from mamori.catalog import ACCOUNT_ID, AUTOMATION_ASSUME_ROLE, DRY_RUN, DocumentSpec, Permission, RemediationSpec

DETECTORS = "arn:${AWS::Partition}:guardduty:*:${AWS::AccountId}:detector/*"
RECORDS = "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/mamori/guardduty-enabled/*"
# GuardDuty creates this role with the caller's permission the first time a detector is
# created in the account (GuardDuty user guide, "Creating a service-linked role for GuardDuty").
SERVICE_LINKED_ROLE = (
    "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/aws-service-role/guardduty.amazonaws.com/AWSServiceRoleForAmazonGuardDuty"
)

REMEDIATION = RemediationSpec(
    id="guardduty-enabled",
    remediate=DocumentSpec(
        name="mamori-guardduty-enabled",
        description=(
            "Re-checks GuardDuty in every enabled region (with mamori-guardduty-enabled's own code), records what it is "
            "about to do at /mamori/guardduty-enabled/<account>, then creates a detector where there is none and enables "
            "suspended ones, and re-checks. Regions that refuse to be checked are reported, not changed."
        ),
        script="remediate.py",
        parameters=(AUTOMATION_ASSUME_ROLE, ACCOUNT_ID, DRY_RUN),
        permissions=(
            Permission("ec2:DescribeRegions"),
            Permission("guardduty:ListDetectors"),
            Permission("guardduty:GetDetector", DETECTORS),
            # CreateDetector takes no resource; its Tags are authorized as guardduty:TagResource
            # on the new detector (service authorization reference, API operations table).
            Permission("guardduty:CreateDetector"),
            Permission("guardduty:TagResource", DETECTORS),
            Permission("guardduty:UpdateDetector", DETECTORS),
            Permission("iam:CreateServiceLinkedRole", SERVICE_LINKED_ROLE),
            Permission("ssm:GetParameter", RECORDS),
            Permission("ssm:PutParameter", RECORDS),
        ),
        outputs=(
            ("Status", "String"),
            ("Message", "String"),
            ("Created", "StringList"),
            ("Enabled", "StringList"),
            ("Refused", "StringList"),
        ),
    ),
    restore=DocumentSpec(
        name="mamori-guardduty-enabled-restore",
        description=(
            "Deletes the GuardDuty detectors mamori-guardduty-enabled created (their findings are lost) and suspends the "
            "ones it enabled, as recorded at /mamori/guardduty-enabled/<account>. Set AutoRemediation to false first, "
            "or automatic remediation turns GuardDuty on again."
        ),
        script="restore.py",
        parameters=(AUTOMATION_ASSUME_ROLE, ACCOUNT_ID, DRY_RUN),
        permissions=(
            Permission("guardduty:ListDetectors"),
            Permission("guardduty:GetDetector", DETECTORS),
            Permission("guardduty:DeleteDetector", DETECTORS),
            Permission("guardduty:UpdateDetector", DETECTORS),
            Permission("ssm:GetParameter", RECORDS),
            # Keeps the entries of regions that could not be restored.
            Permission("ssm:PutParameter", RECORDS),
            Permission("ssm:DeleteParameter", RECORDS),
        ),
        outputs=(
            ("Status", "String"),
            ("Message", "String"),
            ("Deleted", "StringList"),
            ("Suspended", "StringList"),
            ("Kept", "StringList"),
        ),
    ),
)
