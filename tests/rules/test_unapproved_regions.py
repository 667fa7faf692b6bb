"""mamori-unapproved-regions through its real lambda_handler, with real-shaped periodic events,
on EC2 instances made in moto in several regions.

Stood in: the sandbox (harness.aws) answers DescribeRegions as an account would (17 default
regions plus sandbox.opted_in_regions; moto lists every region), pages DescribeInstances by
MaxResults (moto answers in one page), refuses regions (deny_region) and injects errors
(answer_next), and keeps the evaluations PutEvaluations delivers (moto's Config does not),
which is what the tests read back, as the Config dashboard would show them."""

import collections
import math
import re
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from harness.aws import ACCOUNT, DEFAULT_REGIONS, Sandbox
from harness.config_events import periodic_event
from harness.ec2_state import launch, launched, stop, terminate
from harness.pack import ROOT, deployed_rule_parameters, invoke_rule, lambda_principal, rule_spec
from mamori.catalog import load_unit_module
from mamori.rule_runtime import earlier_results
from tests.exempt import SOON

RULE = "mamori-unapproved-regions"
RULE_ID = "unapproved-regions"
APPROVED = "us-east-1,eu-west-1"
UNAPPROVED_DEFAULT_REGIONS = len(DEFAULT_REGIONS) - 2


def run(sandbox: Sandbox, **parameters: str) -> Any:
    parameters.setdefault("ApprovedRegions", APPROVED)
    return invoke_rule(sandbox, RULE_ID, periodic_event(RULE, deployed_rule_parameters(RULE_ID, **parameters)))


def evaluations(sandbox: Sandbox, **parameters: str) -> dict[str, tuple[str, str]]:
    response = run(sandbox, **parameters)
    assert isinstance(response, list), response  # rdklib answers the evaluations it put, or an error dict
    return sandbox.config.compliance(RULE)


@pytest.fixture
def describe_calls_per_region() -> Iterator[collections.Counter[str]]:
    """DescribeInstances calls by the region they went to (the sandbox counts by action only)."""
    counts: collections.Counter[str] = collections.Counter()

    def count(context: dict[str, Any], **_: Any) -> None:
        counts[context["client_region"]] += 1

    assert boto3.DEFAULT_SESSION is not None
    boto3.DEFAULT_SESSION.events.register("before-call.ec2.DescribeInstances", count)
    yield counts
    boto3.DEFAULT_SESSION.events.unregister("before-call.ec2.DescribeInstances", count)


def test_instances_outside_the_approved_regions(sandbox: Sandbox) -> None:
    [miner] = launch("eu-west-3", instance_type="c5.4xlarge", spot=True)
    [parked] = launch("ap-south-1", instance_type="m5.large")
    stop("ap-south-1", parked)
    [home] = launch("us-east-1")
    [ireland] = launch("eu-west-1")

    result = evaluations(sandbox)

    assert result == {
        miner: (
            "NON_COMPLIANT",
            f"eu-west-3: running c5.4xlarge (spot), launched {launched('eu-west-3', miner)}; "
            "eu-west-3 is not an approved region; remediation stops it.",
        ),
        parked: (
            "COMPLIANT",
            f"ap-south-1: stopped m5.large, launched {launched('ap-south-1', parked)}; "
            "ap-south-1 is not an approved region, but the instance is stopped.",
        ),
        ACCOUNT: (
            "NON_COMPLIANT",
            "Scanned 15 of 15 enabled regions outside ApprovedRegions: 1 instance running (eu-west-3: 1).",
        ),
    }
    assert home not in result and ireland not in result  # approved: not evaluated at all
    assert sandbox.config.evaluations[RULE][("AWS::EC2::Instance", miner)]["ComplianceType"] == "NON_COMPLIANT"
    assert ("AWS::::Account", ACCOUNT) in sandbox.config.evaluations[RULE]


def test_nothing_running_outside_is_compliant(sandbox: Sandbox) -> None:
    launch("us-east-1", count=2)

    assert evaluations(sandbox) == {
        ACCOUNT: ("COMPLIANT", "Scanned 15 of 15 enabled regions outside ApprovedRegions: no instance running.")
    }


def test_the_account_summary_counts_per_region(sandbox: Sandbox) -> None:
    launch("eu-west-3", count=2)
    launch("ap-south-1")
    [stopped] = launch("sa-east-1")
    stop("sa-east-1", stopped)

    account = evaluations(sandbox)[ACCOUNT]

    assert account == (
        "NON_COMPLIANT",
        "Scanned 15 of 15 enabled regions outside ApprovedRegions: 3 instances running (ap-south-1: 1, eu-west-3: 2).",
    )


