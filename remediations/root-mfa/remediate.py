"""mamori-root-mfa: tell a person, once, that the root user can sign in without (hardware)
MFA, and exactly how to fix it. Re-checks live state with the rule's own code first.

Changes nothing in IAM: only the root user can assign root's MFA (from the management
account, centralized root access can instead remove root's credentials altogether).
"""

from typing import Any

import boto3

from mamori.automation import flag, required_input
from mamori.ops_items import finding_key, open_and_notify
from mamori.root_credentials import (
    NON_COMPLIANT,
    parse_require_hardware_mfa,
    root_mfa_finding,
    root_summary,
    root_virtual_mfa_devices,
)

RULE_ID = "root-mfa"
TOPIC_ARN_PATTERN = r"arn:aws[a-z0-9-]*:sns:[a-z0-9-]+:\d{12}:[\w-]{1,256}"


def steps(account: str, details: tuple[str, ...], virtual: bool) -> str:
    found = "\n".join(f"  - {line}" for line in details)
    if virtual:
        what = "Replace root's virtual MFA device with a hardware one (a FIDO security key, or a hardware TOTP token)."
        action = (
            "  3. Under Multi-factor authentication (MFA), choose Assign MFA device > Passkey or security key "
            "(or Hardware TOTP token) and follow the steps; then remove the virtual device."
        )
    else:
        what = "Assign MFA to the root user, preferably a hardware one (a FIDO security key)."
        action = (
            "  3. Under Multi-factor authentication (MFA), choose Assign MFA device and follow the steps; "
            "assign a second device as a spare."
        )
    return (
        f"The root user of AWS account {account} can sign in without the MFA mamori requires:\n{found}\n\n"
        f"{what} mamori cannot do this from inside the account: only the root user can.\n\n"
        f"  1. Sign in to https://console.aws.amazon.com/ as the root user of {account} (the account's email address).\n"
        "  2. Account menu (top right) > Security credentials.\n"
        f"{action}\n"
        "Or, for a member account of an organization with centralized root access, remove root's credentials from the "
        "management account instead (no password, no keys: nothing left to protect):\n"
        f"  aws sts assume-root --target-principal {account} "
        "--task-policy-arn arn=arn:aws:iam::aws:policy/root-task/IAMDeleteRootUserCredentials\n"
        "  then, with the credentials it returns: aws iam delete-login-profile (and delete any root access keys).\n\n"
        "mamori-root-mfa turns COMPLIANT (or NOT_APPLICABLE) at its next evaluation (within 24 hours, or re-evaluate it "
        "in the AWS Config console); then resolve this OpsItem."
    )


def handler(events: dict[str, Any], context: Any) -> dict[str, Any]:
    account = required_input(events, "AccountId", r"\d{12}")
    topic_arn = required_input(events, "TopicArn", TOPIC_ARN_PATTERN)
    dry_run = flag(events, "DryRun")
    require_hardware = parse_require_hardware_mfa(str(events.get("RequireHardwareMfa") or "false"))
    iam = boto3.client("iam")
    result: dict[str, Any] = {"AccountId": account, "DryRun": dry_run, "OpsItemId": ""}

    summary = root_summary(iam)
    devices = root_virtual_mfa_devices(iam) if require_hardware and summary.has_credentials and summary.mfa else ()
    finding = root_mfa_finding(summary, require_hardware, devices)
    if finding.compliance != NON_COMPLIANT:
        return {**result, "Status": "NOTHING_TO_DO", "Message": f"{finding.annotation} Nothing to do for {account}."}

    virtual = summary.mfa  # NON_COMPLIANT with MFA on: the MFA is a virtual device
    title = (
        f"Root user of {account} has virtual MFA only: assign hardware MFA"
        if virtual
        else f"Root user of {account} has no MFA: assign MFA"
    )
    outcome = open_and_notify(
        boto3.client("ssm"),
        boto3.client("sns"),
        topic_arn,
        finding_key(RULE_ID, account),
        title,
        steps(account, finding.details, virtual),
        dry_run,
    )
    return {**result, **outcome}
