"""mamori-guardduty-enabled through its real lambda_handler, with real-shaped periodic events,
on GuardDuty detectors made in moto region by region. The sandbox stands in for the
account's enabled regions (DescribeRegions answers the 17 default regions plus
`opted_in_regions`, like a real account; moto would list every region), for regions that
refuse to be looked at (`deny_region`: an SCP, a region not opted in) and for errors that
outlast botocore's retries (`answer_next`). Evaluations are read back from the Config
stand-in, i.e. what PutEvaluations delivered."""

from typing import Any

import boto3
import pytest

from harness.aws import ACCOUNT, DEFAULT_REGIONS, OPT_IN_REGIONS, REGION, Sandbox
from harness.config_events import periodic_event
from harness.pack import deployed_rule_parameters, invoke_rule, lambda_principal

RULE = "mamori-guardduty-enabled"
RULE_ID = "guardduty-enabled"


def run(sandbox: Sandbox, **parameters: str) -> Any:
    return invoke_rule(sandbox, RULE_ID, periodic_event(RULE, deployed_rule_parameters(RULE_ID, **parameters)))


def evaluate(sandbox: Sandbox) -> tuple[str, str]:
    run(sandbox)
    return sandbox.config.compliance(RULE)[ACCOUNT]


def guardduty(region: str) -> Any:
    return boto3.client("guardduty", region_name=region)


def make_detector(region: str, enabled: bool = True, **extra: Any) -> str:
    return str(guardduty(region).create_detector(Enable=enabled, **extra)["DetectorId"])


def detectors(region: str) -> dict[str, dict[str, Any]]:
    """{detector id: GetDetector} of the region, read live."""
    client = guardduty(region)
    return {i: client.get_detector(DetectorId=i) for i in client.list_detectors()["DetectorIds"]}


def on_everywhere(regions: tuple[str, ...] | list[str] = DEFAULT_REGIONS, **but: bool) -> None:
    """An enabled detector in every region, except `region_name=False` (suspended)."""
    for region in regions:
        make_detector(region, enabled=but.get(region.replace("-", "_"), True))


def test_a_fresh_account_is_off_everywhere(sandbox: Sandbox) -> None:
    compliance, annotation = evaluate(sandbox)

    assert compliance == "NON_COMPLIANT"
    assert annotation == (
        "GuardDuty is off in 17 of 17 enabled regions: ap-northeast-1 (no detector), ap-northeast-2 (no detector), "
        "ap-northeast-3 (no detector), ap-south-1 (no detector), ap-southeast-1 (no detector), ap-southeast-2 (no detector), "
        "+11 more; "
        "remediation turns it on."
    )
    assert {resource_type for resource_type, _ in sandbox.config.evaluations[RULE]} == {"AWS::::Account"}


def test_on_everywhere_is_compliant_within_the_call_budget(sandbox: Sandbox) -> None:
    """One DescribeRegions, one ListDetectors per region, one GetDetector per detector, one PutEvaluations."""
    on_everywhere()

    assert evaluate(sandbox) == ("COMPLIANT", "GuardDuty is on in all 17 enabled regions.")
    assert dict(sandbox.calls_by(lambda_principal(RULE))) == {
        "ec2:DescribeRegions": 1,
        "guardduty:ListDetectors": 17,
        "guardduty:GetDetector": 17,
        "config:PutEvaluations": 1,
    }


def test_a_suspended_detector_is_off(sandbox: Sandbox) -> None:
    on_everywhere(eu_west_3=False)

    assert evaluate(sandbox) == (
        "NON_COMPLIANT",
        "GuardDuty is off in 1 of 17 enabled regions: eu-west-3 (suspended); remediation turns it on.",
    )


def test_regions_without_a_detector_cost_no_get_detector(sandbox: Sandbox) -> None:
    on_everywhere(["us-east-1", "eu-west-1"])

    assert evaluate(sandbox)[0] == "NON_COMPLIANT"
    calls = sandbox.calls_by(lambda_principal(RULE))
    assert (calls["guardduty:ListDetectors"], calls["guardduty:GetDetector"]) == (17, 2)


