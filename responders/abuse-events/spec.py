"""mamori-abuse-responder: what it acts on and everything it may call.

It starts the open-proxy rule's paired remediation (starts_remediation_of): the generator grants
the start of that document and iam:PassRole of its role (to SSM only), and fills the environment
from the rule's RemediationLink, so the automation gets the same parameters as the rule's
RemediationConfiguration passes.
"""

from mamori.abuse_events import DETAIL_TYPE, SOURCE
from mamori.catalog import PUBLISH_TO_TOPIC, Deduplicating, Permission, ResponderSpec

# The same report arriving twice (us-east-1 and its backup us-west-2) is told once.
DEDUPLICATION = Deduplicating("abuse-responder")

RESPONDER = ResponderSpec(
    id="abuse-events",
    function_name="mamori-abuse-responder",
    description="Runs mamori-open-proxy-ports on the security groups named by an AWS Health open-proxy abuse report.",
    permissions=(
        Permission("ec2:DescribeInstances"),
        Permission("ec2:DescribeNetworkInterfaces"),
        # The groups' tags: the message names every exemption the report overrides.
        Permission("ec2:DescribeSecurityGroups"),
        *PUBLISH_TO_TOPIC,
        *DEDUPLICATION.permissions,
    ),
    statement_conditions=(DEDUPLICATION.condition,),
    events={"AbuseEvent": {"source": [SOURCE], "detail-type": [DETAIL_TYPE]}},
    environment={"TOPIC_ARN": {"Ref": "NotificationTopic"}, **DEDUPLICATION.environment},
    # It changes security groups: off when AbuseResponse or AutoRemediation is "false" (template/base.yaml).
    condition="AbuseResponseOn",
    starts_remediation_of="open-proxy-ports",
)
