"""Thin stand-ins for what moto does not do, shared by the tests, the demo and the bench.

moto stands in for AWS. On top of it, one botocore `before-call` hook on boto3's default
session (the session every production client here is made from) does these things:

* counts every API call, per principal (a rule Lambda or an SSM document), by the IAM action
  that authorizes it (budgets:ViewBudget for DescribeBudgets, ...);
* enforces what that principal's role is granted in template.yaml, answering AccessDenied like
  IAM would: the action, each resource type AWS's Service Authorization Reference marks
  required for it, on the ARN the call touches (harness.authorization), and the conditions of
  the statements that grant it (harness.conditions stands in for IAM's evaluation of the keys
  mamori's roles use);
* stands in for the AWS Config operations moto lacks: PutEvaluations (stored, as Config
  would show them in the dashboard), GetComplianceDetailsByConfigRule (paged like Config),
  and GetResourceConfigHistory (for oversized configuration items);
* answers what moto gets unlike a real account: DescribeRegions (moto lists every partition's
  regions; an account has 17 default regions plus those it opted in to), DescribeInstances
  and DescribeSecurityGroups paging (moto ignores MaxResults), GetAccountAuthorizationDetails
  paging (below), DescribeSubscribersForNotification (moto lacks it, the subscribers are read
  from moto's budgets backend), GuardDuty TagResource and UntagResource on detectors (moto
  lacks them; the tags are kept on moto's detector, which GetDetector returns), and, when a
  runner is installed, StartAutomationExecution (moto runs no automation);
* injects faults: error answers for the next calls of an action, every call into a region
  (an SCP, a region not opted in), and a fixed latency per call (the network, for the bench);
* holds what the deployed pack holds that its code uses: the record key (template/base.yaml,
  RecordKey: an HMAC key with the alias mamori.records.RECORD_KEY_ALIAS), which moto creates
  like KMS would but whose key policy it does not enforce (tests/test_record_integrity.py
  checks that policy as rendered);

Production code is untouched: it calls the real APIs through boto3.
"""

import collections
import contextlib
import datetime
import functools
import itertools
import json
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import boto3
import botocore.exceptions
import botocore.session
import botocore.validate
from moto.core.responses import ActionResult
from moto.iam.exceptions import ValidationError as IamValidationError
from moto.iam.responses import IamResponse

from harness import conditions
from harness.authorization import Call, NoArnBuilder, Policy, touched_resources
from mamori.records import RECORD_KEY_ALIAS
from mamori.service_limits import (
    ANNOTATION_CHARS,
    EVALUATIONS_PER_PUT,
    PARAMETER_VALUE_ADVANCED,
    PARAMETER_VALUE_STANDARD,
    RULE_INPUT_PARAMETERS_CHARS,
)

REGION = "us-east-1"
ACCOUNT = "123456789012"
CONFIG_STANDIN_OPERATIONS = (
    "PutEvaluations",
    "GetComplianceDetailsByConfigRule",
    "GetResourceConfigHistory",
    "DescribeConfigRules",
)
INPUT_PARAMETERS_LIMIT = RULE_INPUT_PARAMETERS_CHARS
# The regions enabled in every AWS account (the others must be opted in to).
DEFAULT_REGIONS = (
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ca-central-1",
    "eu-central-1",
    "eu-north-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
)
OPT_IN_REGIONS = (
    "af-south-1",
    "ap-east-1",
    "ap-south-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ca-west-1",
    "eu-central-2",
    "eu-south-1",
    "eu-south-2",
    "il-central-1",
    "me-central-1",
    "me-south-1",
)
_PAGE_TOKEN = "mamori-standin-page:"
# API operations whose IAM action has another name: calls are counted and granted by IAM action.
_BUDGETS_VIEW = ("DescribeBudget", "DescribeBudgets", "DescribeNotificationsForBudget", "DescribeSubscribersForNotification")
_BUDGETS_MODIFY = (
    "CreateBudget",
    "UpdateBudget",
    "DeleteBudget",
    "CreateNotification",
    "UpdateNotification",
    "DeleteNotification",
    "CreateSubscriber",
    "UpdateSubscriber",
    "DeleteSubscriber",
)
IAM_ACTIONS = {f"budgets:{name}": "budgets:ViewBudget" for name in _BUDGETS_VIEW} | {
    f"budgets:{name}": "budgets:ModifyBudget" for name in _BUDGETS_MODIFY
}
# Calls IAM also authorizes as a second action when they carry tags (Service Authorization
# Reference, GuardDuty: CreateDetector's tags are authorized as guardduty:TagResource).
ALSO_AUTHORIZED_WITH_TAGS = {"guardduty:CreateDetector": "guardduty:TagResource"}