def test_exemptions(sandbox: Sandbox) -> None:
    [lab] = launch("eu-west-3", tags={"mamori:exempt": f"GPU lab until={SOON}"})
    [lapsed] = launch("eu-west-3", tags={"mamori:exempt": "old test until=2020-01-01"})
    [blank] = launch("eu-west-3", tags={"mamori:exempt": " "})

    result = evaluations(sandbox)

    assert result[lab] == ("NOT_APPLICABLE", f"eu-west-3: Exempt by mamori:exempt: GPU lab (until {SOON})")
    assert result[lapsed][0] == "NON_COMPLIANT"
    assert result[lapsed][1].startswith("eu-west-3: running t3.micro")
    assert result[lapsed][1].endswith("remediation stops it. (mamori:exempt expired on 2020-01-01)")
    assert result[blank][0] == "NON_COMPLIANT"
    assert result[blank][1].endswith("(mamori:exempt ignored: it gives no reason)")
    assert result[ACCOUNT][1].endswith("2 instances running (eu-west-3: 2).")


def test_regions_opted_in_to_are_scanned(sandbox: Sandbox) -> None:
    sandbox.opted_in_regions = ["me-south-1"]
    [bahrain] = launch("me-south-1")
    [cape_town] = launch("af-south-1")  # not enabled in this account: not asked

    result = evaluations(sandbox)

    assert result[bahrain][0] == "NON_COMPLIANT"
    assert result[bahrain][1].startswith("me-south-1: running t3.micro")
    assert cape_town not in result
    assert result[ACCOUNT][1].startswith("Scanned 16 of 16 enabled regions outside ApprovedRegions")


def test_refused_regions_are_skipped_and_said_so(sandbox: Sandbox) -> None:
    sandbox.opted_in_regions = ["me-south-1"]
    sandbox.deny_region("eu-west-3", "UnauthorizedOperation")  # an SCP denying the region
    sandbox.deny_region("me-south-1", "AuthFailure")  # opted in to, not ready yet
    [mumbai] = launch("ap-south-1")

    result = evaluations(sandbox)

    assert result[mumbai][0] == "NON_COMPLIANT"
    assert result[ACCOUNT] == (
        "NON_COMPLIANT",
        "Scanned 14 of 16 enabled regions outside ApprovedRegions: 1 instance running (ap-south-1: 1); "
        "skipped eu-west-3 (UnauthorizedOperation), me-south-1 (AuthFailure).",
    )


def test_earlier_findings_in_a_refused_region_are_kept_not_cleaned(sandbox: Sandbox) -> None:
    [miner] = launch("eu-west-3")
    [parked] = launch("eu-west-3")
    stop("eu-west-3", parked)
    [mumbai] = launch("ap-south-1")
    first = evaluations(sandbox)
    sandbox.deny_region("eu-west-3", "UnauthorizedOperation")

    second = evaluations(sandbox)

    note = " (not re-checked: eu-west-3 refused, UnauthorizedOperation)"
    assert second[miner] == ("NON_COMPLIANT", first[miner][1] + note)
    assert second[parked] == ("COMPLIANT", first[parked][1] + note)
    assert second[mumbai] == first[mumbai]
    assert second[ACCOUNT] == (
        "NON_COMPLIANT",
        "Scanned 14 of 15 enabled regions outside ApprovedRegions: 1 instance running (ap-south-1: 1); "
        "skipped eu-west-3 (UnauthorizedOperation); 1 instance found running there earlier, not re-checked.",
    )

    # Refused again: the note is replaced, not stacked.
    sandbox.region_faults["eu-west-3"] = "AccessDenied"
    third = evaluations(sandbox)
    assert third[miner] == ("NON_COMPLIANT", first[miner][1] + " (not re-checked: eu-west-3 refused, AccessDenied)")

    # Looked at again: what is there now decides.
    del sandbox.region_faults["eu-west-3"]
    terminate("eu-west-3", miner)
    fourth = evaluations(sandbox)
    assert fourth[miner] == ("NOT_APPLICABLE", "")
    assert fourth[parked] == first[parked]


def test_an_instance_gone_in_a_refused_region_is_kept_until_seen(sandbox: Sandbox) -> None:
    [mumbai] = launch("ap-south-1")
    evaluations(sandbox)
    terminate("ap-south-1", mumbai)
    sandbox.deny_region("ap-south-1", "UnauthorizedOperation")  # the rule cannot see it is gone

    result = evaluations(sandbox)

    assert result[mumbai][0] == "NON_COMPLIANT"  # kept as it was
    assert result[ACCOUNT][0] == "NON_COMPLIANT"


