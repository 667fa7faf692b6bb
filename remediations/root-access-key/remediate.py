"""mamori-root-access-key: tell a person, once, that the root user has an access key, and
exactly how to delete it. Re-checks live state with the rule's own code first.

Deletes nothing: inside the account only the root user can delete a root key (from the
management account, centralized root access with sts:AssumeRoot can; that central
responder is a separate step). Records each key's dates and last use in the OpsItem and in
the `Keys` output, which is what must be kept before a root key is deleted.
"""

from typing import Any

import boto3

from mamori.automation import utc_now
from mamori.credential_report import CredentialReportUnavailable
from mamori.ops_items import Notice, NotifyOnce
from mamori.remediation import Nothing, run_remediation
from mamori.root_credentials import (
    KEY_SUMMARY_KEYS,
    NON_COMPLIANT,
    RootFinding,
    report_account,
    reported_root_keys,
    root_access_key_finding,
    root_report_row,
    root_summary,
)

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


class NotifyRootAccessKey(NotifyOnce[RootFinding]):
    remediation_id = "root-access-key"
    list_outputs = ("Keys",)

    def find(self) -> RootFinding:
        iam = boto3.client("iam")
        summary = root_summary(iam, KEY_SUMMARY_KEYS)
        keys: tuple[Any, ...] = ()
        if summary.access_keys:
            try:
                row = root_report_row(iam, REPORT_WAIT_SECONDS)
            except CredentialReportUnavailable as error:
                raise RuntimeError(f"Could not re-check the root user of {self.resource_id}: {error}") from None
            reported = report_account(row)
            if reported is not None and reported != self.resource_id:
                raise ValueError(f"AccountId {self.resource_id} is not this account ({reported}); nothing done.")
            keys = reported_root_keys(row)
        return root_access_key_finding(summary, keys, utc_now())

    def notice(self, target: RootFinding) -> Notice | Nothing:
        if target.compliance != NON_COMPLIANT:
            return Nothing(f"Root of {self.resource_id} has no access key; nothing to do.")
        return Notice(
            f"Root user of {self.resource_id} has an access key: delete it",
            steps(self.resource_id, target.details),
            outputs={"Keys": list(target.details)},
            extra_data={"mamori:root-access-keys": "\n".join(target.details)},
        )


def handler(events: dict[str, Any], context: Any) -> dict[str, Any]:
    return run_remediation(NotifyRootAccessKey(events))