def test_opted_in_regions_are_checked_too(sandbox: Sandbox) -> None:
    """The incident's attackers used regions nobody looked at: an opted-in region counts like any other."""
    sandbox.opted_in_regions = ["me-south-1", "af-south-1"]
    on_everywhere()

    assert evaluate(sandbox) == (
        "NON_COMPLIANT",
        "GuardDuty is off in 2 of 19 enabled regions: af-south-1 (no detector), me-south-1 (no detector); "
        "remediation turns it on.",
    )

    on_everywhere(["me-south-1", "af-south-1"])

    assert evaluate(sandbox) == ("COMPLIANT", "GuardDuty is on in all 19 enabled regions.")


def test_refused_regions_are_skipped_and_named(sandbox: Sandbox) -> None:
    """An SCP that denies a region denies attackers too: named, but no finding by itself."""
    sandbox.opted_in_regions = ["me-south-1"]
    on_everywhere()
    sandbox.deny_region("sa-east-1", "AccessDeniedException")
    sandbox.deny_region("me-south-1", "UnrecognizedClientException")

    assert evaluate(sandbox) == (
        "COMPLIANT",
        "GuardDuty is on in all 16 regions checked of 18 enabled. "
        "Not checked (refused): me-south-1 (UnrecognizedClientException), sa-east-1 (AccessDeniedException).",
    )

    guardduty("eu-west-3").update_detector(DetectorId=next(iter(detectors("eu-west-3"))), Enable=False)

    assert evaluate(sandbox) == (
        "NON_COMPLIANT",
        "GuardDuty is off in 1 of 18 enabled regions: eu-west-3 (suspended); remediation turns it on. "
        "Not checked (refused): me-south-1 (UnrecognizedClientException), sa-east-1 (AccessDeniedException).",
    )


def test_refused_everywhere_is_an_error_not_compliant(sandbox: Sandbox) -> None:
    """A grant missing from the rule's role answers AccessDeniedException in every region, the
    home region included: that is not "17 regions refused", it is no answer at all."""
    on_everywhere()
    sandbox.answer_next("guardduty:ListDetectors", *["AccessDeniedException"] * len(DEFAULT_REGIONS))

    response = run(sandbox)

    assert response["internalErrorMessage"].startswith("GuardDuty status unknown in 1 region(s), nothing decided: ")
    assert f"{REGION}: AccessDeniedException in the home region" in response["internalErrorMessage"]
    assert RULE not in sandbox.config.evaluations


def test_a_failing_region_is_an_error_and_nothing_is_put(sandbox: Sandbox) -> None:
    """The injected error stands in for one that outlasted botocore's standard retries."""
    on_everywhere()
    sandbox.answer_next("guardduty:GetDetector", "InternalServerErrorException")

    response = run(sandbox)

    assert response["internalErrorMessage"].startswith("GuardDuty status unknown in 1 region(s), nothing decided: ")
    assert "InternalServerErrorException" in response["internalErrorMessage"]
    assert RULE not in sandbox.config.evaluations
    assert sandbox.config.put_evaluations_calls == 0


def test_the_annotation_fits_with_every_region_off_or_refused(sandbox: Sandbox) -> None:
    sandbox.opted_in_regions = list(OPT_IN_REGIONS)
    for region in OPT_IN_REGIONS[:6]:
        sandbox.deny_region(region, "AccessDeniedException")

    compliance, annotation = evaluate(sandbox)

    assert compliance == "NON_COMPLIANT"
    assert len(annotation) <= 256
    assert annotation.startswith("GuardDuty is off in 23 of 29 enabled regions: ap-northeast-1 (no detector), ")
    assert annotation.endswith(" more; remediation turns it on. Not checked (refused): 6 regions.")
    shown = annotation.count("(no detector)")
    assert f"+{23 - shown} more; " in annotation


@pytest.mark.parametrize("mangle", [lambda e: e.pop("resultToken"), lambda e: e.update(invokingEvent="{")])
def test_malformed_events_give_a_clear_error(sandbox: Sandbox, mangle: Any) -> None:
    event = periodic_event(RULE, deployed_rule_parameters(RULE_ID))
    mangle(event)

    response = invoke_rule(sandbox, RULE_ID, event)

    assert response["customerErrorCode"] == "InvalidEvent"
    assert not sandbox.calls_by(lambda_principal(RULE))
