"""Thin stand-ins for what moto does not do, shared by the tests, the demo and the bench.

moto stands in for AWS. On top of it, one botocore `before-call` hook on boto3's default
session (the session every production client here is made from) does three things:

* counts every API call, per principal (a rule Lambda or an SSM document);
* enforces the IAM actions that principal's role is granted in template.yaml, answering
  AccessDenied like IAM would (actions only: resource scoping is not simulated);
* stands in for the AWS Config operations moto lacks: PutEvaluations (stored, as Config
  would show them in the dashboard), GetComplianceDetailsByConfigRule, and
  GetResourceConfigHistory (for oversized configuration items).

Production code is untouched: it calls the real APIs through boto3.
"""

import collections
import contextlib
import datetime
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.exceptions

REGION = "us-east-1"
ACCOUNT = "123456789012"
CONFIG_STANDIN_OPERATIONS = ("PutEvaluations", "GetComplianceDetailsByConfigRule", "GetResourceConfigHistory")


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
    }.items():
        os.environ[key] = value


@dataclass
class _Response:
    status_code: int = 200
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class ConfigStandIn:
    """What AWS Config would hold: evaluations per rule, and recorded configuration items."""

    evaluations: dict[str, dict[tuple[str, str], dict[str, Any]]] = field(default_factory=dict)
    items: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    put_evaluations_calls: int = 0

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
            if len(params["Evaluations"]) > 100:
                raise botocore.exceptions.ClientError(
                    {"Error": {"Code": "ValidationException", "Message": "at most 100 evaluations"}}, operation
                )
            rule_name = rule_name_from_token(params["ResultToken"])
            stored = self.evaluations.setdefault(rule_name, {})
            if not params.get("TestMode"):
                for evaluation in params["Evaluations"]:
                    if len(evaluation.get("Annotation", "")) > 256:
                        raise botocore.exceptions.ClientError(
                            {"Error": {"Code": "ValidationException", "Message": "annotation over 256"}}, operation
                        )
                    stored[(evaluation["ComplianceResourceType"], evaluation["ComplianceResourceId"])] = dict(evaluation)
            return {"FailedEvaluations": []}
        if operation == "GetComplianceDetailsByConfigRule":
            wanted = set(params.get("ComplianceTypes") or ["COMPLIANT", "NON_COMPLIANT", "NOT_APPLICABLE"])
            results = [
                {
                    "EvaluationResultIdentifier": {
                        "EvaluationResultQualifier": {
                            "ConfigRuleName": params["ConfigRuleName"],
                            "ResourceType": resource_type,
                            "ResourceId": resource_id,
                        }
                    },
                    "ComplianceType": evaluation["ComplianceType"],
                    "Annotation": evaluation.get("Annotation", ""),
                }
                for (resource_type, resource_id), evaluation in self.evaluations.get(params["ConfigRuleName"], {}).items()
                if evaluation["ComplianceType"] in wanted
            ]
            return {"EvaluationResults": results}
        if operation == "GetResourceConfigHistory":
            item = self.items.get((params["resourceType"], params["resourceId"]))
            if item is None:
                raise botocore.exceptions.ClientError(
                    {"Error": {"Code": "ResourceNotDiscoveredException", "Message": "not recorded"}}, operation
                )
            return {"configurationItems": [history_shape(item)]}
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

    def __init__(self) -> None:
        self.config = ConfigStandIn()
        self.calls: collections.Counter[tuple[str, str]] = collections.Counter()
        self.root: RootCredentials | None = None  # None: the report has no root row (as moto's)
        # action -> [error code or response dict, ...], consumed one per call: faults to inject.
        self.next_answers: dict[str, list[str | dict[str, Any]]] = {}
        self._principal: str | None = None
        self._allowed: frozenset[str] = frozenset()
        boto3.setup_default_session(region_name=REGION)
        assert boto3.DEFAULT_SESSION is not None
        boto3.DEFAULT_SESSION.events.register("before-call", self._before_call)
        boto3.DEFAULT_SESSION.events.register("after-call.iam", self._after_iam_call)

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
    def acting_as(self, principal: str, allowed_actions: frozenset[str]) -> Iterator[None]:
        previous = (self._principal, self._allowed)
        self._principal, self._allowed = principal, allowed_actions
        try:
            yield
        finally:
            self._principal, self._allowed = previous

    def calls_by(self, principal: str) -> collections.Counter[str]:
        return collections.Counter({action: n for (who, action), n in self.calls.items() if who == principal})

    def reset_counts(self) -> None:
        self.calls.clear()
        self.config.put_evaluations_calls = 0

    def _before_call(self, model: Any, params: Mapping[str, Any], **_: Any) -> Any:
        service = model.service_model.signing_name
        action = f"{service}:{model.name}"
        if self._principal is not None:
            self.calls[(self._principal, action)] += 1
            if action not in self._allowed:
                raise botocore.exceptions.ClientError(
                    {"Error": {"Code": "AccessDenied", "Message": f"{self._principal} is not granted {action}"}}, model.name
                )
        queued = self.next_answers.get(action)
        if queued:
            answer = queued.pop(0)
            if isinstance(answer, str):
                raise botocore.exceptions.ClientError({"Error": {"Code": answer, "Message": f"injected {answer}"}}, model.name)
            return _Response(), answer
        if service == "config" and model.name in CONFIG_STANDIN_OPERATIONS:
            # `params` is the serialized request; Config speaks JSON.
            body = params.get("body") or b"{}"
            return _Response(), self.config.answer(model.name, json.loads(body))
        return None
