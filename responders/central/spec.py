"""mamori-central-responder: what it acts on, everything it may call, and where its environment
comes from. It belongs to the organization template only: a single account has no members.

Calls made with the root session's credentials (iam:ListAccessKeys, GetAccessKeyLastUsed,
DeleteAccessKey, GetLoginProfile, ListMFADevices, DeleteLoginProfile in the member) are
authorized by the IAMDeleteRootUserCredentials task policy, not by this role: they are not
granted here.
"""

from mamori.catalog import (
    PUBLISH_TO_TOPIC,
    Deduplicating,
    Parameter,
    Permission,
    ResponderSpec,
    StatementCondition,
    record_key_permissions,
)
from mamori.central.events import (
    ACCOUNT_RESOURCE_TYPE,
    DETAIL_TYPE,
    EXPOSED_KEY_CODE,
    HEALTH_DETAIL_TYPE,
    HEALTH_SOURCE,
    RULES,
    SOURCE,
)
from mamori.compliance import NON_COMPLIANT

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
PASSWORD_REMOVAL = "CentralRootPasswordRemoval"
# A member that flips a rule back to NON_COMPLIANT again and again is told about once per window.
DEDUPLICATION = Deduplicating("central")
# template/org.yaml: the bus members send their compliance changes to.
CENTRAL_BUS = "CentralEventBus"

RESPONDER = ResponderSpec(
    id="central",
    function_name="mamori-central-responder",
    template="org",
    description=(
        "Deletes member root access keys (and optionally root passwords) with sts:AssumeRoot, and sets member "
        "SECURITY contacts, on the members' mamori compliance changes."
    ),
    role_description=(
        "Runs mamori-central-responder: opens root sessions in member accounts (IAMDeleteRootUserCredentials only) and "
        "sets their SECURITY contacts; only the actions its code calls."
    ),
    permissions=(
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
        # ... signed with the pack's record key, and verified before they are merged.
        *record_key_permissions(signs=True),
        *PUBLISH_TO_TOPIC,
        *DEDUPLICATION.permissions,
    ),
    statement_conditions=(
        DEDUPLICATION.condition,
        # Only the task policy that deletes root credentials: no other root task, ever.
        StatementCondition(("sts:AssumeRoot",), {"StringEquals": {"sts:TaskPolicyArn": {"Fn::Sub": TASK_POLICY}}}),
        # The SECURITY contact only, never BILLING or OPERATIONS (a multi-valued key: ForAnyValue).
        StatementCondition(
            ("account:GetAlternateContact", "account:PutAlternateContact"),
            {"ForAnyValue:StringEquals": {"account:AlternateContactTypes": ["SECURITY"]}},
        ),
    ),
    # The three rules' changes to NON_COMPLIANT, from accounts other than this one (its own
    # stack remediates this account; the code refuses it too), on the bus only they may put to.
    event_bus=CENTRAL_BUS,
    # AWS Health delivers the organizational view to the default bus (no member can put an
    # aws.* event anywhere: EventBridge refuses aws. sources from PutEvents).
    default_bus_events=("MemberExposedKey",),
    events={
        "MemberComplianceChange": {
            "source": [SOURCE],
            "detail-type": [DETAIL_TYPE],
            "account": [{"anything-but": {"Ref": "AWS::AccountId"}}],
            "detail": {
                "configRuleName": list(RULES),
                "resourceType": [ACCOUNT_RESOURCE_TYPE],
                "newEvaluationResult": {"complianceType": [NON_COMPLIANT]},
            },
        },
        # AWS Health's organizational view: a member's access key found in public. If it is the
        # member's root key, the member cannot delete it itself; the code finds out in a root session.
        "MemberExposedKey": {
            "source": [HEALTH_SOURCE],
            "detail-type": [HEALTH_DETAIL_TYPE],
            "detail": {"eventTypeCode": [EXPOSED_KEY_CODE]},
        },
    },
    environment={
        "TOPIC_ARN": {"Ref": "NotificationTopic"},
        "EXPECTED_SECURITY_EMAIL": {"Ref": "ExpectedSecurityEmail"},
        "SECURITY_CONTACT_NAME": {"Ref": "SecurityContactName"},
        "SECURITY_CONTACT_TITLE": {"Ref": "SecurityContactTitle"},
        "SECURITY_CONTACT_PHONE": {"Ref": "SecurityContactPhone"},
        "CENTRAL_ROOT_PASSWORD_REMOVAL": {"Ref": PASSWORD_REMOVAL},
        "LEAKED_KEY_RESPONSE": {"Ref": "LeakedKeyResponse"},
        # sts:AssumeRoot is refused on the global endpoint: make sure an older runtime boto3 uses the regional one.
        "AWS_STS_REGIONAL_ENDPOINTS": "regional",
        **DEDUPLICATION.environment,
    },
    parameters=(
        Parameter(
            PASSWORD_REMOVAL,
            '"true": when mamori-root-mfa finds a member root user with a password and no MFA, '
            "mamori-central-responder removes that password through centralized root access (recorded first; "
            "root can sign in again only after password recovery is allowed). Root access keys are deleted "
            "whatever this says.",
            "false",
            allowed_values=("true", "false"),
        ),
    ),
    # Deleting root keys is remediation: with AutoRemediation "false" (only report) the responder
    # is not deployed, as the abuse responder is not (template/base.yaml's condition).
    condition="AutoRemediationOn",
    # mamori.central goes with this function only (its Makefile), not in the members' layer.
    bundles_mamori=True,
)
