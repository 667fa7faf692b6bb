"""`mamori scan` without a server: the command line, the guard's idea of a read, the catalog
holding the scan to every rule and remediation, and the generated requirements-demo.txt.
(tests/test_scan_http.py runs the scan itself against moto's server.)"""

import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import boto3
import pytest

from harness.aws import Sandbox
from harness.config_events import security_group_item as recorded_item
from mamori.catalog import ROOT, load_rules
from mamori.scan import cli
from mamori.scan.engine import ScanError, parameter_values, rule_parameters
from mamori.scan.items import ITEM_BUILDERS, security_group_item
from mamori.scan.plan import Context, remediation_class, remediation_inputs
from mamori.scan.readonly import ReadOnlyGuard, WriteRefused, is_read
from tests.conftest import make_group, tcp


def test_the_console_script_is_the_scan_and_its_help_answers() -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    module, function = scripts["mamori"].split(":")
    assert (module, function) == ("mamori.scan.cli", "main")
    # As `mamori scan --help` runs it: a separate interpreter, nothing scanned.
    done = subprocess.run([sys.executable, "-m", module, "scan", "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    for words in ("read-only", "--plan", "--regions", "--param", "ocsf", "--html", "Exit code", "NON_COMPLIANT"):
        assert words in done.stdout


@pytest.mark.parametrize(
    ("operation", "read"),
    [
        ("DescribeSecurityGroups", True),
        ("GetCredentialReport", True),
        ("ListUsers", True),
        ("GenerateCredentialReport", True),
        ("RevokeSecurityGroupIngress", False),
        ("PutEvaluations", False),
        ("CreateDetector", False),
        ("StopInstances", False),
        ("GenerateServiceLastAccessedDetails", False),  # Generate* is not a read by name: only the credential report
        ("Getaway", True),  # the prefix is all the guard looks at: AWS names no write Get*/List*/Describe*
    ],
)
def test_what_the_guard_counts_as_a_read(operation: str, read: bool) -> None:
    assert is_read(operation) is read


def test_the_guard_keeps_evaluations_and_refuses_writes_in_process(sandbox: Sandbox) -> None:
    guard = ReadOnlyGuard()
    session = boto3.Session(region_name="us-east-1")
    guard.install(session)
    config = session.client("config")
    token = "mamori-scan|mamori-root-mfa|1"
    evaluation = {
        "ComplianceResourceType": "AWS::::Account",
        "ComplianceResourceId": "123456789012",
        "ComplianceType": "NON_COMPLIANT",
        "OrderingTimestamp": "2026-01-01T00:00:00Z",
    }
    assert config.put_evaluations(Evaluations=[evaluation], ResultToken=token)["FailedEvaluations"] == []
    assert guard.evaluations["mamori-root-mfa"][0]["ComplianceType"] == "NON_COMPLIANT"
    with pytest.raises(WriteRefused):
        session.client("iam").create_user(UserName="mallory")
    assert "mallory" not in str(boto3.client("iam").list_users()), "the refused call changed nothing"
    assert guard.refused == ["iam:CreateUser"]


def test_parameters_default_as_the_template_does_and_misspellings_are_refused() -> None:
    values = parameter_values({"ApprovedRegions": "us-east-1"})
    assert values["ProxyPorts"] == "1080,3128,3129,8080,8118,8888,9050" and values["GracePeriodHours"] == "24"
    assert "ApprovedRegions" not in parameter_values({}), "no default: the template requires it"
    with pytest.raises(ScanError, match=r"ProxyPort.*ProxyPorts"):
        parameter_values({"ProxyPort": "3128"})
    proxy = next(rule for rule in load_rules() if rule.id == "open-proxy-ports")
    assert rule_parameters(proxy, values) == {
        "AssumeRoleMode": "false",
        "ProxyPorts": values["ProxyPorts"],
        "MaxExemptionDays": values["MaxExemptionDays"],
    }


def test_every_configuration_change_rule_can_be_scanned() -> None:
    for rule in load_rules():
        if rule.trigger == "configuration-change":
            assert set(rule.resource_types) <= set(ITEM_BUILDERS), f"{rule.id}: mamori/scan/items.py cannot build its items"


def test_every_remediation_can_be_planned() -> None:
    context = Context("123456789012", "us-east-1", "aws", parameter_values({"ApprovedRegions": "us-east-1"}))
    for rule in load_rules():
        if rule.remediation is None:
            continue
        assert remediation_class(rule.remediation.document).remediation_id == rule.remediation.document
        inputs = remediation_inputs(rule, "123456789012", context)
        if rule.remediation.requires:
            assert isinstance(inputs, str) and "no remediation deployed until" in inputs
        else:
            assert isinstance(inputs, dict) and inputs["DryRun"] is True, (rule.id, inputs)


def test_security_group_items_match_what_the_harness_records(sandbox: Sandbox, ec2: Any, vpc_id: str) -> None:
    group = make_group(ec2, vpc_id, [tcp(3128, "0.0.0.0/0", "::/0", description="proxy")], tags={"team": "a"})
    described = ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"][0]
    scanned, recorded = security_group_item(described, "123456789012", "us-east-1"), recorded_item(ec2, group)
    for volatile in ("configurationItemCaptureTime", "configurationStateId"):
        scanned.pop(volatile), recorded.pop(volatile)
    assert scanned == recorded


def test_requirements_demo_is_generated_from_the_pins() -> None:
    done = subprocess.run(
        [sys.executable, "tools/demo_requirements.py", "--check"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    dev = set(Path(ROOT / "requirements-dev.txt").read_text().splitlines())
    demo = [line for line in Path(ROOT / "requirements-demo.txt").read_text().splitlines() if not line.startswith("#")]
    assert demo and set(demo) <= dev
    assert not {"aws-sam-cli", "mypy", "cfn-lint", "pytest"} & {line.split("==")[0] for line in demo}


def test_bad_usage_is_a_clear_error_not_a_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["scan", "--output", "xml"])
    assert exit_info.value.code == 2 and "choose from json, csv, ocsf" in capsys.readouterr().err
