"""`make demo`: replay the incidents mamori exists for on an embedded moto. No AWS account needed.

Each incident is an Act: it builds the broken state in the (mock) account, lets the real rule
Lambda evaluate it the way AWS Config would, shows the compliance table, runs the paired
remediation document the way automatic remediation would, re-evaluates and shows the table
again, checking along the way that the fix changed exactly what it should. Each act is one
module of demo/ (what they share is demo/kit.py); a new incident adds its module with one
`play_…` function and lists it in ACTS.

Act 1 is the open proxy (a security group opened a proxy port to the internet); Act 2 is the
forgotten root key (a years-old root access key, no root MFA, plus the IAM users around it:
a console password without MFA and a key nobody uses); Act 3 is the nine regions (mining
instances where nobody looked, and the readiness that would have caught them); Act 4 is the
organization (a member's root key and security contact, fixed by the central responder). Besides moto and harness/ (Config
stand-in, document runner, dated IAM users), Act 2 reuses two stand-ins from the tests,
imported from tests/root_helpers.py: OpsCenter (moto has no OpsItems) and the notification
topic read back through an SQS subscription. Root's credentials, which no API sets up, are
the sandbox's (Sandbox.root); a person signing in as root to fix them is stood in for there.

The closing act is `mamori scan`: the same incidents, set up on moto's server, found over HTTP
by the read-only scan before anything is deployed (demo/scan.py).

The demo is also a smoke test: it exits 1 when any expectation fails, 0 otherwise.
`python demo/run.py --help` lists the acts; `--act N` plays only those named.
"""

# ruff: noqa: E402 (the checks below run before anything else is imported)
import importlib.util
import sys
from pathlib import Path

# `python3 demo/run.py` from anywhere: the repository root on the path, as `make demo` has it.
ROOT = str(Path(__file__).resolve().parent.parent)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
# module -> package, of what requirements-demo.txt installs
DEMO_PACKAGES = {
    "rdklib": "rdklib",
    "moto": "moto",
    "boto3": "boto3",
    "yaml": "PyYAML",
    "rich": "rich",
    "flask_cors": "flask-cors",
}
_missing = [package for module, package in DEMO_PACKAGES.items() if importlib.util.find_spec(module) is None]
if _missing:
    sys.exit(
        f"The demo needs packages this Python ({sys.executable}) does not have: {', '.join(_missing)}.\n"
        "Run `make demo`: it creates .venv with them (requirements-demo.txt) and plays the demo."
    )

import argparse
import io
import os
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import boto3
from moto import mock_aws

from demo.kit import FAILED, OK, Demo, banner, say
from demo.open_proxy import play_open_proxy
from demo.organization import play_organization
from demo.regions import play_unapproved_regions
from demo.root_key import play_forgotten_root_key
from demo.scan import play_scan
from harness.aws import Sandbox, fake_credentials


@dataclass(frozen=True)
class Act:
    title: str
    story: str
    play: Callable[[Demo], None]


ACTS: list[Act] = [
    Act(
        "Act 1 - The open proxy",
        "In a shared account used by 70+ people, someone opened an HTTP proxy port on a security group to the whole "
        "internet. AWS Trust & Safety sent abuse reports to an inbox nobody read; after four days AWS blocked starting "
        "and stopping EC2 in the region. mamori-open-proxy-ports flags any group that lets the internet reach a proxy "
        "port; its remediation revokes exactly those entries, records them, and can put them back.",
        play_open_proxy,
    ),
    Act(
        "Act 2 - The forgotten root key",
        "A root access key created years earlier leaked. There was no MFA. Attackers ran crypto-mining instances in "
        "nine regions and ran up $2,798 within days, in regions nobody looked at. mamori-root-access-key and "
        "mamori-root-mfa flag the key and the missing MFA; only root can fix those, so their remediations notify and "
        "open one OpsItem each with the steps. The same account's IAM users are checked too: "
        "mamori-iam-user-console-mfa limits a console user without MFA to setting it up, and "
        "mamori-stale-access-keys deactivates (never deletes) keys nobody uses.",
        play_forgotten_root_key,
    ),
    Act(
        "Act 3 - The nine regions",
        "With the leaked root key, the attackers ran mining instances in regions nobody used, where AWS Config was "
        "not even recording. GuardDuty was off there, no budget alert told anyone about the bill, and the abuse "
        "reports went to a mailbox nobody read. mamori-unapproved-regions asks every enabled region at once and stops "
        "(never terminates) what runs outside ApprovedRegions; mamori-security-contact, mamori-guardduty-enabled and "
        "mamori-budget-alert make sure the next incident is seen and reaches someone.",
        play_unapproved_regions,
    ),
    Act(
        "Act 4 - The organization",
        "The same pack across an AWS Organization: a StackSet rolls it out to every member account, and the "
        "management account runs what only it can. A member still has the forgotten root key, another has no "
        "security contact; the members forward those findings, and mamori-central-responder deletes the key through "
        "centralized root access (recording its last use first) and sets the contact.",
        play_organization,
    ),
    Act(
        "Act 5 - Before any deploy: mamori scan",
        "None of this needs a deploy to be seen. `mamori scan` runs every rule's own code read-only against the "
        "account your credentials name (here: moto's server, over HTTP), sends nothing to AWS Config, changes "
        "nothing (a guard refuses every call that is not a read), shows what each remediation would change, and "
        "writes JSON, CSV, OCSF and HTML reports.",
        play_scan,
    ),
]
# Acts played after the embedded moto is gone: they talk to moto's server over HTTP.
OVER_HTTP = (play_scan,)


