"""The service limits of tools/limits.py, checked on what the templates pass: remediation static
values, rule InputParameters, automation parameters, pack parameters, the region-deny SCP,
annotations, PutEvaluations, Parameter Store values. (Document and template sizes are checked
by generation itself: tools/limits.check_document_size and check_template_size.)"""

import json
import re
from collections.abc import Mapping
from typing import Any

import boto3
import botocore.exceptions
import pytest

from harness.authorization import Resolver
from harness.aws import REGION, Sandbox
from harness.pack import deploy_rule, template
from mamori import compliance, rule_runtime
from mamori.instances import REGION_LIST_PATTERN
from mamori.regions import parse_regions
from tests.meta.test_authorization_reference import load
from tools import limits

PARAMETERS: Mapping[str, Any] = template()["Parameters"]
RESOURCES: Mapping[str, Any] = template()["Resources"]
# The longest ARN a name CloudFormation makes up can give, by the type of the resource a value
# refers to: a role name has at most 64 characters (IAM API Reference, CreateRole, RoleName), a
# managed policy's at most 128 (CreatePolicy, PolicyName); the partition, region and account of
# the longest there are.
LONGEST_PREFIX = "arn:aws-iso-b:iam::123456789012:"
MADE_UP_ARN_LENGTH = {
    "AWS::IAM::Role": len(LONGEST_PREFIX + "role/") + 64,
    "AWS::IAM::ManagedPolicy": len(LONGEST_PREFIX + "policy/") + 128,
}


def longest(value: Any) -> int:
    """The most characters a template value can resolve to in a deployment."""
    if isinstance(value, str):
        return len(value)
    if value == {"Ref": "AWS::NoValue"}:
        return 0
    if isinstance(value, dict) and "Ref" in value:
        name = value["Ref"]
        if name in PARAMETERS:
            declared = PARAMETERS[name]
            if "AllowedValues" in declared:
                return max(len(str(v)) for v in declared["AllowedValues"])
            assert "MaxLength" in declared, f"pack parameter {name} has no MaxLength"
            return int(declared["MaxLength"])
        resource = RESOURCES[name]
        if resource["Type"] == "AWS::SNS::Topic":  # named by the template: its ARN in the longest region
            return len(f"arn:aws-iso-b:sns:ap-southeast-7:123456789012:{resource['Properties']['TopicName']}")
        return MADE_UP_ARN_LENGTH[resource["Type"]]
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        logical_id, attribute = value["Fn::GetAtt"]
        assert attribute == "Arn", value
        return MADE_UP_ARN_LENGTH[RESOURCES[logical_id]["Type"]]
    if isinstance(value, dict) and "Fn::If" in value:
        return max(longest(value["Fn::If"][1]), longest(value["Fn::If"][2]))
    raise AssertionError(f"no bound for {value}")


def static_values(parameter: Mapping[str, Any]) -> list[Any]:
    if "Fn::If" in parameter:
        return [v for branch in parameter["Fn::If"][1:] if isinstance(branch, dict) for v in static_values(branch)]
    return list(parameter.get("StaticValue", {}).get("Values", []))


@pytest.mark.parametrize(
    "logical_id", sorted(k for k, v in RESOURCES.items() if v["Type"] == "AWS::Config::RemediationConfiguration")
)
def test_every_static_value_a_remediation_passes_fits_config_and_ssm(logical_id: str) -> None:
    passed = RESOURCES[logical_id]["Properties"]["Parameters"]

    assert len(passed) <= limits.REMEDIATION_PARAMETERS
    for name, parameter in passed.items():
        values = static_values(parameter)
        assert len(values) <= limits.REMEDIATION_STATIC_VALUES, name
        for value in values:
            most = longest(value)
            assert most <= limits.REMEDIATION_STATIC_VALUE_CHARS, f"{logical_id} {name} can be {most} characters"
            assert most <= limits.AUTOMATION_PARAMETER_VALUE_CHARS


def _longest_input_parameters(properties: Mapping[str, Any]) -> str:
    worst = {name: "x" * longest(value) for name, value in properties["InputParameters"].items() if longest(value)}
    return json.dumps(worst)  # with the spaces json puts in: the longer way to write it


@pytest.mark.parametrize("logical_id", sorted(k for k, v in RESOURCES.items() if v["Type"] == "AWS::Config::ConfigRule"))
def test_every_rules_input_parameters_fit_in_1024_characters_at_their_longest(logical_id: str) -> None:
    text = _longest_input_parameters(RESOURCES[logical_id]["Properties"])

    assert len(text) <= limits.RULE_INPUT_PARAMETERS_CHARS, f"{logical_id}: {len(text)} characters"


