"""mamori-abuse-responder: what it acts on and everything it may call.

It starts the open-proxy rule's paired remediation (starts_remediation_of): the generator grants
the start of that document and iam:PassRole of its role (to SSM only), and fills the environment
from the rule's RemediationLink, so the automation gets the same parameters as the rule's
RemediationConfiguration passes.

It also tracks every abuse report as a case (mamori.abuse_cases): the OpsItem, a read-only look at
the reported resources' security groups, and one EventBridge Scheduler schedule per open case that
invokes this function again to remind people (with AbuseReminderRole, which it passes to Scheduler
only).
"""

from mamori.abuse_cases import SCHEDULE_GROUP
from mamori.abuse_events import DETAIL_TYPE, SOURCE
from mamori.catalog import PUBLISH_TO_TOPIC, ROLE_PATH, Deduplicating, Permission, ResponderSpec, StatementCondition, allow

REMINDER_ROLE = "AbuseReminderRole"
PASS_REMINDER_ROLE = f"${{{REMINDER_ROLE}.Arn}}"
SCHEDULES = f"arn:${{AWS::Partition}}:scheduler:${{AWS::Region}}:${{AWS::AccountId}}:schedule/{SCHEDULE_GROUP}/*"

FUNCTION_NAME = "mamori-abuse-responder"
FUNCTION_ARN = f"arn:${{AWS::Partition}}:lambda:${{AWS::Region}}:${{AWS::AccountId}}:function:{FUNCTION_NAME}"

# The same report arriving twice (us-east-1 and its backup us-west-2) is told once.
DEDUPLICATION = Deduplicating("abuse-responder")

RESPONDER = ResponderSpec(
    id="abuse-events",
    function_name=FUNCTION_NAME,
    description=(
        "Tracks every AWS Health abuse report as an OpsItem with a reply draft and reminders; runs "
        "mamori-open-proxy-ports on the security groups an open-proxy report names."
    ),
    permissions=(
        Permission("ec2:DescribeInstances"),
        Permission("ec2:DescribeNetworkInterfaces"),
        # What mamori found, read-only: the reported groups' inbound rules, judged with the deployed
        # rule's ProxyPorts and TrustedCidrs.
        Permission("ec2:DescribeSecurityGroupRules"),
        Permission("config:DescribeConfigRules"),
        # The case and its reminders.
        Permission("ssm:CreateOpsItem"),
        Permission("ssm:GetOpsItem", "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:opsitem/*"),
        *allow("scheduler:CreateSchedule", "scheduler:UpdateSchedule", "scheduler:DeleteSchedule", on=SCHEDULES),
        Permission("iam:PassRole", PASS_REMINDER_ROLE),
        # The groups' tags: the message names every exemption the report overrides.
        Permission("ec2:DescribeSecurityGroups"),
        *PUBLISH_TO_TOPIC,
        *DEDUPLICATION.permissions,
    ),
    statement_conditions=(
        DEDUPLICATION.condition,
        StatementCondition(
            ("iam:PassRole",), {"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}}, PASS_REMINDER_ROLE
        ),
    ),
    events={"AbuseEvent": {"source": [SOURCE], "detail-type": [DETAIL_TYPE]}},
    environment={
        "TOPIC_ARN": {"Ref": "NotificationTopic"},
        # Remediation only when AbuseResponse and AutoRemediation are both on; the case always.
        "CONTAIN": {"Fn::If": ["AbuseResponseOn", "true", "false"]},
        "REMINDER_ROLE_ARN": {"Fn::GetAtt": [REMINDER_ROLE, "Arn"]},
        **DEDUPLICATION.environment,
    },
    resources={
        # Scheduler invokes the responder with this role to remind people; nothing else.
        REMINDER_ROLE: {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "Description": "Lets EventBridge Scheduler invoke mamori-abuse-responder for abuse-case reminders, nothing else.",
                "Path": ROLE_PATH,
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "scheduler.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                            "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}},
                        }
                    ],
                },
                "Policies": [
                    {
                        "PolicyName": "remind",
                        "PolicyDocument": {
                            "Version": "2012-10-17",
                            "Statement": [
                                {
                                    "Effect": "Allow",
                                    "Action": "lambda:InvokeFunction",
                                    # By name, not GetAtt: the responder's role names this role (a cycle otherwise).
                                    "Resource": {"Fn::Sub": FUNCTION_ARN},
                                }
                            ],
                        },
                    }
                ],
            },
        },
        "AbuseCaseSchedules": {"Type": "AWS::Scheduler::ScheduleGroup", "Properties": {"Name": SCHEDULE_GROUP}},
    },
    # The case is tracked whenever AbuseResponse is on; CONTAIN says whether it also remediates.
    condition="AbuseCasesOn",
    starts_remediation_of="open-proxy-ports",
)
