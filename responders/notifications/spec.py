"""mamori-notifier: compliance changes of mamori rules and AWS Health abuse events, formatted for
people and published to the pack's topic. It only publishes."""

from mamori.abuse_events import DETAIL_TYPE, SOURCE
from mamori.catalog import PUBLISH_TO_TOPIC, ResponderSpec

RESPONDER = ResponderSpec(
    id="notifications",
    function_name="mamori-notifier",
    description="Formats mamori compliance changes and AWS Health abuse events for people, publishes them.",
    role_description="Runs mamori-notifier; writes its logs and publishes to the mamori topic, nothing else.",
    permissions=PUBLISH_TO_TOPIC,
    events={
        "ComplianceChange": {
            "source": ["aws.config"],
            "detail-type": ["Config Rules Compliance Change"],
            "detail": {"configRuleName": [{"prefix": "mamori-"}]},
        },
        "AbuseEvent": {"source": [SOURCE], "detail-type": [DETAIL_TYPE]},
    },
    environment={
        "TOPIC_ARN": {"Ref": "NotificationTopic"},
        # Whether mamori-abuse-responder is deployed, so the message says what happens next.
        "ABUSE_RESPONSE": {"Fn::If": ["AbuseResponseOn", "on", "off"]},
        # How far ahead an exemption may end, so that the message says it.
        "MAX_EXEMPTION_DAYS": {"Ref": "MaxExemptionDays"},
    },
    timeout_seconds=30,
)