def header() -> None:
    say(
        'mamori (守り, "protection")\nAWS Config custom rules with paired SSM Automation remediations, deployed with '
        "AWS SAM, that stop two real incidents from happening again: an open proxy and a forgotten root key."
    )
    say()
    say("This demo replays them on an embedded moto: no AWS account, no credentials, nothing leaves this machine.")
    for stand_in in (
        "moto stands in for EC2, IAM, SNS, SQS, SSM Parameter Store, GuardDuty, Budgets, Account Management and Organizations.",
        "A small stand-in for AWS Config records the evaluations the rules send (PutEvaluations), as the Config "
        "dashboard would show them.",
        "SSM Automation steps are run by a document runner, from the documents in template.yaml (scripts inlined), as deployed.",
        "OpsCenter: moto has no OpsItems; the tests' small stand-in (tests/root_helpers.py) keeps them, with "
        "Systems Manager's /aws/dedup rule. Notifications are read back through an SQS subscription to the topic.",
        "Root's credentials: no API can set them up, so the sandbox writes the root user's state into IAM's "
        "credential report and GetAccountSummary; a person signing in as root is stood in for the same way.",
        "Time passing: users and keys created and last used years or days ago are dated back in moto's IAM "
        "(harness/iam_state.py), with IAM-shaped AIDA… user ids.",
        "Regions: moto lists every region of every partition; the sandbox answers DescribeRegions as an account "
        "would (17 default regions plus those opted in to) and pages DescribeInstances as EC2 does. Budgets' "
        "DescribeSubscribersForNotification, which moto lacks, is read from moto's budgets backend.",
        "The organization: moto's Organizations; sts:AssumeRoot, iam:ListOrganizationsFeatures and the root "
        "session's IAM calls in a member, which moto lacks, are answered by harness/central.py.",
        "AWS's own signals (abuse reports, an exposed key, a GuardDuty finding) are built after AWS's published "
        "samples and go to the real responders; CloudTrail's LookupEvents, OpsCenter's GetOpsItem and a gap of moto's "
        "Scheduler are stood in by tests/incident_helpers.py; Scheduler fires nothing in moto, so the demo invokes "
        "the responder at the schedule's time, as Scheduler would.",
    ):
        say(f"- {stand_in}", indent=2, hang=2)
    say(
        "The rule Lambdas and remediation scripts are the real ones, each limited to the IAM actions template.yaml "
        f"grants its role. Acts: {'; '.join(act.title for act in ACTS)}."
    )


def arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="make demo ARGS=... (or python demo/run.py)",
        description="Replay the incidents mamori exists for on an embedded moto: no AWS account, nothing leaves this machine.",
        epilog="acts:\n" + "\n".join(f"  {number}  {act.title}" for number, act in enumerate(ACTS, 1)),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--act", type=int, action="append", metavar="N", choices=range(1, len(ACTS) + 1), help="play only act N (repeatable)"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    chosen = arguments(argv).act
    acts = [act for number, act in enumerate(ACTS, 1) if not chosen or number in chosen]
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(errors="replace")  # a non-UTF-8 terminal gets '?' rather than an error
    for name in [n for n in os.environ if n in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE") or n.startswith("AWS_ENDPOINT_URL")]:
        del os.environ[name]  # whatever the shell says, this talks to no real account
    fake_credentials()
    header()
    errors: list[str] = []
    with mock_aws():
        sandbox = Sandbox()
        demo = Demo(sandbox, boto3.client("ec2"), boto3.client("ssm"))
        for act in acts:
            if act.play not in OVER_HTTP:
                play(act, demo, errors)
    for act in acts:
        if act.play in OVER_HTTP:
            play(act, demo, errors)
    banner("Result")
    failures = demo.failures + errors
    if failures:
        say(f"{FAILED} {len(failures)} expectation(s) failed ({len(demo.checks)} checks made):")
        for failure in failures:
            say(f"- {failure}", indent=2, hang=2)
        return 1
    say(
        f"{OK} All {len(demo.checks)} checks passed in {len(acts)} act(s): detected, remediated, compliant, nothing else touched."
    )
    return 0


def play(act: Act, demo: Demo, errors: list[str]) -> None:
    banner(act.title)
    say(act.story)
    demo.act = act.title
    try:
        act.play(demo)
    except Exception as error:  # a bug, not an expected path: say where, show the traceback, go on
        print(f"\n{FAILED} unexpected error in {act.title} (a bug in the pack, the harness or this demo):", flush=True)
        traceback.print_exc()
        sys.stderr.flush()
        errors.append(f"{act.title}: unexpected {type(error).__name__}: {error}")


if __name__ == "__main__":
    sys.exit(main())
