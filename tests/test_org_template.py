"""org-template.yaml, what `sam deploy --config-env org` deploys in the management account: the
whole pack plus the organization pieces, generated from the same sources. (cfn-lint and
`sam validate --lint` run on it in `make check-template`.)"""

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.pack import template
from tests.generator import generated
from tools.member_template import build_member
from tools.org_template import MEMBER_VALUES, ORG_TEMPLATE, build_org
from tools.pack import Specs
from tools.record_key import RECORD_KEY, SIGNERS_SID

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def org() -> dict[str, Any]:
    return dict(yaml.safe_load(ORG_TEMPLATE.read_text()))


@pytest.fixture(scope="module")
def member() -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "member-template.yaml").read_text()))


def test_org_template_is_generated_from_its_sources(org: dict[str, Any]) -> None:
    sam = generated().pack
    assert org == build_org(sam, build_member(sam)), "run `make template` and commit org-template.yaml"


def test_the_management_account_gets_the_whole_pack_unchanged(org: dict[str, Any]) -> None:
    """StackSets do not deploy to the management account itself: it runs the single-account pack too."""
    pack = template()
    assert org["Transform"] == pack["Transform"]
    for section in ("Parameters", "Conditions", "Resources", "Outputs"):
        for name, value in pack[section].items():
            if (section, name) == ("Resources", RECORD_KEY):
                continue  # below: the central responder writes records too
            assert org[section][name] == value, f"{section} {name} differs from template.yaml"
    # The record key differs only in its signers: the pack's, and the organization responders' roles.
    org_key, pack_key = org["Resources"][RECORD_KEY], copy.deepcopy(pack["Resources"][RECORD_KEY])
    signers = [s for s in org_key["Properties"]["KeyPolicy"]["Statement"] if s["Sid"] == SIGNERS_SID]
    pack_signers = [s for s in pack_key["Properties"]["KeyPolicy"]["Statement"] if s["Sid"] == SIGNERS_SID]
    org_arns = signers[0]["Condition"]["ArnEquals"]["aws:PrincipalArn"]
    pack_arns = pack_signers[0]["Condition"]["ArnEquals"]["aws:PrincipalArn"]
    responders = [
        {"Fn::If": [r.condition, {"Fn::GetAtt": [r.role_id, "Arn"]}, {"Ref": "AWS::NoValue"}]}
        for r in Specs.load().responders_of("org")
    ]
    assert [a for a in org_arns if a not in pack_arns] == responders and all(a in org_arns for a in pack_arns)
    pack_arns[:] = org_arns
    assert org_key == pack_key


def test_the_stackset_reaches_every_account_of_the_target_ous_and_cleans_up(org: dict[str, Any]) -> None:
    properties = org["Resources"]["MemberStackSet"]["Properties"]
    assert properties["PermissionModel"] == "SERVICE_MANAGED"
    assert properties["AutoDeployment"] == {"Enabled": True, "RetainStacksOnAccountRemoval": False}
    assert properties["StackInstancesGroup"] == [
        {
            "DeploymentTargets": {"OrganizationalUnitIds": {"Ref": "TargetOrganizationalUnitIds"}},
            "Regions": {"Ref": "TargetRegions"},
        }
    ]
    assert "member-template.yaml" in properties["TemplateURL"]["Fn::Sub"]


def test_the_stackset_passes_every_member_parameter_once(org: dict[str, Any], member: dict[str, Any]) -> None:
    passed = {p["ParameterKey"]: p["ParameterValue"] for p in org["Resources"]["MemberStackSet"]["Properties"]["Parameters"]}
    assert sorted(passed) == sorted(member["Parameters"])
    for name, value in passed.items():
        assert value == MEMBER_VALUES.get(name, {"Ref": name})
        if "Ref" in value and not value["Ref"].startswith("AWS::"):
            assert value["Ref"] in org["Parameters"], f"{name} refers to {value['Ref']}, not a parameter"
    # Members get no address by default: every account and region would send a confirmation mail.
    assert org["Parameters"]["MemberNotificationEmail"]["Default"] == ""


def test_one_dashboard_and_a_bus_only_the_organization_may_put_to(org: dict[str, Any]) -> None:
    aggregator = org["Resources"]["ConfigAggregator"]["Properties"]["OrganizationAggregationSource"]
    assert aggregator["AllAwsRegions"] is True
    statement = org["Resources"]["OrganizationPutsEvents"]["Properties"]["Statement"]
    assert statement["Action"] == "events:PutEvents"
    assert statement["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": {"Ref": "OrganizationId"}}}


def test_the_region_deny_scp_is_off_by_default_and_spares_global_services_and_break_glass(org: dict[str, Any]) -> None:
    assert org["Parameters"]["RegionDenyScp"]["Default"] == "false"
    policy = org["Resources"]["RegionDenyPolicy"]
    assert policy["Condition"] == "RegionDenyOn"
    statement = policy["Properties"]["Content"]["Statement"][0]
    assert statement["Effect"] == "Deny" and {"iam:*", "sts:*", "organizations:*"} <= set(statement["NotAction"])
    assert "ApprovedRegions" in str(statement["Condition"]["StringNotEquals"]["aws:RequestedRegion"])
    assert "BreakGlassRoleName" in statement["Condition"]["ArnNotLike"]["aws:PrincipalARN"]["Fn::Sub"]


def test_the_central_responder_runs_only_when_remediation_is_on(org: dict[str, Any]) -> None:
    functions = {
        resource["Properties"]["FunctionName"]: resource
        for resource in org["Resources"].values()
        if resource["Type"] == "AWS::Serverless::Function"
    }
    assert functions["mamori-central-responder"]["Condition"] == "AutoRemediationOn"
    assert org["Parameters"]["CentralRootPasswordRemoval"]["Default"] == "false"


def test_the_stack_must_be_deployed_in_the_home_region(org: dict[str, Any]) -> None:
    assertion = org["Rules"]["DeployInTheHomeRegion"]["Assertions"][0]["Assert"]
    assert assertion == {"Fn::Equals": [{"Ref": "HomeRegion"}, {"Ref": "AWS::Region"}]}
