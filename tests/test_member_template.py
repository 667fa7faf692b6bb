"""member-template.yaml: plain CloudFormation for the member StackSet, made from the same
sources as template.yaml. It holds exactly the same rules, documents and remediations, converts
what SAM's transform would (checked against the transform itself), keeps global rules in the
home region, forwards what the central responders act on, and its code is packaged
deterministically and uploaded (moto S3)."""

import copy
import io
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from moto import mock_aws
from moto.events.models import EventPattern

from harness.aws import ACCOUNT, fake_credentials
from mamori.catalog import load_remediations, load_rules
from tests.generator import generated
from tests.test_notifications import COMPLIANCE_CHANGE
from tools import package_member
from tools.member_template import (
    FORWARD_CONDITION,
    HEALTH_CONDITION,
    HOME_REGION_CONDITION,
    HOME_REGION_VARIABLE,
    ConversionError,
    build_member,
    render_member,
)

ROOT = Path(__file__).resolve().parent.parent
SAM = generated().pack
MEMBER_TEXT = (ROOT / "member-template.yaml").read_text()
MEMBER = yaml.safe_load(MEMBER_TEXT)
RESOURCES = MEMBER["Resources"]
CONDITIONS = MEMBER["Conditions"]
RULES = load_rules()
REMEDIATIONS = {r.id: r for r in load_remediations()}
SAM_FUNCTIONS = {k: v for k, v in SAM["Resources"].items() if v["Type"] == "AWS::Serverless::Function"}
ARTIFACT_IDS = package_member.artifact_ids(MEMBER)


def of_type(template: dict[str, Any], kind: str) -> dict[str, Any]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def home_region_only(resource: dict[str, Any]) -> bool:
    """The resource's condition is IsHomeRegion, or an Fn::And that includes it."""
    condition = resource.get("Condition")
    if condition is None:
        return False
    if condition == HOME_REGION_CONDITION:
        return True
    return {"Condition": HOME_REGION_CONDITION} in CONDITIONS[condition].get("Fn::And", [])


def rule_resource_ids(rule_id: str) -> list[str]:
    """A rule's own resources and its remediation's, by the naming template.yaml uses."""
    rule = next(r for r in RULES if r.id == rule_id)
    ids = [rule.logical_id, rule.function_id, rule.role_id, rule.log_group_id, rule.invoke_permission_id]
    if rule.remediation:
        remediation = REMEDIATIONS[rule.remediation.document]
        ids.append(rule.remediation_config_id)
        for document in remediation.documents:
            ids += [document.logical_id, document.role_id]
        ids += list(remediation.resources)
    return ids


# --- the template -------------------------------------------------------------------------


def test_member_template_is_generated_from_its_sources() -> None:
    assert render_member(build_member(SAM)) == MEMBER_TEXT, "run `make template` and commit member-template.yaml"


def test_plain_cloudformation_no_transform_no_sam_no_yaml_aliases() -> None:
    assert "Transform" not in MEMBER and "Globals" not in MEMBER
    assert not [k for k, v in RESOURCES.items() if v["Type"].startswith("AWS::Serverless::")]
    # CloudFormation rejects YAML aliases, which PyYAML writes for a value used twice.
    assert not [e for e in yaml.parse(MEMBER_TEXT) if isinstance(e, yaml.AliasEvent)]
    assert {"ArtifactBucketPrefix", "ArtifactPrefix", "HomeRegion", "ManagementAccountId"} <= set(MEMBER["Parameters"])
    assert CONDITIONS[HOME_REGION_CONDITION] == {"Fn::Equals": [{"Ref": "AWS::Region"}, {"Ref": "HomeRegion"}]}


def test_fits_cloudformation_template_url_limit() -> None:
    # A StackSet reads its template from S3: at most 1 MB (the inlined document scripts make it large).
    assert len(MEMBER_TEXT.encode()) < 1_000_000


