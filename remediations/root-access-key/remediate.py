"""mamori-root-access-key: tell a person, once, that the root user has an access key, and
exactly how to delete it. Re-checks live state with the rule's own code first.

Deletes nothing: inside the account only the root user can delete a root key (from the
management account, centralized root access with sts:AssumeRoot can; that central
responder is a separate step). Records each key's dates and last use in the OpsItem and in
the `Keys` output, which is what must be kept before a root key is deleted.
"""

from typing import Any

import boto3

from mamori.automation import flag, required_input, utc_now
from mamori.credential_report import CredentialReportUnavailable
from mamori.ops_items import finding_key, open_and_notify
from mamori.root_credentials import (
    KEY_SUMMARY_KEYS,
    NON_COMPLIANT,
    report_account,
    reported_root_keys,
    root_access_key_finding,
    root_report_row,
    root_summary,
)

RULE_ID = "root-access-key"
TOPIC_ARN_PATTERN = r"arn:aws[a-z0-9-]*:sns:[a-z0-9-]+:\d{12}:[\w-]{1,256}"
# Within the step's 600 s timeout.
REPORT_WAIT_SECONDS = 300.0


def steps(account: str, details: tuple[str, ...]) -> str:
    keys = "\n".join(f"  - {line}" for line in details)
    return (
        f"The root user of AWS account {account} has an access key:\n{keys}\n\n"
        "A root access key can do anything in the account, bypasses MFA, and cannot be limited by IAM policies. "
        "mamori does not delete it from inside the account: only the root user can, or the organization's "
        "management account through centralized root access.\n\n"
        "Before deleting, note each key's id and last use above, in case something still uses it.\n\n"
        "As the root user:\n"
        f"  1. Sign in to https://console.aws.amazon.com/ as the root user of {account} (the account's email address).\n"
        "  2. Account menu (top right) > Security credentials.\n"
        "  3. Under Access keys, note the key id and Last used; Actions > Deactivate; when nothing breaks, Actions > Delete.\n"
        "Or from the management account (or the delegated administrator for IAM), with centralized root access enabled:\n"
        f"  aws sts assume-root --target-principal {account} "
        "--task-policy-arn arn=arn:aws:iam::aws:policy/root-task/IAMDeleteRootUserCredentials\n"
        "  then, with the credentials it returns: aws iam list-access-keys; "
        "aws iam delete-access-key --access-key-id <id>\n\n"
        "mamori-root-access-key turns COMPLIANT at its next evaluation (within 24 hours, or re-evaluate it in the "
        "AWS Config console); then resolve this OpsItem."
    )


def handler(events: dict[str, Any], context: Any) -> dict[str, Any]:
    account = required_input(events, "AccountId", r"\d{12}")
    topic_arn = required_input(events, "TopicArn", TOPIC_ARN_PATTERN)
    dry_run = flag(events, "DryRun")
    iam = boto3.client("iam")
    result: dict[str, Any] = {"AccountId": account, "DryRun": dry_run, "OpsItemId": "", "Keys": []}

    summary = root_summary(iam, KEY_SUMMARY_KEYS)
    keys: tuple[Any, ...] = ()
    if summary.access_keys:
        try:
            row = root_report_row(iam, REPORT_WAIT_SECONDS)
        except CredentialReportUnavailable as error:
            raise RuntimeError(f"Could not re-check the root user of {account}: {error}") from None
        reported = report_account(row)
        if reported is not None and reported != account:
            raise ValueError(f"AccountId {account} is not this account ({reported}); nothing done.")
        keys = reported_root_keys(row)
    finding = root_access_key_finding(summary, keys, utc_now())
    if finding.compliance != NON_COMPLIANT:
        return {**result, "Status": "NOTHING_TO_DO", "Message": f"Root of {account} has no access key; nothing to do."}

    result["Keys"] = list(finding.details)
    outcome = open_and_notify(
        boto3.client("ssm"),
        boto3.client("sns"),
        topic_arn,
        finding_key(RULE_ID, account),
        f"Root user of {account} has an access key: delete it",
        steps(account, finding.details),
        dry_run,
        extra_data={"mamori:root-access-keys": "\n".join(finding.details)},
    )
    return {**result, **outcome}