def test_pack_parameters_have_a_max_length_and_say_what_they_take() -> None:
    for name, declared in PARAMETERS.items():
        if declared["Type"] != "String" or "AllowedValues" in declared:
            continue
        assert isinstance(declared.get("MaxLength"), int), f"{name} has no MaxLength"
        assert str(declared.get("ConstraintDescription", "")).startswith(f"{name}: "), name
        assert f"at most {declared['MaxLength']} characters" in declared["ConstraintDescription"], name
        default = str(declared.get("Default", ""))
        assert len(default) <= declared["MaxLength"], name
        if "AllowedPattern" in declared and "Default" in declared:
            assert re.search(declared["AllowedPattern"], default), f"{name}'s default does not match its pattern"


def test_every_commercial_region_fits_approved_regions_as_one_value() -> None:
    """Issue 11, item 2: all 34 commercial regions (botocore's endpoints) are over 400 characters,
    more than one static value takes, but within ApprovedRegions and its rule's InputParameters."""
    regions = limits.commercial_regions()
    declared = PARAMETERS["ApprovedRegions"]

    for text in (",".join(regions), ", ".join(regions)):
        assert len(text) > limits.REMEDIATION_STATIC_VALUE_CHARS
        assert len(text) <= declared["MaxLength"]
        assert re.search(declared["AllowedPattern"], text) and re.search(REGION_LIST_PATTERN, text)
        assert parse_regions(text) == regions
    assert len(regions) > limits.REMEDIATION_STATIC_VALUES  # one region per value would not fit either


def test_no_remediation_takes_a_list_parameter_as_a_static_value() -> None:
    passed = {
        name
        for resource in RESOURCES.values()
        if resource["Type"] == "AWS::Config::RemediationConfiguration"
        for name in resource["Properties"]["Parameters"]
    }

    assert not passed & {"ApprovedRegions", "ProxyPorts", "TrustedCidrs"}


def test_the_remediations_read_the_longest_lists_whole_from_the_deployed_rule(sandbox: Sandbox) -> None:
    every_region = ",".join(limits.commercial_regions())
    ports = ",".join(str(port) for port in range(1024, 1024 + 2 * 51, 2))[:256].rstrip(",")
    cidrs = ",".join(f"198.51.{n}.0/24" for n in range(60))[:640].rpartition(",")[0]
    from mamori.deployed_rule import rule_parameters

    deploy_rule(sandbox, "unapproved-regions", ApprovedRegions=every_region)
    deploy_rule(sandbox, "open-proxy-ports", ProxyPorts=ports, TrustedCidrs=cidrs)

    config = boto3.client("config")
    assert rule_parameters(config, "mamori-unapproved-regions")["ApprovedRegions"] == every_region
    read = rule_parameters(config, "mamori-open-proxy-ports")
    assert (read["ProxyPorts"], read["TrustedCidrs"]) == (ports, cidrs)
    assert len(ports) > 250 and len(cidrs) > 600


def test_the_config_stand_in_refuses_input_parameters_over_1024(sandbox: Sandbox) -> None:
    with pytest.raises(Exception, match="InputParameters over 1024"):
        sandbox.config.deploy_rule("mamori-x", {"ApprovedRegions": "x" * 1024})


def _scp_text(approved_regions: str) -> str:
    org = load("org-template.yaml")
    values = {"AWS::Partition": "aws", "AWS::AccountId": "123456789012", "AWS::Region": "us-east-1"}
    values |= {name: str(p.get("Default", "")) for name, p in org["Parameters"].items()}
    values |= {"ApprovedRegions": approved_regions, "BreakGlassRoleName": "B" * 64}
    resolve = Resolver(values, {}, unknown=lambda name: name)
    content = resolve(org["Resources"]["RegionDenyPolicy"]["Properties"]["Content"])
    return json.dumps(content)  # with json's spaces: the longer way to write it