@pytest.mark.parametrize("kind", ["AWS::Config::ConfigRule", "AWS::SSM::Document", "AWS::Config::RemediationConfiguration"])
def test_same_rules_documents_and_remediations_as_template_yaml(kind: str) -> None:
    single, member = of_type(SAM, kind), of_type(MEMBER, kind)
    assert single and set(single) == set(member)
    for logical_id, resource in single.items():
        # Name, source details, input parameters, scope; document content; remediation parameters.
        assert member[logical_id]["Properties"] == resource["Properties"], logical_id


def in_member(value: Any) -> Any:
    """A function property as the member template has it: a responder's HOME_REGION is the
    HomeRegion parameter there (its own region in template.yaml)."""
    if isinstance(value, dict) and value.get("Variables", {}).get(HOME_REGION_VARIABLE) == {"Ref": "AWS::Region"}:
        return {**value, "Variables": {**value["Variables"], HOME_REGION_VARIABLE: {"Ref": "HomeRegion"}}}
    return value


def test_a_home_region_variable_names_the_home_region() -> None:
    miner = RESOURCES["MinerResponderFunction"]["Properties"]["Environment"]["Variables"]
    assert miner[HOME_REGION_VARIABLE] == {"Ref": "HomeRegion"}


def test_one_lambda_function_per_sam_function_with_the_same_settings() -> None:
    functions = of_type(MEMBER, "AWS::Lambda::Function")
    assert set(functions) == set(SAM_FUNCTIONS)
    for logical_id, resource in SAM_FUNCTIONS.items():
        sam, plain = resource["Properties"], functions[logical_id]["Properties"]
        for key in ("FunctionName", "Runtime", "Handler", "Role", "Environment", "Layers", "Architectures", "Timeout"):
            assert plain.get(key) == in_member(sam.get(key)), f"{logical_id}.{key}"
        assert plain["Code"] == {
            "S3Bucket": {"Fn::Sub": "${ArtifactBucketPrefix}-${AWS::Region}"},
            "S3Key": {"Fn::Sub": f"${{ArtifactPrefix}}/{logical_id}.zip"},
        }
        assert functions[logical_id].get("DependsOn") == resource.get("DependsOn")
    layer = RESOURCES["MamoriLibrary"]
    assert layer["Type"] == "AWS::Lambda::LayerVersion"
    # SAM's RetentionPolicy: a new Content replaces the version, and the old one goes too.
    assert (layer["DeletionPolicy"], layer["UpdateReplacePolicy"]) == ("Delete", "Delete")


