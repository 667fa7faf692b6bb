"""The two documents of the guardduty-enabled remediation and what each may call."""

from mamori.catalog import (
    ACCOUNT_ID,
    ONLY_MAMORI_TAGS,
    TAGGED_BY_MAMORI,
    Permission,
    RemediationSpec,
    allow,
    document,
    record_permissions,
)

DETECTORS = "arn:${AWS::Partition}:guardduty:*:${AWS::AccountId}:detector/*"
# GuardDuty creates this role with the caller's permission the first time a detector is
# created in the account (GuardDuty user guide, "Creating a service-linked role for GuardDuty").
SERVICE_LINKED_ROLE = (
    "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/aws-service-role/guardduty.amazonaws.com/AWSServiceRoleForAmazonGuardDuty"
)

REMEDIATION = RemediationSpec(
    id="guardduty-enabled",
    remediate=document(
        "guardduty-enabled",
        description=(
            "Re-checks GuardDuty in every enabled region (with mamori-guardduty-enabled's own code), records what it is "
            "about to do at /mamori/guardduty-enabled/<account>, then creates a detector where there is none and enables "
            "suspended ones, and re-checks. Regions that refuse to be checked are reported, not changed."
        ),
        parameters=(ACCOUNT_ID,),
        permissions=(
            *allow("ec2:DescribeRegions", "guardduty:ListDetectors"),
            Permission("guardduty:GetDetector", DETECTORS),
            # CreateDetector takes no resource; its Tags are authorized as guardduty:TagResource
            # on the new detector (service authorization reference, API operations table). Both
            # only with mamori's tag, which every detector it creates or enables carries.
            *allow("guardduty:CreateDetector", when=ONLY_MAMORI_TAGS),
            *allow("guardduty:TagResource", on=DETECTORS, when=ONLY_MAMORI_TAGS),
            # Enabling a suspended detector: it is tagged first, and IAM has no condition on what an
            # update sets (Enable true or false), so this stays unconditioned (SECURITY.md).
            Permission("guardduty:UpdateDetector", DETECTORS),
            Permission("iam:CreateServiceLinkedRole", SERVICE_LINKED_ROLE),
            *record_permissions("guardduty-enabled", "PutParameter"),
        ),
        outputs=(
            ("Created", "StringList"),
            ("Enabled", "StringList"),
            ("Refused", "StringList"),
        ),
    ),
    restore=document(
        "guardduty-enabled",
        restore=True,
        description=(
            "Deletes the GuardDuty detectors mamori-guardduty-enabled created (their findings are lost) and suspends the "
            "ones it enabled, as recorded at /mamori/guardduty-enabled/<account>. Set AutoRemediation to false first, "
            "or automatic remediation turns GuardDuty on again."
        ),
        parameters=(ACCOUNT_ID,),
        permissions=(
            Permission("guardduty:ListDetectors"),
            Permission("guardduty:GetDetector", DETECTORS),
            # Only detectors mamori created or enabled: they carry its tag (detector resource type:
            # aws:ResourceTag). The tag of a suspended one goes after it is suspended.
            *allow("guardduty:DeleteDetector", "guardduty:UpdateDetector", on=DETECTORS, when=TAGGED_BY_MAMORI),
            *allow("guardduty:UntagResource", on=DETECTORS, when=ONLY_MAMORI_TAGS),
            # Keeps the entries of regions that could not be restored.
            *record_permissions("guardduty-enabled", "PutParameter", "DeleteParameter"),
        ),
        outputs=(
            ("Deleted", "StringList"),
            ("Suspended", "StringList"),
            ("Kept", "StringList"),
        ),
    ),
)