@pytest.mark.parametrize(
    "fault",
    ["deny_region", "answer_next"],
    ids=["region-answers-InternalError", "throttled-past-retries"],
)
def test_a_failing_region_fails_the_evaluation_and_puts_nothing(sandbox: Sandbox, fault: str) -> None:
    [miner] = launch("eu-west-3")
    before = evaluations(sandbox)
    terminate("eu-west-3", miner)  # a partial run must not clean this up unseen
    launch("ap-south-1")
    if fault == "deny_region":
        sandbox.deny_region("sa-east-1", "InternalError")
    else:
        sandbox.answer_next("ec2:DescribeInstances", "Throttling")
    sandbox.reset_counts()

    response = run(sandbox)

    assert isinstance(response, dict)
    assert response["internalErrorMessage"].startswith("mamori-unapproved-regions evaluated nothing: scanning failed in ")
    assert ("InternalError" if fault == "deny_region" else "Throttling") in response["internalErrorMessage"]
    if fault == "deny_region":
        assert "sa-east-1: InternalError" in response["internalErrorMessage"]
    assert sandbox.config.put_evaluations_calls == 0
    assert sandbox.config.compliance(RULE) == before


def test_terminated_instances_are_cleaned_up_on_the_next_run(sandbox: Sandbox) -> None:
    [miner, other] = launch("eu-west-3", count=2)
    assert evaluations(sandbox)[miner][0] == "NON_COMPLIANT"
    terminate("eu-west-3", miner)

    result = evaluations(sandbox)

    assert result[miner] == ("NOT_APPLICABLE", "")  # rdklib's clean-up of evaluations not renewed
    assert result[other][0] == "NON_COMPLIANT"
    assert result[ACCOUNT][1].endswith("1 instance running (eu-west-3: 1).")


def test_an_approved_region_leaves_the_results(sandbox: Sandbox) -> None:
    [paris] = launch("eu-west-3")
    assert evaluations(sandbox)[paris][0] == "NON_COMPLIANT"

    result = evaluations(sandbox, ApprovedRegions="us-east-1,eu-west-1,eu-west-3")

    assert result[paris] == ("NOT_APPLICABLE", "")
    assert result[ACCOUNT] == (
        "COMPLIANT",
        "Scanned 14 of 14 enabled regions outside ApprovedRegions: no instance running.",
    )


def test_every_region_approved_scans_nothing(sandbox: Sandbox) -> None:
    launch("eu-west-3")
    sandbox.reset_counts()

    result = evaluations(sandbox, ApprovedRegions=",".join(DEFAULT_REGIONS))

    assert result == {ACCOUNT: ("COMPLIANT", "All 17 enabled regions are in ApprovedRegions; nothing to scan.")}
    assert sandbox.calls_by(lambda_principal(RULE))["ec2:DescribeInstances"] == 0


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({}, "ApprovedRegions: name at least one region"),
        ({"ApprovedRegions": ""}, "ApprovedRegions: name at least one region"),
        ({"ApprovedRegions": " , "}, "ApprovedRegions: name at least one region"),
        ({"ApprovedRegions": "us-east1"}, "ApprovedRegions: 'us-east1' is not a region name"),
    ],
    ids=["missing", "empty", "only-commas", "malformed"],
)
def test_bad_parameters_give_a_customer_error_and_evaluate_nothing(
    sandbox: Sandbox, parameters: dict[str, str], message: str
) -> None:
    launch("eu-west-3")
    event = periodic_event(RULE, {"AssumeRoleMode": "false", **parameters})

    response = invoke_rule(sandbox, RULE_ID, event)

    assert response["customerErrorCode"] == "InvalidParameterValueException"
    assert response["customerErrorMessage"].startswith(message)
    assert "ApprovedRegion" in response["customerErrorMessage"]
    assert sandbox.config.put_evaluations_calls == 0
    assert not sandbox.calls_by(lambda_principal(RULE))  # not even DescribeRegions