def iam_action(api_action: str) -> str:
    """The IAM action that authorizes an API call ("service:Operation")."""
    return IAM_ACTIONS.get(api_action, api_action)


def fake_credentials() -> None:
    """Credentials and region for moto; a profile or endpoint from the user's shell must not leak in."""
    for key in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        os.environ.pop(key, None)
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,  # what the Lambda runtime sets; rdklib reads it
        # moto would load ~1,300 example images into each region on first use: seconds per region
        # scanned, and nothing here looks at images.
        "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",
    }.items():
        os.environ[key] = value


@dataclass
class _Response:
    status_code: int = 200
    headers: dict[str, str] = field(default_factory=dict)


@functools.cache
def _put_evaluations_input() -> Any:
    return botocore.session.get_session().get_service_model("config").operation_model("PutEvaluations").input_shape


@dataclass
class ConfigStandIn:
    """What AWS Config would hold: evaluations per rule, and recorded configuration items."""

    evaluations: dict[str, dict[tuple[str, str], dict[str, Any]]] = field(default_factory=dict)
    items: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    put_evaluations_calls: int = 0
    # The deployed rules' InputParameters (as the JSON string Config keeps), by rule name.
    rules: dict[str, str] = field(default_factory=dict)
    # Check every PutEvaluations request against Config's model, as Config does. The bench turns
    # it off: it is Config's CPU, which the bench process would spend under the rule's own lock.
    checks_requests: bool = True

    def deploy_rule(self, rule_name: str, input_parameters: Mapping[str, str]) -> None:
        """The rule as CloudFormation's PutConfigRule leaves it (moto would need its Lambda)."""
        text = json.dumps(dict(input_parameters), separators=(",", ":"))
        if len(text) > INPUT_PARAMETERS_LIMIT:
            raise botocore.exceptions.ClientError(
                {"Error": {"Code": "ValidationException", "Message": f"InputParameters over {INPUT_PARAMETERS_LIMIT}"}},
                "PutConfigRule",
            )
        self.rules[rule_name] = text

    def record_item(self, item: Mapping[str, Any]) -> None:
        """Store a configuration item (change-notification shape) for GetResourceConfigHistory."""
        self.items[(item["resourceType"], item["resourceId"])] = dict(item)

    def compliance(self, rule_name: str) -> dict[str, tuple[str, str]]:
        """{resource id: (compliance type, annotation)} as the Config dashboard would show it."""
        return {
            resource_id: (evaluation["ComplianceType"], evaluation.get("Annotation", ""))
            for (_, resource_id), evaluation in self.evaluations.get(rule_name, {}).items()
        }

    def answer(self, operation: str, params: Mapping[str, Any]) -> dict[str, Any]:
        if operation == "PutEvaluations":
            self.put_evaluations_calls += 1
            # Config checks the request against its model (the pack's client leaves that to it).
            invalid = self.checks_requests and botocore.validate.ParamValidator().validate(params, _put_evaluations_input())
            if invalid and invalid.has_errors():
                raise botocore.exceptions.ClientError(
                    {"Error": {"Code": "ValidationException", "Message": invalid.generate_report()}}, operation
                )
            if len(params["Evaluations"]) > EVALUATIONS_PER_PUT:
                raise botocore.exceptions.ClientError(
                    {"Error": {"Code": "ValidationException", "Message": f"at most {EVALUATIONS_PER_PUT} evaluations"}},
                    operation,
                )
            rule_name = rule_name_from_token(params["ResultToken"])
            stored = self.evaluations.setdefault(rule_name, {})
            if not params.get("TestMode"):
                for evaluation in params["Evaluations"]:
                    if len(evaluation.get("Annotation", "")) > ANNOTATION_CHARS:
                        raise botocore.exceptions.ClientError(
                            {"Error": {"Code": "ValidationException", "Message": "annotation over 256"}}, operation
                        )
                    stored[(evaluation["ComplianceResourceType"], evaluation["ComplianceResourceId"])] = dict(evaluation)
            return {"FailedEvaluations": []}
        if operation == "GetComplianceDetailsByConfigRule":
            wanted = set(params.get("ComplianceTypes") or ["COMPLIANT", "NON_COMPLIANT", "NOT_APPLICABLE"])
            stored = self.evaluations.get(params["ConfigRuleName"], {})
            matching = [key for key, evaluation in stored.items() if evaluation["ComplianceType"] in wanted]
            # Pages of Limit (at most 100), as Config answers; only the page is built.
            limit = min(int(params.get("Limit") or 100), 100)
            start = int(params.get("NextToken") or 0)
            results = [
                {
                    "EvaluationResultIdentifier": {
                        "EvaluationResultQualifier": {
                            "ConfigRuleName": params["ConfigRuleName"],
                            "ResourceType": resource_type,
                            "ResourceId": resource_id,
                        }
                    },
                    "ComplianceType": stored[(resource_type, resource_id)]["ComplianceType"],
                    "Annotation": stored[(resource_type, resource_id)].get("Annotation", ""),
                }
                for resource_type, resource_id in matching[start : start + limit]
            ]
            page: dict[str, Any] = {"EvaluationResults": results}
            if start + limit < len(matching):
                page["NextToken"] = str(start + limit)
            return page
        if operation == "GetResourceConfigHistory":
            item = self.items.get((params["resourceType"], params["resourceId"]))
            if item is None:
                raise botocore.exceptions.ClientError(
                    {"Error": {"Code": "ResourceNotDiscoveredException", "Message": "not recorded"}}, operation
                )
            return {"configurationItems": [history_shape(item)]}
        if operation == "DescribeConfigRules":
            names = params.get("ConfigRuleNames") or sorted(self.rules)
            missing = [name for name in names if name not in self.rules]
            if missing:
                raise botocore.exceptions.ClientError(
                    {"Error": {"Code": "NoSuchConfigRuleException", "Message": f"{missing[0]} does not exist"}}, operation
                )
            return {
                "ConfigRules": [
                    {"ConfigRuleName": name, "InputParameters": self.rules[name], "ConfigRuleState": "ACTIVE"} for name in names
                ]
            }
        raise AssertionError(operation)


