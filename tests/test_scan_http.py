"""`mamori scan` against a real HTTP endpoint: moto's ThreadedMotoServer, reached through
AWS_ENDPOINT_URL exactly as the scan reaches AWS (harness/endpoint.py). Both incidents are
seeded through the endpoint's API; one scan (with --plan and every report) runs for the module;
the server counts every request it receives, so "zero writes" is counted where a write would land.

Stood in at the server, because moto's server cannot hold them (harness/endpoint.py): the root
user's credentials (credential report row, GetAccountSummary), the account's enabled regions
(DescribeRegions; three here, to keep the module fast: every region a rule asks costs
moto a backend), OpsCenter's DescribeOpsItems (none open), Budgets' subscribers.
"""

import csv
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from rich.console import Console

from harness.endpoint import MINING_REGION, Endpoint, endpoint_environment, running_endpoint, seed_incidents
from mamori.scan import cli
from mamori.scan.readonly import WriteRefused

ACCOUNT = "123456789012"
# One server and one scan for the module: under `pytest -n auto --dist loadgroup` its tests share a worker.
pytestmark = pytest.mark.xdist_group("scan-http")


@pytest.fixture(scope="module")
def endpoint() -> Iterator[Endpoint]:
    with pytest.MonkeyPatch.context() as patch:
        for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_REGION"):
            patch.delenv(name, raising=False)
        for name, value in endpoint_environment("").items():
            patch.setenv(name, value)
        with running_endpoint() as started:
            patch.setenv("AWS_ENDPOINT_URL", started.url)
            started.reset()
            started.counting.enabled_regions = ["ap-southeast-1", "eu-west-1", "us-east-1"]
            yield started


class Scan:
    def __init__(self, exit_code: int, output: str, reports: dict[str, Path], server_calls: dict[str, int]) -> None:
        self.exit_code, self.output, self.reports, self.server_calls = exit_code, output, reports, server_calls

    def json(self) -> dict[str, Any]:
        return dict(json.loads(self.reports[".json"].read_text()))

    def finding(self, rule: str, resource_id: str) -> dict[str, Any]:
        return next(f for f in self.json()["findings"] if f["rule"] == rule and f["resource_id"] == resource_id)


@pytest.fixture(scope="module")
def seeded(endpoint: Endpoint) -> dict[str, str]:
    ids = seed_incidents(endpoint)
    endpoint.counting.reset_counts()  # the seeding wrote; from here on, only the scan talks to the server
    return ids