def test_conversion_is_what_the_sam_transform_makes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Functions, layers, event rules and permissions equal samtranslator's own output for
    template.yaml, but for where the code is, SAM's tag and the conditions (tested above and below)."""
    from samtranslator.translator.transform import transform

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")  # the translator wants a region, and asks nothing else
    sam = copy.deepcopy(SAM)
    for resource in sam["Resources"].values():
        properties = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if key in properties:
                properties[key] = "s3://bucket/key.zip"

    class NoManagedPolicies:
        def load(self) -> dict[str, str]:
            return {}

    translated = transform(sam, {}, NoManagedPolicies())["Resources"]
    # SAM names a layer version by a hash of its content; the member template keeps the logical id.
    hashed = {k: "MamoriLibrary" for k, v in translated.items() if v["Type"] == "AWS::Lambda::LayerVersion"}
    assert list(hashed.values()) == ["MamoriLibrary"]
    compared = (
        "AWS::Lambda::Function",
        "AWS::Lambda::LayerVersion",
        "AWS::Events::Rule",
        "AWS::Lambda::Permission",
        "AWS::Lambda::EventInvokeConfig",
    )
    expected: dict[str, Any] = {}
    made_by_sam = {k for k, v in SAM["Resources"].items() if v["Type"].startswith("AWS::Serverless::")}
    for logical_id, resource in translated.items():
        if resource["Type"] not in compared or (logical_id in SAM["Resources"] and logical_id not in made_by_sam):
            continue
        resource = json.loads(json.dumps(resource).replace(f'"{next(iter(hashed))}"', '"MamoriLibrary"'))
        properties = resource["Properties"]
        properties.pop("Code", None)
        properties.pop("Content", None)
        properties.pop("Tags", None)
        resource.pop("Condition", None)
        expected[hashed.get(logical_id, logical_id)] = resource
    actual: dict[str, Any] = {}
    for logical_id in expected:
        resource = copy.deepcopy(RESOURCES[logical_id])
        if resource["Type"] == "AWS::Lambda::Function" and "Environment" in resource["Properties"]:
            sam_environment = SAM["Resources"][logical_id]["Properties"]["Environment"]
            assert resource["Properties"]["Environment"] == in_member(sam_environment), logical_id
            resource["Properties"]["Environment"] = sam_environment  # what SAM translates, before HomeRegion
        resource["Properties"].pop("Code", None)
        resource["Properties"].pop("Content", None)
        resource.pop("Condition", None)
        actual[logical_id] = resource
    member_only = {"ComplianceForwarder"}
    converted = {k for k, v in RESOURCES.items() if (v["Type"] in compared and k not in SAM["Resources"]) or k in made_by_sam}
    assert converted - member_only == set(expected)
    # Ours keeps the layer's logical id, so UpdateReplacePolicy does what SAM's renaming did.
    assert actual["MamoriLibrary"].pop("UpdateReplacePolicy") == expected["MamoriLibrary"]["DeletionPolicy"]
    for logical_id in expected:
        assert actual[logical_id] == expected[logical_id], logical_id


def test_every_eventbridge_event_became_a_rule_and_a_permission() -> None:
    count = 0
    for function_id, function in SAM_FUNCTIONS.items():
        for event_name, event in function["Properties"].get("Events", {}).items():
            count += 1
            rule, permission = RESOURCES[f"{function_id}{event_name}"], RESOURCES[f"{function_id}{event_name}Permission"]
            assert rule["Type"] == "AWS::Events::Rule"
            assert rule["Properties"]["EventPattern"] == event["Properties"]["Pattern"]
            assert [t["Arn"] for t in rule["Properties"]["Targets"]] == [{"Fn::GetAtt": [function_id, "Arn"]}]
            assert permission["Properties"] == {
                "Action": "lambda:InvokeFunction",
                "FunctionName": {"Ref": function_id},
                "Principal": "events.amazonaws.com",
                "SourceArn": {"Fn::GetAtt": [f"{function_id}{event_name}", "Arn"]},
            }
            assert rule.get("Condition") == permission.get("Condition")
            condition = RESOURCES[function_id].get("Condition")
            if event["Properties"]["Pattern"]["source"][0] in ("aws.health", "aws.cloudwatch"):
                # Where the Health forwarder does not bring them home instead (tests/test_org_template.py).
                assert (
                    rule["Condition"] == HEALTH_CONDITION
                    if condition is None
                    else CONDITIONS[rule["Condition"]] == {"Fn::And": [{"Condition": condition}, {"Condition": HEALTH_CONDITION}]}
                )
            else:
                assert rule.get("Condition") == condition
            # Retried by EventBridge, then left in the region's dead-letter queue.
            [target] = rule["Properties"]["Targets"]
            assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}}
            assert target["RetryPolicy"] == {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400}
        if not function["Properties"].get("Events"):
            assert f"{function_id}EventInvokeConfig" not in RESOURCES  # a Config rule's: Config evaluates again
            continue
        # Retried by Lambda, then sent to the dead-letter queue.
        invoke = RESOURCES[f"{function_id}EventInvokeConfig"]["Properties"]
        assert invoke["Qualifier"] == "$LATEST" and invoke["MaximumRetryAttempts"] == 2
        assert invoke["DestinationConfig"] == {"OnFailure": {"Destination": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}}}
    assert count == 6
    assert len(of_type(MEMBER, "AWS::Events::Rule")) == count + 1  # and the forwarder