def test_the_region_deny_scp_fits_5120_characters() -> None:
    every_region = ",".join(limits.commercial_regions())
    # The most regions ApprovedRegions can hold: the shortest names a region pattern admits.
    most = ",".join(["aa-a-1"] * ((PARAMETERS["ApprovedRegions"]["MaxLength"] + 1) // 7))

    assert every_region in _scp_text(every_region).replace('", "', ",")
    assert len(_scp_text(every_region)) <= limits.SCP_CHARS
    assert len(most) <= PARAMETERS["ApprovedRegions"]["MaxLength"]
    assert len(_scp_text(most)) <= limits.SCP_CHARS, len(_scp_text(most))


def test_annotations_and_evaluations_per_call_are_the_services() -> None:
    assert compliance.ANNOTATION_LIMIT == limits.ANNOTATION_CHARS
    import inspect

    from rdklib.util import external

    # rdklib sends the evaluations 100 at a time (rdklib.util.external.process_evaluations).
    assert f"[:{limits.EVALUATIONS_PER_PUT}]" in inspect.getsource(external.process_evaluations)


def test_the_sandbox_refuses_what_config_and_parameter_store_refuse(sandbox: Sandbox) -> None:
    config, ssm = boto3.client("config"), boto3.client("ssm")
    token = "mamori-standin|mamori-x|0"
    evaluation = {"ComplianceResourceType": "AWS::::Account", "ComplianceResourceId": "1", "ComplianceType": "COMPLIANT"}
    evaluation["OrderingTimestamp"] = "2026-01-01T00:00:00Z"

    with pytest.raises(config.exceptions.ClientError, match="at most 100"):
        config.put_evaluations(Evaluations=[evaluation] * 101, ResultToken=token)
    with pytest.raises(config.exceptions.ClientError, match="annotation over 256"):
        config.put_evaluations(Evaluations=[{**evaluation, "Annotation": "x" * 257}], ResultToken=token)
    ssm.put_parameter(Name="/mamori/x/a", Value="x" * limits.PARAMETER_VALUE_ADVANCED, Type="String", Tier="Intelligent-Tiering")
    with pytest.raises(ssm.exceptions.ClientError, match="ValidationException"):
        ssm.put_parameter(
            Name="/mamori/x/b", Value="x" * (limits.PARAMETER_VALUE_ADVANCED + 1), Type="String", Tier="Intelligent-Tiering"
        )
    with pytest.raises(ssm.exceptions.ClientError, match="ValidationException"):
        ssm.put_parameter(Name="/mamori/x/c", Value="x" * (limits.PARAMETER_VALUE_STANDARD + 1), Type="String", Tier="Standard")


def test_config_checks_the_evaluations_the_pack_sends_unchecked(sandbox: Sandbox) -> None:
    """The pack's client puts evaluations without botocore's check (rule_runtime.CHECKED_BY_CONFIG);
    the stand-in checks them against Config's model, as Config does, and a batch it refuses
    fails the put, after every batch was tried."""
    factory = rule_runtime.WarmClientFactory(None, REGION, assume_role_mode=False)
    event = {"resultToken": "mamori-standin|mamori-x|0"}
    good = {
        "ComplianceResourceType": "AWS::::Account",
        "ComplianceResourceId": "1",
        "ComplianceType": "COMPLIANT",
        "OrderingTimestamp": "2026-01-01T00:00:00+00:00",
    }
    rule_runtime.put_evaluations(event, factory, [good])
    assert sandbox.config.compliance("mamori-x") == {"1": ("COMPLIANT", "")}

    unnamed = {**good, "ComplianceResourceId": ""}
    named = [{**good, "ComplianceResourceId": str(n)} for n in range(2, 102)]
    with pytest.raises(botocore.exceptions.ClientError, match=r"ValidationException.*ComplianceResourceId"):
        rule_runtime.put_evaluations(event, factory, [unnamed, *named])
    assert len(sandbox.config.compliance("mamori-x")) == 2  # the other batch was put


def test_every_document_and_template_is_under_its_size_quota() -> None:
    """Generation refuses to write them otherwise (tools/limits.py); checked here on what is committed."""
    from mamori.catalog import ROOT

    sizes = {
        resource["Properties"]["Name"]: limits.document_size(resource["Properties"]["Content"])
        for resource in RESOURCES.values()
        if resource["Type"] == "AWS::SSM::Document"
    }
    assert sizes and max(sizes.values()) <= limits.SSM_DOCUMENT_LIMIT, max(sizes.items(), key=lambda item: item[1])
    for name in ("template.yaml", "member-template.yaml", "org-template.yaml"):
        assert len((ROOT / name).read_bytes()) <= limits.TEMPLATE_BUDGET < limits.CLOUDFORMATION_TEMPLATE_LIMIT, name


def test_a_remediation_reads_the_rule_it_is_paired_with() -> None:
    from mamori.catalog import load_rules
    from mamori.deployed_rule import ReadsDeployedRule
    from mamori.scan.plan import remediation_class

    readers = {}
    for rule in load_rules():
        if rule.remediation is not None:
            unit = remediation_class(rule.remediation.document)
            if issubclass(unit, ReadsDeployedRule):
                readers[rule.id] = unit.paired_rule
                assert unit.paired_rule == rule.config_rule_name

    assert set(readers) == {"open-proxy-ports", "unapproved-regions"}