@pytest.fixture(scope="module")
def scan(endpoint: Endpoint, seeded: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Scan:
    out = tmp_path_factory.mktemp("reports")
    args = cli.parser().parse_args(
        [
            *("scan", "--region", "us-east-1", "--param", "ApprovedRegions=us-east-1,eu-west-1", "--plan"),
            *("--output", "json,csv", "--output", "ocsf", "--html", "--out-dir", str(out)),
        ]
    )
    text = io.StringIO()
    exit_code = cli.run_scan(args, Console(file=text, width=200), Console(file=io.StringIO()))
    reports = {"".join(path.suffixes[-2:]) if path.name.endswith(".ocsf.json") else path.suffix: path for path in out.iterdir()}
    return Scan(exit_code, text.getvalue(), reports, dict(endpoint.counting.calls))


def test_the_scan_reached_the_endpoint_and_sent_it_no_write(scan: Scan, endpoint: Endpoint) -> None:
    reads = sum(scan.server_calls.values())
    assert reads > 20, f"the server saw too little of the scan to mean anything: {scan.server_calls}"
    for expected in ("sts:GetCallerIdentity", "ec2:DescribeSecurityGroups", "iam:GetCredentialReport", "ec2:DescribeInstances"):
        assert scan.server_calls.get(expected), f"{expected} never reached the server: {scan.server_calls}"
    writes = {action: n for action, n in scan.server_calls.items() if action in endpoint.counting.writes()}
    assert writes == {}
    assert not any(action.startswith("config:") for action in scan.server_calls), "nothing goes to AWS Config"
    assert scan.json()["refused_calls"] == []


def test_both_incidents_are_found_and_the_exit_code_says_so(scan: Scan, seeded: dict[str, str]) -> None:
    assert scan.exit_code == 1
    assert scan.finding("mamori-open-proxy-ports", seeded["proxy"])["compliance"] == "NON_COMPLIANT"
    assert "tcp 3128 from 0.0.0.0/0" in scan.finding("mamori-open-proxy-ports", seeded["proxy"])["annotation"]
    assert scan.finding("mamori-open-proxy-ports", seeded["web"])["compliance"] == "COMPLIANT"
    assert scan.finding("mamori-root-access-key", ACCOUNT)["compliance"] == "NON_COMPLIANT"
    assert MINING_REGION in scan.finding("mamori-root-access-key", ACCOUNT)["annotation"]
    assert scan.finding("mamori-root-mfa", ACCOUNT)["compliance"] == "NON_COMPLIANT"
    miner = scan.finding("mamori-unapproved-regions", seeded["miner"])
    assert (miner["compliance"], miner["region"]) == ("NON_COMPLIANT", "us-east-1")
    assert MINING_REGION in miner["annotation"]
    assert scan.json()["errors"] == []
    # The terminal tables name the findings too.
    assert seeded["proxy"] in scan.output and "NON_COMPLIANT" in scan.output and "mamori-root-access-key" in scan.output


def test_plan_lines_come_from_each_remediations_own_dry_run(scan: Scan, seeded: dict[str, str]) -> None:
    proxy = scan.finding("mamori-open-proxy-ports", seeded["proxy"])["plan"]
    assert (proxy["document"], proxy["status"]) == ("mamori-open-proxy-ports", "DRY_RUN")
    assert proxy["changes"] == ["revoke tcp 3128 from 0.0.0.0/0"] and seeded["proxy"] in proxy["summary"]
    miner = scan.finding("mamori-unapproved-regions", seeded["miner"])["plan"]
    assert miner["status"] == "DRY_RUN" and f"stop {seeded['miner']} in {MINING_REGION}" in miner["summary"]
    root_key = scan.finding("mamori-root-access-key", ACCOUNT)["plan"]
    assert root_key["status"] == "DRY_RUN" and "open an OpsItem" in root_key["summary"]
    every = [f for f in scan.json()["findings"] if f["compliance"] == "NON_COMPLIANT"]
    remediated = [f for f in every if f["resource_type"] != "AWS::::Account" or f["rule"] != "mamori-unapproved-regions"]
    assert remediated and all("plan" in f for f in remediated), [f["rule"] for f in remediated if "plan" not in f]
    assert not any(f["plan"]["status"] == "FAILED" for f in remediated), [f["plan"] for f in remediated]


def test_reports_in_every_format(scan: Scan, seeded: dict[str, str]) -> None:
    assert set(scan.reports) == {".json", ".csv", ".ocsf.json", ".html"}
    rows = list(csv.DictReader(scan.reports[".csv"].open()))
    assert len(rows) == len(scan.json()["findings"])
    assert {"resource_id": seeded["proxy"], "compliance": "NON_COMPLIANT"}.items() <= next(
        row for row in rows if row["resource_id"] == seeded["proxy"]
    ).items()
    ocsf = json.loads(scan.reports[".ocsf.json"].read_text())
    assert len(ocsf) == len(rows)
    proxy = next(event for event in ocsf if event["resources"][0]["uid"] == seeded["proxy"])
    assert (proxy["class_uid"], proxy["category_uid"], proxy["type_uid"]) == (2003, 2, 200301)
    assert proxy["compliance"]["status_id"] == 3 and proxy["compliance"]["control"] == "mamori-open-proxy-ports"
    for required in ("activity_id", "time", "severity_id", "metadata", "finding_info"):
        assert required in proxy
    page = scan.reports[".html"].read_text()
    assert page.startswith("<!DOCTYPE html>") and seeded["proxy"] in page
    assert not re.search(r"<script|<link|\b(src|href)=", page), "one self-contained page: nothing loaded from elsewhere"


def test_the_guard_refuses_a_write_before_it_reaches_the_server(endpoint: Endpoint, seeded: dict[str, str]) -> None:
    from mamori.scan.engine import Scanner

    scanner = Scanner(region="us-east-1", rules=["open-proxy-ports"])
    endpoint.counting.reset_counts()
    with scanner.using("us-east-1"), pytest.raises(WriteRefused, match="ec2:RevokeSecurityGroupIngress"):
        boto3.client("ec2").revoke_security_group_ingress(
            GroupId=seeded["proxy"],
            IpPermissions=[{"IpProtocol": "tcp", "FromPort": 3128, "ToPort": 3128, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
        )
    assert scanner.guard.refused == ["ec2:RevokeSecurityGroupIngress"]
    assert endpoint.counting.calls == {}, "the refused call must not reach the server"
    # The same session still reads.
    with scanner.using("us-east-1"):
        assert boto3.client("ec2").describe_security_groups(GroupIds=[seeded["proxy"]])["SecurityGroups"]
    assert endpoint.counting.calls == {"ec2:DescribeSecurityGroups": 1}