# --- where things deploy ------------------------------------------------------------------


# Resource types of one account, not of a region: rules on them run in the home region only,
# or every region would report the same finding again.
GLOBAL_RESOURCE_TYPES = ("AWS::::Account", "AWS::IAM::User")


def test_rules_of_global_things_are_not_regional_and_the_open_proxy_rule_is() -> None:
    for rule in RULES:
        if set(rule.resource_types) & set(GLOBAL_RESOURCE_TYPES):
            assert not rule.regional, f"{rule.id} evaluates {rule.resource_types}: deploy it in the home region only"
    assert next(rule for rule in RULES if rule.id == "open-proxy-ports").regional


@pytest.mark.parametrize("rule_id", [rule.id for rule in RULES])
def test_global_rules_and_their_documents_deploy_in_the_home_region_only(rule_id: str) -> None:
    regional = next(rule for rule in RULES if rule.id == rule_id).regional
    for logical_id in rule_resource_ids(rule_id):
        assert home_region_only(RESOURCES[logical_id]) is not regional, logical_id


def test_a_condition_a_resource_had_is_kept_and_combined() -> None:
    remediation = RESOURCES["SecurityContactRemediation"]
    original = SAM["Resources"]["SecurityContactRemediation"]["Condition"]
    assert CONDITIONS[remediation["Condition"]] == {"Fn::And": [{"Condition": original}, {"Condition": HOME_REGION_CONDITION}]}


def test_what_every_region_needs_is_in_every_region() -> None:
    # The notifier tells about open-proxy findings of its own region; the abuse responder acts
    # in its own region; both need the topic, its key and the layer there.
    for logical_id in (
        "MamoriLibrary",
        "NotificationKey",
        "NotificationTopic",
        "NotifierFunction",
        "NotifierFunctionComplianceChange",
    ):
        assert "Condition" not in RESOURCES[logical_id], logical_id
    assert RESOURCES["AbuseResponderFunction"]["Condition"] == "AbuseCasesOn"
    assert RESOURCES["MinerResponderFunction"]["Condition"] == "MinerResponseOn"  # GuardDuty findings are regional


def test_nothing_deployed_in_every_region_has_a_fixed_global_name() -> None:
    """IAM is global: a fixed role or policy name in a stack of every region clashes in the second."""
    for logical_id, resource in RESOURCES.items():
        if resource["Type"].startswith("AWS::IAM::") and not home_region_only(resource):
            properties = resource["Properties"]
            for key in ("RoleName", "ManagedPolicyName", "PolicyName", "UserName", "GroupName"):
                if key in properties and resource["Type"] != "AWS::IAM::Policy":
                    assert "${AWS::Region}" in json.dumps(properties[key]), f"{logical_id}.{key}"


def test_a_role_named_after_its_region_fits_iam_in_every_region_of_every_partition() -> None:
    """mamori-miner-responder-<region>: IAM's 64 characters (botocore's CreateRole RoleName),
    counted with the longest region name in botocore's endpoints data; generation refuses more."""
    import botocore.session

    from tools import limits

    request = botocore.session.get_session().get_service_model("iam").operation_model("CreateRole").input_shape
    assert request is not None and request.members["RoleName"].metadata["max"] == limits.IAM_ROLE_NAME_CHARS
    named = [
        r["Properties"]["RoleName"]["Fn::Sub"]
        for r in of_type(MEMBER, "AWS::IAM::Role").values()
        if "RoleName" in r["Properties"]
    ]
    assert named == ["mamori-miner-responder-${AWS::Region}"]
    longest = max(limits.every_region(), key=len)
    assert len(named[0].replace("${AWS::Region}", longest)) == limits.check_regional_role_name("mamori-miner-responder") <= 64
    with pytest.raises(limits.SizeError, match="over IAM's 64"):
        limits.check_regional_role_name("mamori-" + "x" * (64 - len("mamori--") - len(longest) + 1))


