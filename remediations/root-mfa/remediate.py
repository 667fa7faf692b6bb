"""mamori-root-mfa: tell a person, once, that the root user can sign in without (hardware)
MFA, and exactly how to fix it. Re-checks live state with the rule's own code first.

Changes nothing in IAM: only the root user can assign root's MFA (from the management
account, centralized root access can instead remove root's credentials altogether).
"""

from dataclasses import dataclass
from typing import Any

import boto3

from mamori.ops_items import Notice, NotifyOnce
from mamori.remediation import Nothing, run_remediation
from mamori.root_credentials import (
    NON_COMPLIANT,
    RootFinding,
    RootSummary,
    parse_require_hardware_mfa,
    root_mfa_finding,
    root_summary,
    root_virtual_mfa_devices,
)


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


@dataclass(frozen=True)
class RootMfa:
    summary: RootSummary
    finding: RootFinding


class NotifyRootMfa(NotifyOnce[RootMfa]):
    remediation_id = "root-mfa"

    def read_parameters(self) -> None:
        super().read_parameters()
        self.require_hardware = parse_require_hardware_mfa(str(self.events.get("RequireHardwareMfa") or "false"))

    def find(self) -> RootMfa:
        iam = boto3.client("iam")
        summary = root_summary(iam)
        devices = root_virtual_mfa_devices(iam) if self.require_hardware and summary.has_credentials and summary.mfa else ()
        return RootMfa(summary, root_mfa_finding(summary, self.require_hardware, devices))

    def notice(self, target: RootMfa) -> Notice | Nothing:
        account, finding = self.resource_id, target.finding
        if finding.compliance != NON_COMPLIANT:
            return Nothing(f"{finding.annotation} Nothing to do for {account}.")
        virtual = target.summary.mfa  # NON_COMPLIANT with MFA on: the MFA is a virtual device
        title = (
            f"Root user of {account} has virtual MFA only: assign hardware MFA"
            if virtual
            else f"Root user of {account} has no MFA: assign MFA"
        )
        return Notice(title, steps(account, finding.details, virtual))


def handler(events: dict[str, Any], context: Any) -> dict[str, Any]:
    return run_remediation(NotifyRootMfa(events))