def history_shape(item: Mapping[str, Any]) -> dict[str, Any]:
    """A change-notification configuration item in the GetResourceConfigHistory shape
    (configuration as a JSON string, relationships named relationshipName)."""
    return {
        "version": item.get("configurationItemVersion", "1.3"),
        "accountId": item["awsAccountId"],
        "configurationItemCaptureTime": datetime.datetime.fromisoformat(
            item["configurationItemCaptureTime"].replace("Z", "+00:00")
        ),
        "configurationItemStatus": item["configurationItemStatus"],
        "configurationStateId": str(item.get("configurationStateId", "")),
        "configurationItemMD5Hash": item.get("configurationStateMd5Hash", ""),
        "arn": item.get("ARN", ""),
        "resourceType": item["resourceType"],
        "resourceId": item["resourceId"],
        "resourceName": item.get("resourceName") or item["resourceId"],
        "awsRegion": item["awsRegion"],
        "availabilityZone": item.get("availabilityZone", ""),
        "tags": item.get("tags") or {},
        "relatedEvents": item.get("relatedEvents") or [],
        "relationships": [
            {
                "resourceType": relation.get("resourceType"),
                "resourceId": relation.get("resourceId"),
                "resourceName": relation.get("resourceName"),
                "relationshipName": relation.get("name"),
            }
            for relation in item.get("relationships") or []
        ],
        "configuration": json.dumps(item.get("configuration")),
        "supplementaryConfiguration": {k: json.dumps(v) for k, v in (item.get("supplementaryConfiguration") or {}).items()},
    }