def test_outputs_of_home_region_resources_exist_only_there() -> None:
    for name, output in MEMBER["Outputs"].items():
        (referenced,) = (v[0] for v in output["Value"].values()) if "Fn::GetAtt" in output["Value"] else (output["Value"]["Ref"],)
        assert output.get("Condition") == RESOURCES[referenced].get("Condition"), name


# --- the forwarder ---------------------------------------------------------------------------


def compliance_change(rule_name: str, compliance: str) -> Any:
    event: Any = copy.deepcopy(COMPLIANCE_CHANGE)
    event["detail"]["configRuleName"] = rule_name
    event["detail"]["newEvaluationResult"]["complianceType"] = compliance
    event["detail"]["newEvaluationResult"]["evaluationResultIdentifier"]["evaluationResultQualifier"]["configRuleName"] = (
        rule_name
    )
    return event


def test_forwarder_sends_what_the_central_responders_act_on_and_nothing_else() -> None:
    forwarder = RESOURCES["ComplianceForwarder"]
    pattern = EventPattern.load(json.dumps(forwarder["Properties"]["EventPattern"]))
    for rule_name in ("mamori-root-access-key", "mamori-root-mfa", "mamori-security-contact"):
        assert pattern.matches_event(compliance_change(rule_name, "NON_COMPLIANT")), rule_name
        assert not pattern.matches_event(compliance_change(rule_name, "COMPLIANT")), rule_name
    for rule_name in ("mamori-open-proxy-ports", "mamori-stale-access-keys", "someone-elses-root-access-key"):
        assert not pattern.matches_event(compliance_change(rule_name, "NON_COMPLIANT")), rule_name
    forged = compliance_change("mamori-root-mfa", "NON_COMPLIANT")
    forged["source"] = "custom.forged"
    assert not pattern.matches_event(forged)

    # The management account's mamori-central bus (template/org.yaml), not its default bus.
    bus = {"Fn::Sub": "arn:${AWS::Partition}:events:${HomeRegion}:${ManagementAccountId}:event-bus/mamori-central"}
    (target,) = forwarder["Properties"]["Targets"]
    assert target["Arn"] == bus and target["RoleArn"] == {"Fn::GetAtt": ["ComplianceForwarderRole", "Arn"]}
    # A compliance change fires once: retried for a day, then kept in the dead-letter queue, whose alarm tells.
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400}
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}}
    assert "Condition" not in RESOURCES["DeadLetterQueue"] and "Condition" not in RESOURCES["DeadLetterAlarm"]
    role = RESOURCES["ComplianceForwarderRole"]["Properties"]
    (policy,) = role["Policies"]
    assert policy["PolicyDocument"]["Statement"] == [{"Effect": "Allow", "Action": "events:PutEvents", "Resource": bus}]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "events.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    # Home region only, and never from the responders' own account to its own bus.
    assert forwarder["Condition"] == RESOURCES["ComplianceForwarderRole"]["Condition"] == FORWARD_CONDITION
    assert {"Condition": HOME_REGION_CONDITION} in CONDITIONS[FORWARD_CONDITION]["Fn::And"]


# --- failing loudly --------------------------------------------------------------------------


def _broken(change: str) -> dict[str, Any]:
    sam = copy.deepcopy(SAM)
    notifier = sam["Resources"]["NotifierFunction"]
    if change == "unknown SAM type":
        sam["Resources"]["Api"] = {"Type": "AWS::Serverless::Api", "Properties": {"StageName": "prod"}}
    elif change == "unconverted function property":
        notifier["Properties"]["Policies"] = ["AWSLambdaBasicExecutionRole"]
    elif change == "unconverted event type":
        notifier["Properties"]["Events"]["Daily"] = {"Type": "Schedule", "Properties": {"Schedule": "rate(1 day)"}}
    elif change == "unconverted EventBridgeRule property":
        notifier["Properties"]["Events"]["AbuseEvent"]["Properties"]["InputPath"] = "$.detail"
    elif change == "a dead-letter queue SAM would create":
        notifier["Properties"]["Events"]["AbuseEvent"]["Properties"]["DeadLetterConfig"] = {"Type": "SQS"}
    elif change == "an on-failure destination SAM would create":
        notifier["Properties"]["EventInvokeConfig"]["DestinationConfig"]["OnFailure"] = {"Type": "SQS"}
    elif change == "unconverted layer property":
        sam["Resources"]["MamoriLibrary"]["Properties"]["PublishLambdaEdge"] = True
    elif change == "SAM globals":
        sam["Globals"] = {"Function": {"Timeout": 10}}
    elif change == "no transform":
        del sam["Transform"]
    elif change == "global rule resource missing":
        del sam["Resources"]["RootMfaRuleRole"]
    return sam


