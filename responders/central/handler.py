"""mamori-central-responder: acts on the NON_COMPLIANT findings of member accounts that only the
management (or delegated administrator) account can fix: deletes member root access keys and,
optionally, root passwords through centralized root access, and sets member SECURITY contacts.
What it decides and does is in mamori.central; this is the Lambda entry: environment, clients.
"""

import logging
import os
from typing import Any

import boto3

from mamori import central, deduplication

LOG = logging.getLogger("mamori")
LOG.setLevel(logging.INFO)


def settings(environ: Any) -> central.Settings:
    return central.Settings(
        topic_arn=environ["TOPIC_ARN"],
        region=environ.get("AWS_REGION", ""),
        root_password_removal=environ.get("CENTRAL_ROOT_PASSWORD_REMOVAL", "false"),
        expected_email=environ.get("EXPECTED_SECURITY_EMAIL", ""),
        contact_name=environ.get("SECURITY_CONTACT_NAME", ""),
        contact_title=environ.get("SECURITY_CONTACT_TITLE", ""),
        contact_phone=environ.get("SECURITY_CONTACT_PHONE", ""),
        leaked_key_response=environ.get("LEAKED_KEY_RESPONSE", "true"),
        deduplication_table=environ.get(deduplication.TABLE_ENVIRONMENT, ""),
        deduplication_owner=environ.get(deduplication.OWNER_ENVIRONMENT, ""),
    )


def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    caller = central.Caller.from_function_arn(getattr(context, "invoked_function_arn", None))
    # boto3.client: the clients (and the root session's IAM client, from its credentials) come
    # from boto3's default session.
    return central.respond(event, caller, settings(os.environ), central.Clients(boto3.client))
