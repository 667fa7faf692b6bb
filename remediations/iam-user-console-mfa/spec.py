"""The two documents of the iam-user-console-mfa remediation, what each may call, and the
managed policy the remediation attaches."""

from typing import Any

from mamori.catalog import (
    IAM_USERS,
    MAX_EXEMPTION_DAYS_INPUT,
    ONLY_MAMORI_TAGS,
    TAGGED_BY_MAMORI,
    USER_ID,
    Permission,
    RemediationSpec,
    all_of,
    allow,
    document,
    text_parameter,
)
from mamori.console_mfa import DEFAULT_GRACE_HOURS, DENY_POLICY_NAME, DENY_POLICY_PATH

OWN_USER = [
    "arn:${AWS::Partition}:iam::${AWS::AccountId}:user/${!aws:username}",
    "arn:${AWS::Partition}:iam::${AWS::AccountId}:user/*/${!aws:username}",  # users with a path
]

# The pack's policy as CloudFormation names it (mamori.console_mfa.deny_policy_arn, in the code).
DENY_POLICY_ARN_SUB = (
    "arn:${AWS::Partition}:iam::${AWS::AccountId}:policy" + DENY_POLICY_PATH + DENY_POLICY_NAME + "-${AWS::Region}"
)
# The role attaches and detaches this policy and no other (IAM offers iam:PolicyARN on both actions).
ONLY_THE_PACK_POLICY = {"ArnEquals": {"iam:PolicyARN": DENY_POLICY_ARN_SUB}}

# AWS's documented example "BlockMostAccessUnlessSignedInWithMFA" (IAM User Guide: allows
# MFA-authenticated IAM users to manage their own MFA device): without MFA, a user may only
# see the password policy, change their own password and set up their own MFA device.
# BoolIfExists matters: a request signed with a long-term access key carries no
# aws:MultiFactorAuthPresent at all, and plain Bool would let it through; BoolIfExists
# denies it too, so a leaked password cannot be turned into working access keys either.
# The user's own keys work again once used with MFA (sts:GetSessionToken with the device).
NO_MFA_ALLOWED = [
    "iam:ChangePassword",
    "iam:CreateVirtualMFADevice",
    "iam:EnableMFADevice",
    "iam:GetAccountPasswordPolicy",
    "iam:GetUser",
    "iam:ListMFADevices",
    "iam:ListVirtualMFADevices",
    "iam:ResyncMFADevice",
    "sts:GetSessionToken",
]
DENY_WITHOUT_MFA_POLICY: dict[str, Any] = {
    "Type": "AWS::IAM::ManagedPolicy",
    "Properties": {
        "ManagedPolicyName": {"Fn::Sub": f"{DENY_POLICY_NAME}-${{AWS::Region}}"},
        "Path": DENY_POLICY_PATH,
        "Description": (
            "Attached by mamori-iam-user-console-mfa to users with a console password and no MFA: denies everything "
            "but changing one's own password and setting up one's own MFA device until the user signs in with MFA. "
            "Detached by mamori-iam-user-console-mfa-restore."
        ),
        "PolicyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AllowViewAccountInfo",
                    "Effect": "Allow",
                    "Action": ["iam:GetAccountPasswordPolicy", "iam:ListVirtualMFADevices"],
                    "Resource": "*",
                },
                {
                    "Sid": "AllowCreateVirtualMFADevice",
                    "Effect": "Allow",
                    "Action": "iam:CreateVirtualMFADevice",
                    "Resource": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:mfa/*"},
                },
                {
                    "Sid": "AllowManageOwnPasswordAndMFA",
                    "Effect": "Allow",
                    "Action": [
                        "iam:ChangePassword",
                        "iam:DeactivateMFADevice",
                        "iam:EnableMFADevice",
                        "iam:GetUser",
                        "iam:ListMFADevices",
                        "iam:ResyncMFADevice",
                    ],
                    "Resource": [{"Fn::Sub": arn} for arn in OWN_USER],
                },
                {
                    "Sid": "DenyAllExceptListedIfNoMFA",
                    "Effect": "Deny",
                    "NotAction": NO_MFA_ALLOWED,
                    "Resource": "*",
                    "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}},
                },
            ],
        },
    },
}

OUTPUTS = (("UserName", "String"),)

REMEDIATION = RemediationSpec(
    id="iam-user-console-mfa",
    remediate=document(
        "iam-user-console-mfa",
        description=(
            "Attaches mamori-deny-without-mfa to an IAM user with a console password and no MFA (re-checked on the "
            "live user, after the grace period): everything but setting up MFA is denied until the user signs in "
            "with MFA. Tags the user mamori:remediated. Skips users tagged mamori:exempt."
        ),
        parameters=(
            USER_ID,
            text_parameter(
                "GracePeriodHours",
                "Hours after the user's creation before MFA is required (the rule's GracePeriodHours).",
                str(DEFAULT_GRACE_HOURS),
            ),
            MAX_EXEMPTION_DAYS_INPUT,
        ),
        permissions=(
            Permission("iam:ListUsers"),
            *allow("iam:ListUserTags", "iam:GetLoginProfile", "iam:ListMFADevices", "iam:ListAttachedUserPolicies", on=IAM_USERS),
            *allow("iam:AttachUserPolicy", on=IAM_USERS, when=ONLY_THE_PACK_POLICY),
            *allow("iam:TagUser", on=IAM_USERS, when=ONLY_MAMORI_TAGS),
        ),
        outputs=OUTPUTS,
    ),
    restore=document(
        "iam-user-console-mfa",
        restore=True,
        description=(
            "Detaches mamori-deny-without-mfa from an IAM user and removes the mamori:remediated tag. Tag the user "
            "mamori:exempt first, or automatic remediation attaches the policy again."
        ),
        parameters=(USER_ID,),
        permissions=(
            Permission("iam:ListUsers"),
            *allow("iam:ListUserTags", "iam:ListAttachedUserPolicies", on=IAM_USERS),
            # Only the pack's policy, only from users mamori tagged when it attached it (user resource
            # type: aws:ResourceTag, Service Authorization Reference), and only mamori's tag.
            *allow(
                "iam:DetachUserPolicy",
                on=IAM_USERS,
                when=all_of(ONLY_THE_PACK_POLICY, TAGGED_BY_MAMORI),
            ),
            *allow("iam:UntagUser", on=IAM_USERS, when=ONLY_MAMORI_TAGS),
        ),
        outputs=(*OUTPUTS, ("Detached", "StringList")),
    ),
    resources={"DenyWithoutMfaPolicy": DENY_WITHOUT_MFA_POLICY},
)