@pytest.mark.parametrize(
    "change",
    [
        "unknown SAM type",
        "unconverted function property",
        "unconverted event type",
        "unconverted EventBridgeRule property",
        "a dead-letter queue SAM would create",
        "an on-failure destination SAM would create",
        "unconverted layer property",
        "SAM globals",
        "no transform",
        "global rule resource missing",
    ],
)
def test_conversion_fails_loudly_on_what_it_does_not_know(change: str) -> None:
    with pytest.raises(ConversionError):
        build_member(_broken(change))


def test_conversion_leaves_its_input_alone() -> None:
    sam = copy.deepcopy(SAM)
    build_member(sam)
    assert sam == SAM


# --- packaging ---------------------------------------------------------------------------------


def _write_tree(folder: Path, files: dict[str, str], order: list[str]) -> None:
    for name in order:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(files[name])


def test_zips_are_deterministic(tmp_path: Path) -> None:
    files = {
        "rule.py": "print('a')\n",
        "python/mamori/x.py": "X = 1\n",
        "python/rdklib/__init__.py": "",
        "bin/run": "#!/bin/sh\n",
    }
    first, second = tmp_path / "first", tmp_path / "second"
    _write_tree(first, files, sorted(files))
    _write_tree(second, files, sorted(files, reverse=True))  # other creation order
    (first / "bin" / "run").chmod(0o755)
    (second / "bin" / "run").chmod(0o700)  # another umask, still executable
    os.utime(second / "rule.py", (1_000_000_000, 1_000_000_000))  # other mtime
    (second / "__pycache__").mkdir()
    (second / "__pycache__" / "rule.cpython-312.pyc").write_bytes(b"bytecode with an mtime")
    archive = package_member.zip_folder(first)
    assert archive == package_member.zip_folder(first) == package_member.zip_folder(second)
    with zipfile.ZipFile(io.BytesIO(archive)) as opened:
        assert opened.namelist() == sorted(files)
        assert {info.date_time for info in opened.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        assert (opened.getinfo("bin/run").external_attr >> 16) & 0o777 == 0o755
        assert (opened.getinfo("rule.py").external_attr >> 16) & 0o777 == 0o644
        assert opened.read("python/mamori/x.py") == b"X = 1\n"


def _fake_build(build_dir: Path) -> None:
    """What `sam build` leaves: a folder per function and layer."""
    for logical_id in ARTIFACT_IDS:
        _write_tree(build_dir / logical_id, {"handler.py": f"NAME = {logical_id!r}\n"}, ["handler.py"])


def test_every_function_and_layer_is_packaged() -> None:
    assert set(ARTIFACT_IDS) == set(SAM_FUNCTIONS) | {"MamoriLibrary"}


def test_package_names_the_build_by_its_content(tmp_path: Path) -> None:
    _fake_build(tmp_path / "build")
    first = package_member.package(tmp_path / "build", tmp_path / "out")
    again = package_member.package(tmp_path / "build", tmp_path / "out")
    assert first == again and len(first.prefix) == 16 and int(first.prefix, 16) >= 0
    assert set(first.files) == {f"{i}.zip" for i in ARTIFACT_IDS} | {"member-template.yaml", "abuse-event-forwarder.yaml"}
    assert list(first.files)[-2:] == ["abuse-event-forwarder.yaml", "member-template.yaml"]
    assert first.files["abuse-event-forwarder.yaml"] == (ROOT / "template" / "abuse-event-forwarder.yaml").read_bytes()
    assert first.files["member-template.yaml"] == MEMBER_TEXT.encode()
    assert (tmp_path / "out" / "NotifierFunction.zip").read_bytes() == first.files["NotifierFunction.zip"]
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["prefix"] == first.prefix and set(manifest["sha256"]) == set(first.files)

    (tmp_path / "build" / "OpenProxyPortsRuleFunction" / "handler.py").write_text("changed\n")
    changed = package_member.package(tmp_path / "build", tmp_path / "out")
    assert changed.prefix != first.prefix
    assert changed.files["NotifierFunction.zip"] == first.files["NotifierFunction.zip"]


def test_package_refuses_a_missing_build(tmp_path: Path) -> None:
    _fake_build(tmp_path / "build")
    for child in (tmp_path / "build" / "MamoriLibrary").iterdir():
        child.unlink()
    (tmp_path / "build" / "MamoriLibrary").rmdir()
    with pytest.raises(SystemExit, match="MamoriLibrary is missing"):
        package_member.package(tmp_path / "build", tmp_path / "out")


def test_upload_puts_everything_in_each_regions_bucket(tmp_path: Path) -> None:
    _fake_build(tmp_path / "build")
    built = package_member.package(tmp_path / "build", tmp_path / "out")
    regions = ["us-east-1", "eu-west-1"]
    fake_credentials()
    with mock_aws():
        for region in regions:
            s3: Any = boto3.client("s3", region_name=region)
            location = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
            s3.create_bucket(Bucket=f"mamori-artifacts-{ACCOUNT}-{region}", **location)
        written = package_member.upload(built, f"mamori-artifacts-{ACCOUNT}", regions)
        assert len(written) == len(regions) * len(built.files)
        for region in regions:
            s3 = boto3.client("s3", region_name=region)
            bucket = f"mamori-artifacts-{ACCOUNT}-{region}"
            keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
            assert keys == {f"{built.prefix}/{name}" for name in built.files}
            for name, content in built.files.items():
                assert s3.get_object(Bucket=bucket, Key=f"{built.prefix}/{name}")["Body"].read() == content
            # What the member stack in this region reads: its function's code under ArtifactPrefix.
            code = RESOURCES["OpenProxyPortsRuleFunction"]["Properties"]["Code"]
            key = code["S3Key"]["Fn::Sub"].replace("${ArtifactPrefix}", built.prefix)
            assert f"{built.prefix}/OpenProxyPortsRuleFunction.zip" == key
            assert (
                code["S3Bucket"]["Fn::Sub"]
                .replace("${ArtifactBucketPrefix}", f"mamori-artifacts-{ACCOUNT}")
                .replace("${AWS::Region}", region)
                == bucket
            )


def test_without_a_bucket_it_prints_the_copy_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _fake_build(tmp_path / "build")
    assert (
        package_member.main(
            ["--regions", "us-east-1,eu-west-1", "--build-dir", str(tmp_path / "build"), "--out", str(tmp_path / "out")]
        )
        == 0
    )
    printed = capsys.readouterr().out
    prefix = json.loads((tmp_path / "out" / "manifest.json").read_text())["prefix"]
    assert f"ArtifactPrefix={prefix}" in printed
    assert f"s3://${{BUCKET_PREFIX}}-eu-west-1/{prefix}/member-template.yaml --region eu-west-1" in printed
    assert f"s3://${{BUCKET_PREFIX}}-eu-west-1/{prefix}/abuse-event-forwarder.yaml --region eu-west-1" in printed
    assert printed.count("aws s3 cp ") == 2 * (len(ARTIFACT_IDS) + 2)
    with pytest.raises(SystemExit):
        package_member.main(["--regions", "not a region"])
