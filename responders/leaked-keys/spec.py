"""mamori-leaked-key-responder: what it acts on and everything it may call.

It runs the containment in its own invocation (mamori.leaked_keys.DeactivateExposedKey, on the
remediation kernel), so it is granted what the stale-access-keys remediation grants for one key:
the user's keys, the deactivation, the tag and that remediation's records, which its restore
document reads.
"""

from mamori.catalog import IAM_USERS, PUBLISH_TO_TOPIC, Parameter, Permission, ResponderSpec, allow, record_permissions
from mamori.leaked_keys import CODE, DETAIL_TYPE, RECORDING_REMEDIATION, SERVICE, SOURCE
from mamori.leaked_keys import RESPONDER as FUNCTION_NAME

RESPONDER = ResponderSpec(
    id="leaked-keys",
    function_name=FUNCTION_NAME,
    description=(
        "Deactivates an IAM user's access key AWS Health reports exposed (AWS_RISK_CREDENTIALS_EXPOSED), restorably; "
        "gives the steps for a root key; opens an OpsItem with what the key did lately."
    ),
    permissions=(
        # Whose key it is. A root key is no user's: its resource is not a user ARN, so any.
        Permission("iam:GetAccessKeyLastUsed", IAM_USERS),
        Permission("iam:GetAccountSummary"),
        *allow("iam:GetUser", "iam:ListAccessKeys", "iam:UpdateAccessKey", "iam:TagUser", on=IAM_USERS),
        *record_permissions(RECORDING_REMEDIATION, "PutParameter"),
        # What the key did lately (read-only); the case.
        Permission("cloudtrail:LookupEvents"),
        Permission("ssm:CreateOpsItem"),
        *PUBLISH_TO_TOPIC,
    ),
    events={
        "ExposedKeyEvent": {
            "source": [SOURCE],
            "detail-type": [DETAIL_TYPE],
            "detail": {"service": [SERVICE], "eventTypeCode": [CODE]},
        }
    },
    environment={
        "TOPIC_ARN": {"Ref": "NotificationTopic"},
        # AutoRemediation "false" (only report): the responder tells people and changes nothing.
        "CONTAIN": {"Fn::If": ["AutoRemediationOn", "true", "false"]},
    },
    parameters=(
        Parameter(
            "LeakedKeyResponse",
            '"true": when AWS Health reports an access key of the account exposed in public, mamori-leaked-key-responder '
            'deactivates an IAM user\'s key (restorably; with AutoRemediation "false" it only tells), gives the steps '
            'for a root key and opens an OpsItem. "false": not deployed (AWS\'s own Health notice remains).',
            "true",
            allowed_values=("true", "false"),
        ),
    ),
    condition="LeakedKeyResponseOn",
    # IAM is global: AWS Health delivers the event in us-east-1 (forwarded to the home region by
    # template/abuse-event-forwarder.yaml), so one responder per account, in the home region.
    regional=False,
)
