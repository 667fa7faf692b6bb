"""mamori-central-responder: everything it may call, and where its environment comes from.

tools/org_resources.py generates the responder's role from PERMISSIONS (adding the conditions a
Permission cannot express) and its environment from ENVIRONMENT. Calls made with the root
session's credentials (iam:ListAccessKeys, GetAccessKeyLastUsed, DeleteAccessKey,
GetLoginProfile, ListMFADevices, DeleteLoginProfile in the member) are authorized by the
IAMDeleteRootUserCredentials task policy, not by this role: they are not granted here.
"""

from mamori.catalog import PUBLISH_TO_TOPIC, Permission

FUNCTION_NAME = "mamori-central-responder"
# The AWS managed task policy every root session is scoped to (mamori.central builds the ARN
# for the partition; IAM checks it with the sts:TaskPolicyArn condition key).
TASK_POLICY = "arn:${AWS::Partition}:iam::aws:policy/root-task/IAMDeleteRootUserCredentials"
# Member accounts of any organization: the API itself admits only this organization's.
MEMBER_ROOTS = "arn:${AWS::Partition}:iam::*:root"
# account:Get/PutAlternateContact with AccountId act on the `accountInOrganization` resource
# arn:<partition>:account::<management account>:account/o-<org>/<member>; a delegated
# administrator calls it too, so the management account's id is not this account's.
MEMBER_ACCOUNTS = "arn:${AWS::Partition}:account::*:account/o-*/*"
# organizations:DescribeAccount's resource: arn:<partition>:organizations::<management>:account/o-<org>/<id>.
ORGANIZATION_ACCOUNTS = "arn:${AWS::Partition}:organizations::*:account/o-*/*"
RECORDS = "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/mamori/central/*"

PERMISSIONS = (
    # Which organization this is, and whether the account is an ACTIVE member of it.
    Permission("organizations:DescribeOrganization"),
    Permission("organizations:DescribeAccount", ORGANIZATION_ACCOUNTS),
    # Whether centralized root access is enabled.
    Permission("iam:ListOrganizationsFeatures"),
    # The root session in a member (condition: only the IAMDeleteRootUserCredentials task policy).
    Permission("sts:AssumeRoot", MEMBER_ROOTS),
    # The member's SECURITY contact (condition: SECURITY only).
    Permission("account:GetAlternateContact", MEMBER_ACCOUNTS),
    Permission("account:PutAlternateContact", MEMBER_ACCOUNTS),
    # Records of what was deleted or replaced, kept with what earlier runs recorded.
    Permission("ssm:GetParameter", RECORDS),
    Permission("ssm:PutParameter", RECORDS),
    *PUBLISH_TO_TOPIC,
)

# Environment variable -> the template's logical id (pack parameter or resource) whose Ref it holds.
ENVIRONMENT = {
    "TOPIC_ARN": "NotificationTopic",
    "EXPECTED_SECURITY_EMAIL": "ExpectedSecurityEmail",
    "SECURITY_CONTACT_NAME": "SecurityContactName",
    "SECURITY_CONTACT_TITLE": "SecurityContactTitle",
    "SECURITY_CONTACT_PHONE": "SecurityContactPhone",
    "CENTRAL_ROOT_PASSWORD_REMOVAL": "CentralRootPasswordRemoval",
}
