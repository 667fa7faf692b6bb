"""mamori-notifier: compliance changes of mamori rules, AWS Health abuse events and the
forwarders' dead-letter alarms, formatted for people and published to the pack's topic. It only
publishes, at most once per message (mamori.deduplication)."""

from mamori.abuse_events import DETAIL_TYPE, SOURCE
from mamori.catalog import PUBLISH_TO_TOPIC, Deduplicating, ResponderSpec

# An AWS Health event forwarded from us-east-1 and from us-west-2, or delivered twice, is told once.
DEDUPLICATION = Deduplicating("notifier")

RESPONDER = ResponderSpec(
    id="notifications",
    function_name="mamori-notifier",
    description="Formats mamori compliance changes and AWS Health abuse events for people, publishes them.",
    role_description=(
        "Runs mamori-notifier; writes its logs, publishes to the mamori topic and remembers what it told "
        "(its own keys of mamori-deduplication), nothing else."
    ),
    permissions=(*PUBLISH_TO_TOPIC, *DEDUPLICATION.permissions),
    statement_conditions=(DEDUPLICATION.condition,),
    events={
        "ComplianceChange": {
            "source": ["aws.config"],
            "detail-type": ["Config Rules Compliance Change"],
            "detail": {"configRuleName": [{"prefix": "mamori-"}]},
        },
        "AbuseEvent": {"source": [SOURCE], "detail-type": [DETAIL_TYPE]},
        # The dead-letter alarm of the forwarders in us-east-1 and us-west-2, forwarded here
        # (template/abuse-event-forwarder.yaml): alarms tell only topics of their own region.
        "ForwarderAlarm": {
            "source": ["aws.cloudwatch"],
            "detail-type": ["CloudWatch Alarm State Change"],
            "detail": {"alarmName": ["mamori-forwarder-dead-letters"], "state": {"value": ["ALARM"]}},
        },
    },
    environment={
        "TOPIC_ARN": {"Ref": "NotificationTopic"},
        # Whether mamori-abuse-responder is deployed, so the message says what happens next.
        "ABUSE_RESPONSE": {"Fn::If": ["AbuseResponseOn", "on", "off"]},
        **DEDUPLICATION.environment,
        # How far ahead an exemption may end, so that the message says it.
        "MAX_EXEMPTION_DAYS": {"Ref": "MaxExemptionDays"},
    },
    timeout_seconds=30,
)
