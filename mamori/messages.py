"""The last paragraph of every message mamori publishes: how to tell it from a forgery.

Anyone can send a mail that looks like mamori's. A real one reaches its reader only through
mamori's topic: Amazon SNS sends it from no-reply@sns.amazonaws.com under the topic's display
name, and its unsubscribe link names the same topic ARN as this paragraph. mamori never asks
for credentials or for a sign-in through a link.

Inlined into SSM documents: standard library only.
"""

SENDER = "no-reply@sns.amazonaws.com"
DISPLAY_NAME = "mamori"  # template/base.yaml: NotificationTopic's DisplayName


def authenticity(topic_arn: str) -> str:
    return (
        f"Is this from mamori? Only if it came through the topic {topic_arn}: Amazon SNS delivers it from {SENDER} "
        f'(shown as "{DISPLAY_NAME}"), and the unsubscribe link below names that same topic. mamori never asks for '
        "passwords, keys or a sign-in through a link; text in quotes is what an account reported, not mamori's words."
    )


def signed(body: str, topic_arn: str) -> str:
    """The message body with the authenticity paragraph after it."""
    return f"{body.rstrip()}\n\n--\n{authenticity(topic_arn)}"