def result_token(rule_name: str, serial: int = 0) -> str:
    return f"mamori-standin|{rule_name}|{serial}"


def rule_name_from_token(token: str) -> str:
    parts = token.split("|")
    if len(parts) != 3 or parts[0] != "mamori-standin":
        raise botocore.exceptions.ClientError(
            {"Error": {"Code": "InvalidResultTokenException", "Message": "unknown result token"}}, "PutEvaluations"
        )
    return parts[1]


@dataclass
class RootAccessKey:
    active: bool = True
    created: datetime.datetime = field(default_factory=lambda: datetime.datetime(2019, 3, 1, tzinfo=datetime.UTC))
    last_used: datetime.datetime | None = None
    last_used_region: str | None = None
    last_used_service: str | None = None


@dataclass
class RootCredentials:
    """The root user's state, which no API (and so no moto call) can set up: the sandbox
    writes it into the credential report's <root_account> row and GetAccountSummary."""

    password: bool = True
    mfa_active: bool = False
    access_keys: list[RootAccessKey] = field(default_factory=list)
    created: datetime.datetime = field(default_factory=lambda: datetime.datetime(2018, 1, 15, tzinfo=datetime.UTC))

    def report_row(self) -> str:
        def when(moment: datetime.datetime | None) -> str:
            return moment.strftime("%Y-%m-%dT%H:%M:%S+00:00") if moment else "N/A"

        keys = []
        for slot in range(2):
            key = self.access_keys[slot] if slot < len(self.access_keys) else None
            if key is None:
                keys += ["false", "N/A", "N/A", "N/A", "N/A"]
            else:
                keys += [
                    str(key.active).lower(),
                    when(key.created),
                    when(key.last_used),
                    key.last_used_region or "N/A",
                    key.last_used_service or "N/A",
                ]
        # As IAM writes it: password columns of the root row say not_supported.
        return ",".join(
            [
                ROOT_ROW_USER,
                f"arn:aws:iam::{ACCOUNT}:root",
                when(self.created),
                "not_supported",
                "no_information",
                "not_supported",
                "not_supported",
                str(self.mfa_active).lower(),
                *keys,
                "false",
                "N/A",
                "false",
                "N/A",
            ]
        )


ROOT_ROW_USER = "<root_account>"


