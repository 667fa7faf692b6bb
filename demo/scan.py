"""The closing act: before any deploy, `mamori scan` finds the same incidents over HTTP.

Both incidents are set up on moto's server (harness/endpoint.py), a separate HTTP endpoint the
scan reaches through AWS_ENDPOINT_URL exactly as it would reach AWS. The scan runs every rule's
own code read-only, shows its tables and the plan of each remediation's dry run, and writes its
reports; the server counts every request it received, so the act can show that no write
reached it. It runs after the embedded-moto acts, outside their mock.
"""

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from rich.console import Console

from demo.kit import WIDTH, Demo, say, step
from harness.endpoint import MINING_REGION, endpoint_environment, running_endpoint, seed_incidents
from mamori.scan import cli

ACCOUNT = "123456789012"


@contextlib.contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def play_scan(demo: Demo) -> None:
    out = Path(tempfile.mkdtemp(prefix="mamori-demo-scan-"))
    with running_endpoint() as endpoint, environment(endpoint_environment(endpoint.url)):
        endpoint.reset()
        step("Set up both incidents on moto's server (a separate HTTP endpoint)")
        ids = seed_incidents(endpoint)
        say(
            f"Security group {ids['proxy']} (squid-proxy) opens tcp 3128 to 0.0.0.0/0; {ids['web']} opens only 443. "
            f"Root has an access key, no MFA, last used from {MINING_REGION}, where {ids['miner']} (c5.4xlarge) runs. "
            f"The scan reaches the server at {endpoint.url} through AWS_ENDPOINT_URL, as it would reach AWS.",
            indent=2,
        )
        endpoint.counting.reset_counts()
        step("mamori scan --param ApprovedRegions=us-east-1,eu-west-1 --plan --output json,csv,ocsf --html")
        arguments = ["scan", "--region", "us-east-1", "--param", "ApprovedRegions=us-east-1,eu-west-1", "--plan"]
        arguments += ["--output", "json,csv,ocsf", "--html", "--out-dir", str(out)]
        exit_code = cli.run_scan(cli.parser().parse_args(arguments), Console(width=WIDTH), Console(stderr=True))
        received = dict(endpoint.counting.calls)
        writes = endpoint.counting.writes()
    step("What the scan did, and what it did not")
    demo.check(exit_code == 1, "exit code 1: something is NON_COMPLIANT (a CI job would stop here)", f"exit code {exit_code}")
    report = next((path for path in out.glob("*.json") if not path.name.endswith(".ocsf.json")), None)
    text = report.read_text() if report else ""
    for what, needle in (
        ("the open proxy", f'"resource_id": "{ids["proxy"]}"'),
        ("the miner outside ApprovedRegions", f'"resource_id": "{ids["miner"]}"'),
        ("the root access key", '"rule": "mamori-root-access-key"'),
    ):
        demo.check(needle in text, f"the report names {what}", f"the report does not name {what}")
    demo.check(
        not writes and sum(received.values()) > 0,
        f"the server received {sum(received.values())} requests from the scan, all reads; no write, nothing for AWS Config",
        f"writes reached the server: {writes}",
    )
    demo.check(
        {path.name.split(".", 1)[1] for path in out.iterdir()} == {"json", "csv", "ocsf.json", "html"},
        f"reports written in {out}: " + ", ".join(sorted(path.name for path in out.iterdir())),
    )
    say(
        "Open the .html page in a browser or mail it; the .ocsf.json holds OCSF Compliance Findings (class 2003) for a "
        'security lake or Security Hub. On a real account: `make scan ARGS="--param ApprovedRegions=... --plan --html"`, '
        "then deploy report-only (samconfig's default) and enforce rule by rule.",
        indent=2,
    )
