"""mamori-abuse-responder: what it starts and everything it may call.

tools/build_template.py generates the responder's role from PERMISSIONS and fills its
environment from the RemediationLink of REMEDIATION_RULE, so the automation gets the same
parameters as the rule's RemediationConfiguration passes.
"""

from mamori.catalog import PUBLISH_TO_TOPIC, Permission

FUNCTION_NAME = "mamori-abuse-responder"
# The rule whose paired remediation an open-proxy report triggers, and that document.
REMEDIATION_RULE = "open-proxy-ports"
DOCUMENT = "mamori-open-proxy-ports"
DOCUMENT_ROLE = "OpenProxyPortsAutomationRole"  # its automation role's logical id (checked by the generator)

PERMISSIONS = (
    Permission("ec2:DescribeInstances"),
    Permission("ec2:DescribeNetworkInterfaces"),
    Permission(
        "ssm:StartAutomationExecution",
        f"arn:${{AWS::Partition}}:ssm:${{AWS::Region}}:${{AWS::AccountId}}:automation-definition/{DOCUMENT}:*",
    ),
    # StartAutomationExecution with an AutomationAssumeRole passes that role to SSM.
    Permission("iam:PassRole", f"${{{DOCUMENT_ROLE}.Arn}}"),
    *PUBLISH_TO_TOPIC,
)