def test_call_budget(sandbox: Sandbox, describe_calls_per_region: collections.Counter[str]) -> None:
    """DescribeRegions once; DescribeInstances once per region outside ApprovedRegions per
    1,000 instances (none in approved regions); PutEvaluations once per 100 evaluations."""
    fleet = launch("eu-west-3", count=1005)
    launch("ap-south-1")
    launch("us-east-1", count=3)
    sandbox.reset_counts()

    result = evaluations(sandbox)

    evaluated = 1005 + 1 + 1  # instances outside, and the account
    assert len(result) == evaluated
    assert all(result[instance][0] == "NON_COMPLIANT" for instance in fleet)
    calls = sandbox.calls_by(lambda_principal(RULE))
    assert calls == {
        "ec2:DescribeRegions": 1,
        "ec2:DescribeInstances": UNAPPROVED_DEFAULT_REGIONS + 1,
        "config:GetComplianceDetailsByConfigRule": 1,  # the earlier results, read alongside the scan
        "config:PutEvaluations": math.ceil(evaluated / 100),
    }
    assert describe_calls_per_region == {
        **{region: 1 for region in DEFAULT_REGIONS if region not in APPROVED.split(",")},
        "eu-west-3": 2,
    }
    assert sandbox.config.put_evaluations_calls == 11


def test_earlier_results_are_read_once_per_run(sandbox: Sandbox) -> None:
    """One read serves the clean-up and a refused region's kept findings (it used to take two)."""
    launch("eu-west-3")
    evaluations(sandbox)
    sandbox.reset_counts()
    evaluations(sandbox)
    assert sandbox.calls_by(lambda_principal(RULE))["config:GetComplianceDetailsByConfigRule"] == 1

    sandbox.deny_region("ap-south-1", "UnauthorizedOperation")
    sandbox.reset_counts()
    evaluations(sandbox)
    assert sandbox.calls_by(lambda_principal(RULE))["config:GetComplianceDetailsByConfigRule"] == 1


def test_annotations_fit_in_256_characters() -> None:
    rule = load_unit_module("rule", RULE_ID, "rule.py")
    regions = [f"xx-region{n:02d}-1" for n in range(30)]

    detailed = rule.account_annotation(31, 30, {"eu-west-3": 2}, {"me-south-1": "AuthFailure"}, 1)
    compact = rule.account_annotation(
        31, 30, {region: 1 for region in regions}, {region: "AccessDenied" for region in regions}, 0
    )

    assert detailed == (
        "Scanned 29 of 30 enabled regions outside ApprovedRegions: 2 instances running (eu-west-3: 2); "
        "skipped me-south-1 (AuthFailure); 1 instance found running there earlier, not re-checked."
    )
    assert compact == (
        "Scanned 0 of 30 enabled regions outside ApprovedRegions: 30 instances running (in 30 regions); "
        "skipped 30 regions (AccessDenied)."
    )
    assert len(compact) <= 256


def test_a_long_earlier_annotation_keeps_its_note(sandbox: Sandbox) -> None:
    rule = load_unit_module("rule", RULE_ID, "rule.py")
    sandbox.config.evaluations[RULE] = {
        ("AWS::EC2::Instance", "i-0123456789abcdef0"): {
            "ComplianceType": "NON_COMPLIANT",
            "Annotation": "eu-west-3: " + "x" * 245,
        },
        ("AWS::EC2::Instance", "i-0123456789abcdef1"): {"ComplianceType": "NON_COMPLIANT", "Annotation": "ap-south-1: running"},
        ("AWS::::Account", ACCOUNT): {"ComplianceType": "NON_COMPLIANT", "Annotation": "eu-west-3: not an instance"},
    }

    [kept] = rule.earlier_findings(earlier_results(boto3.client("config"), RULE), {"eu-west-3": "AuthFailure"})

    assert kept.complianceResourceId == "i-0123456789abcdef0"
    assert len(kept.annotation) == 256
    assert kept.annotation.startswith("eu-west-3: xxx")
    assert kept.annotation.endswith("x (not re-checked: eu-west-3 refused, AuthFailure)")


def test_the_readme_says_the_memory_the_templates_give() -> None:
    """Scanning every region at once needs memory (README, Cost): the README says how much,
    and the rule's spec, hence every generated template, gives exactly that."""
    readme = (ROOT / "rules" / RULE_ID / "README.md").read_text()
    said = re.search(r"\*\*Lambda memory: ([\d,]+) MB", readme)
    assert said is not None, "the README names the Lambda memory"
    memory = int(said.group(1).replace(",", ""))
    assert rule_spec(RULE_ID).memory_mb == memory
    for name in ("template.yaml", "member-template.yaml", "org-template.yaml"):
        given = re.search(rf"FunctionName: {RULE}\n(?:[ ]{{6,}}.*\n)*?[ ]{{6}}MemorySize: (\d+)\n", (ROOT / name).read_text())
        assert given is not None and int(given.group(1)) == memory, name