class Sandbox:
    """Install once per moto mock (moto resets boto3's default session when it starts)."""

    # Set to a Counter to add up every principal's calls, by (principal, IAM action), across every
    # Sandbox made while it is set; reset_counts never clears it. The test session sets it to check
    # each role's grants against all that its principal called in any test (tests/meta/grants.py).
    session_calls: ClassVar[collections.Counter[tuple[str, str]] | None] = None

    def __init__(self) -> None:
        self.config = ConfigStandIn()
        self.calls: collections.Counter[tuple[str, str]] = collections.Counter()
        self.root: RootCredentials | None = None  # None: the report has no root row (as moto's)
        # action -> [error code or response dict, ...], consumed one per call: faults to inject.
        self.next_answers: dict[str, list[str | dict[str, Any]]] = {}
        # The account's enabled regions: the default ones plus those opted in to.
        self.opted_in_regions: list[str] = []
        # region -> error code answered to every call into that region (see deny_region).
        self.region_faults: dict[str, str] = {}
        # Seconds each call waits for its answer: stands in for the network and AWS's time to
        # answer (bench). A request that is sent waits after it is signed, when it goes on the wire
        # (_on_the_wire); one answered here waits before the answer (_before_call).
        self.latency_seconds = 0.0
        # (document name, parameters as StartAutomationExecution got them) -> execution id;
        # installed by harness.pack.run_automations (moto runs no automation).
        self.automation_runner: Callable[[str, dict[str, list[str]]], str] | None = None
        self._principal: str | None = None
        self._allowed: frozenset[str] | Policy = frozenset()
        self._lock = threading.Lock()
        self._execution_ids = itertools.count(1)
        boto3.setup_default_session(region_name=REGION)
        assert boto3.DEFAULT_SESSION is not None
        boto3.DEFAULT_SESSION.events.register("before-parameter-build", self._keep_parameters)
        self.record_key_id = deploy_record_key(boto3.client("kms"))
        boto3.DEFAULT_SESSION.events.register("before-call", self._before_call)
        boto3.DEFAULT_SESSION.events.register_first("before-send", self._on_the_wire)
        boto3.DEFAULT_SESSION.events.register("after-call.iam", self._after_iam_call)
        boto3.DEFAULT_SESSION.events.register("after-call.ec2.DescribeInstances", self._page_instances)
        boto3.DEFAULT_SESSION.events.register("after-call.ec2.DescribeSecurityGroups", self._page_security_groups)

    @property
    def enabled_regions(self) -> list[str]:
        return sorted({*DEFAULT_REGIONS, *self.opted_in_regions})

    def deny_region(self, region: str, code: str = "UnauthorizedOperation") -> None:
        """Answer every call into region with code: an SCP denying the region
        (UnauthorizedOperation from EC2, AccessDenied elsewhere) or AuthFailure (not opted in)."""
        self.region_faults[region] = code

    def answer_next(self, action: str, *answers: str | dict[str, Any]) -> None:
        """The next calls of action (e.g. "iam:GenerateCredentialReport") get these answers
        instead of moto's: an error code string raises that ClientError, a dict is returned."""
        self.next_answers.setdefault(action, []).extend(answers)

    def _after_iam_call(self, model: Any, parsed: dict[str, Any], **_: Any) -> None:
        if self.root is None:
            return
        if model.name == "GetCredentialReport" and "Content" in parsed:
            lines = parsed["Content"].decode("utf-8").splitlines()
            parsed["Content"] = "\n".join([lines[0], self.root.report_row(), *lines[1:]]).encode("utf-8") + b"\n"
        elif model.name == "GetAccountSummary" and "SummaryMap" in parsed:
            parsed["SummaryMap"]["AccountMFAEnabled"] = int(self.root.mfa_active)
            parsed["SummaryMap"]["AccountAccessKeysPresent"] = int(any(k for k in self.root.access_keys))
            parsed["SummaryMap"]["AccountPasswordPresent"] = int(self.root.password)

    @contextlib.contextmanager
    def acting_as(self, principal: str, granted: Policy | frozenset[str]) -> Iterator[None]:
        """Calls made inside are counted for principal and refused unless granted allows them:
        a role's Policy (actions and required resources), or bare actions (any resource)."""
        previous = (self._principal, self._allowed)
        self._principal, self._allowed = principal, granted
        try:
            yield
        finally:
            self._principal, self._allowed = previous

    def calls_by(self, principal: str) -> collections.Counter[str]:
        return collections.Counter({action: n for (who, action), n in self.calls.items() if who == principal})

    def reset_counts(self) -> None:
        self.calls.clear()
        self.config.put_evaluations_calls = 0

    @staticmethod
    def _keep_parameters(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        """The parameters as the code passed them, for the ARNs the call touches and the conditions."""
        context["mamori_parameters"] = dict(params)

    def _refusal(self, api_action: str, action: str, context: Mapping[str, Any]) -> str | None:
        if self._principal is None:
            return None
        if not isinstance(self._allowed, Policy):
            return None if action in self._allowed else f"is not granted {action}"
        parameters = context.get("mamori_parameters") or {}
        region = str(context.get("client_region") or REGION)
        also = ALSO_AUTHORIZED_WITH_TAGS.get(api_action) if parameters.get("Tags") else None
        for checked in (action, *([also] if also else [])):
            try:
                why = self._allowed.refusal(checked, touched_resources(Call(checked, parameters, region, ACCOUNT)))
            except NoArnBuilder as error:
                return str(error)
            if why is None:
                granting = [s.condition for s in self._allowed.statements if s.effect == "Allow" and s.applies_to_action(checked)]
                why = conditions.refusal(api_action, checked, granting, parameters, ACCOUNT, region, REGION)
            if why is not None:
                return why if checked == action else f"{why} ({action} with tags is also authorized as {checked})"
        return None

    def _before_call(self, model: Any, params: dict[str, Any], context: dict[str, Any], **_: Any) -> Any:
        try:
            answer = self._answer_here(model, params, context)
        except botocore.exceptions.ClientError:
            self._wait_for_answer()
            raise
        if answer is not None:
            self._wait_for_answer()
        return answer

    def _on_the_wire(self, **_: Any) -> None:
        # A request that goes out (to moto, or to the bench's region servers), signed as for AWS.
        self._wait_for_answer()

    def _wait_for_answer(self) -> None:
        if self.latency_seconds:
            time.sleep(self.latency_seconds)

    def _answer_here(self, model: Any, params: dict[str, Any], context: dict[str, Any]) -> Any:
        """The call's answer, or the error it gets, when the sandbox gives them (a refusal,
        an injected fault, a stand-in for what moto lacks); None to send the request."""
        service = model.service_model.signing_name
        api_action = f"{service}:{model.name}"
        action = iam_action(api_action)
        refusal = self._refusal(api_action, action, context)
        denied = refusal is not None
        with self._lock:  # region scans call from several threads
            if self._principal is not None:
                self.calls[(self._principal, action)] += 1
                if Sandbox.session_calls is not None:
                    Sandbox.session_calls[(self._principal, action)] += 1
            queued = None if denied else self.next_answers.get(api_action)
            answer = queued.pop(0) if queued else None
        if denied:
            raise botocore.exceptions.ClientError(
                {"Error": {"Code": "AccessDenied", "Message": f"{self._principal} {refusal}"}}, model.name
            )
        region = context.get("client_region")
        if region in self.region_faults:
            code = self.region_faults[region]
            raise botocore.exceptions.ClientError({"Error": {"Code": code, "Message": f"{code} in {region}"}}, model.name)
        if isinstance(answer, str):
            raise botocore.exceptions.ClientError({"Error": {"Code": answer, "Message": f"injected {answer}"}}, model.name)
        if answer is not None:
            return _Response(), answer
        if service == "config" and model.name in CONFIG_STANDIN_OPERATIONS:
            # `params` is the serialized request; Config speaks JSON.
            body = params.get("body") or b"{}"
            with self._lock:
                return _Response(), self.config.answer(model.name, json.loads(body))
        if api_action == "ssm:PutParameter":
            _check_parameter_size(context.get("mamori_parameters") or {})
        if api_action == "ec2:DescribeRegions":
            return _Response(), self._describe_regions(params["body"])
        if api_action in ("ec2:DescribeInstances", "ec2:DescribeSecurityGroups"):
            self._take_page_request(params["body"], context, model.name)
        if api_action == "budgets:DescribeSubscribersForNotification":
            return _Response(), _budget_subscribers(json.loads(params.get("body") or b"{}"))
        if api_action in ("guardduty:TagResource", "guardduty:UntagResource"):
            return _Response(status_code=204), _tag_detector(
                context.get("mamori_parameters") or {}, str(context.get("client_region") or REGION)
            )
        if api_action == "ssm:StartAutomationExecution" and self.automation_runner is not None:
            request = json.loads(params.get("body") or b"{}")
            return _Response(), {
                "AutomationExecutionId": self.automation_runner(request["DocumentName"], request.get("Parameters") or {})
            }
        return None

    def next_execution_id(self) -> str:
        return f"{next(self._execution_ids):08d}-0000-4000-8000-000000000000"

    def _describe_regions(self, body: Mapping[str, Any]) -> dict[str, Any]:
        enabled = self.enabled_regions
        listed = enabled + (sorted(set(OPT_IN_REGIONS) - set(enabled)) if body.get("AllRegions") == "true" else [])
        return {
            "Regions": [
                {
                    "RegionName": region,
                    "Endpoint": f"ec2.{region}.amazonaws.com",
                    "OptInStatus": (
                        "opt-in-not-required"
                        if region in DEFAULT_REGIONS
                        else ("opted-in" if region in enabled else "not-opted-in")
                    ),
                }
                for region in listed
            ]
        }

    @staticmethod
    def _take_page_request(body: dict[str, Any], context: dict[str, Any], operation: str) -> None:
        """moto answers DescribeInstances and DescribeSecurityGroups in one page whatever
        MaxResults says (5 to 1,000 for both, EC2 API reference): remember the page asked for
        (MaxResults, and the offset in our NextToken) to cut moto's answer."""
        token = str(body.pop("NextToken", ""))
        if "MaxResults" in body:
            maximum = int(body.pop("MaxResults"))
            if not 5 <= maximum <= 1000:
                raise botocore.exceptions.ClientError(
                    {"Error": {"Code": "InvalidParameterValue", "Message": "MaxResults must be 5 to 1000"}},
                    operation,
                )
            offset = int(token.removeprefix(_PAGE_TOKEN)) if token.startswith(_PAGE_TOKEN) else 0
            context["mamori_page"] = (offset, maximum)

    @staticmethod
    def _page_instances(parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        if "mamori_page" not in context or "Reservations" not in parsed:
            return
        offset, maximum = context["mamori_page"]
        seen, page = 0, []
        for reservation in parsed["Reservations"]:
            kept = []
            for instance in reservation["Instances"]:
                if offset <= seen < offset + maximum:
                    kept.append(instance)
                seen += 1
            if kept:
                page.append({**reservation, "Instances": kept})
        parsed["Reservations"] = page
        if seen > offset + maximum:
            parsed["NextToken"] = f"{_PAGE_TOKEN}{offset + maximum}"

    @staticmethod
    def _page_security_groups(parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        if "mamori_page" not in context or "SecurityGroups" not in parsed:
            return
        offset, maximum = context["mamori_page"]
        groups = parsed["SecurityGroups"]
        parsed["SecurityGroups"] = groups[offset : offset + maximum]
        if len(groups) > offset + maximum:
            parsed["NextToken"] = f"{_PAGE_TOKEN}{offset + maximum}"


# GetAccountAuthorizationDetails' MaxItems: 1 to 1,000, 100 when not given (botocore's IAM model,
# shape maxItemsType, and the IAM API reference).
IAM_MAX_ITEMS, IAM_DEFAULT_MAX_ITEMS = 1000, 100
_DETAIL_LISTS = (("UserDetailList", "users"), ("GroupDetailList", "groups"), ("RoleDetailList", "roles"))


def _paged_authorization_details(self: IamResponse) -> ActionResult:
    """moto 5.2 answers GetAccountAuthorizationDetails with everything in one response, whatever
    MaxItems says; IAM pages it (MaxItems, a Marker for the next page). Everything else is
    moto's own: the same backend call, the same objects (tags, attached policies), serialized
    by moto. Only one page of them is serialized, as IAM would send it."""
    max_items = int(self._get_param("MaxItems") or IAM_DEFAULT_MAX_ITEMS)
    if not 1 <= max_items <= IAM_MAX_ITEMS:
        raise IamValidationError(f"MaxItems {max_items}: must be 1 to {IAM_MAX_ITEMS}")
    details = self.backend.get_account_authorization_details(self._get_param("Filter", []))
    every = [(key, item) for key, kind in _DETAIL_LISTS for item in details[kind]]
    every += [("Policies", policy) for policy in details["managed_policies"]]
    start = int(self._get_param("Marker") or 0)
    end = start + max_items
    page = every[start:end]
    result: dict[str, Any] = {key: [item for kind, item in page if kind == key] for key, _ in _DETAIL_LISTS}
    result["Policies"] = [item for kind, item in page if kind == "Policies"]
    result["IsTruncated"] = end < len(every)
    if end < len(every):
        result["Marker"] = str(end)
    return ActionResult(result)


IamResponse.get_account_authorization_details = _paged_authorization_details  # type: ignore[method-assign]


def _check_parameter_size(request: Mapping[str, Any]) -> None:
    """Parameter Store's value sizes, which moto does not enforce: 4 KB standard, 8 KB advanced
    (Intelligent-Tiering chooses advanced for a larger value)."""
    limit = PARAMETER_VALUE_STANDARD if request.get("Tier", "Standard") == "Standard" else PARAMETER_VALUE_ADVANCED
    if len(str(request.get("Value", "")).encode()) > limit:
        raise botocore.exceptions.ClientError(
            {"Error": {"Code": "ValidationException", "Message": f"the parameter value is over {limit} bytes"}},
            "PutParameter",
        )


def deploy_record_key(kms: Any) -> str:
    """The pack's record key as the stack creates it (template/base.yaml: RecordKey and its
    alias); its key id."""
    key_id = str(
        kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC", Description="mamori records")["KeyMetadata"]["KeyId"]
    )
    kms.create_alias(AliasName=RECORD_KEY_ALIAS, TargetKeyId=key_id)
    return key_id


def _budget_subscribers(request: Mapping[str, Any]) -> dict[str, Any]:
    """DescribeSubscribersForNotification, which moto lacks, from moto's budgets backend
    (moto keeps each notification's subscribers)."""
    from moto.budgets.models import budgets_backends

    backend = budgets_backends[request["AccountId"]]["aws"]
    budget = backend.budgets[request["AccountId"]].get(request["BudgetName"])
    if budget is None:
        raise botocore.exceptions.ClientError(
            {"Error": {"Code": "NotFoundException", "Message": "the budget doesn't exist"}},
            "DescribeSubscribersForNotification",
        )
    wanted = request["Notification"]

    def same(details: Mapping[str, Any]) -> bool:
        return (
            details.get("NotificationType") == wanted.get("NotificationType")
            and details.get("ComparisonOperator") == wanted.get("ComparisonOperator")
            and float(details.get("Threshold", -1)) == float(wanted.get("Threshold", -2))
        )

    for notification in budget.notifications:
        if same(notification.details):
            return {"Subscribers": list(notification.subscribers)}
    raise botocore.exceptions.ClientError(
        {"Error": {"Code": "NotFoundException", "Message": "the notification doesn't exist"}},
        "DescribeSubscribersForNotification",
    )


def _tag_detector(request: Mapping[str, Any], region: str) -> dict[str, Any]:
    """GuardDuty TagResource / UntagResource on a detector, which moto lacks: the tags are kept
    on moto's detector (GetDetector returns them), as GuardDuty keeps them."""
    from moto.guardduty.models import guardduty_backends

    arn = str(request.get("ResourceArn", ""))
    detector = guardduty_backends[ACCOUNT][region].detectors.get(arn.rsplit("detector/", 1)[-1])
    if "detector/" not in arn or detector is None:
        raise botocore.exceptions.ClientError(
            {"Error": {"Code": "BadRequestException", "Message": f"no such detector: {arn}"}}, "TagResource"
        )
    if "Tags" in request:
        detector.tags = {**detector.tags, **request["Tags"]}
    for key in request.get("TagKeys") or []:
        detector.tags.pop(key, None)
    return {}
