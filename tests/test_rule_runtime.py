"""mamori.rule_runtime and mamori.clients: what mamori changes in rdklib's run of a rule (warm
clients, evaluations sent concurrently, a linear clean-up) answers as rdklib did."""

import datetime
import os
import threading
from typing import Any

import boto3
import botocore.exceptions
import botocore.session
import botocore.utils
import dateutil.parser
import pytest
import rdklib
import rdklib.clientfactory
import rdklib.evaluator
import rdklib.util.evaluations
from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders

from harness.aws import Sandbox, result_token
from harness.config_events import periodic_event
from mamori import clients, rule_runtime


def earlier(*resource_ids: str) -> list[dict[str, Any]]:
    return [
        {"EvaluationResultIdentifier": {"EvaluationResultQualifier": {"ResourceId": i, "ResourceType": "AWS::IAM::User"}}}
        for i in resource_ids
    ]


class Config:
    """A Config client that holds earlier results and records the PutEvaluations it gets."""

    def __init__(self, results: list[dict[str, Any]], fail_batch: int | None = None) -> None:
        self.results = results
        self.fail_batch = fail_batch
        self.put: list[list[dict[str, Any]]] = []

    def get_compliance_details_by_config_rule(self, NextToken: str = "", **_: Any) -> dict[str, Any]:
        start = int(NextToken or 0)
        page: dict[str, Any] = {"EvaluationResults": self.results[start : start + 100]}
        if start + 100 < len(self.results):
            page["NextToken"] = str(start + 100)
        return page

    def get_paginator(self, _: str) -> Any:
        config = self

        class Pages:
            def paginate(self, **__: Any) -> Any:
                token = ""
                while True:
                    page = config.get_compliance_details_by_config_rule(NextToken=token)
                    yield page
                    token = page.get("NextToken", "")
                    if not token:
                        return

        return Pages()

    def put_evaluations(self, Evaluations: list[dict[str, Any]], **_: Any) -> dict[str, Any]:
        self.put.append(Evaluations)
        if self.fail_batch is not None and Evaluations and Evaluations[0]["ComplianceResourceId"] == f"r{self.fail_batch * 100}":
            raise botocore.exceptions.ClientError(
                {"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "PutEvaluations"
            )
        return {"FailedEvaluations": []}

    def build_client(self, *_: Any, **__: Any) -> "Config":
        return self


def test_the_clean_up_answers_as_rdklibs() -> None:
    rule_runtime.install()
    results = earlier(*(f"AIDA{n:04d}" for n in range(250)))
    latest = [{"ComplianceResourceId": f"AIDA{n:04d}", "ComplianceType": "COMPLIANT"} for n in range(0, 250, 3)]
    event = periodic_event("mamori-stale-access-keys")

    ours = rule_runtime.clean_up_old_evaluations(event, Config(results), list(latest))
    theirs = rule_runtime.RDKLIB["clean_up_old_evaluations"](event, Config(results), list(latest))

    assert ours == theirs
    assert sum(1 for evaluation in ours if evaluation["ComplianceType"] == "NOT_APPLICABLE") == 250 - len(latest)


def test_every_batch_is_sent_and_the_first_failure_raised_after() -> None:
    evaluations = [{"ComplianceResourceId": f"r{n}"} for n in range(950)]
    config = Config([], fail_batch=2)
    event = {"resultToken": result_token("mamori-stale-access-keys")}

    with pytest.raises(botocore.exceptions.ClientError, match="ThrottlingException"):
        rule_runtime.put_evaluations(event, config, evaluations)

    assert sorted(len(batch) for batch in config.put) == [50] + [100] * 9
    assert sorted(e["ComplianceResourceId"] for batch in config.put for e in batch) == sorted(
        e["ComplianceResourceId"] for e in evaluations
    )


def test_no_evaluation_is_one_empty_put_as_rdklib_sends() -> None:
    config = Config([])

    assert rule_runtime.put_evaluations({"resultToken": "TESTMODE"}, config, []) == []
    assert config.put == [[]]


def counting_dateutil(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every text dateutil parses from here on (botocore's own timestamp parser uses it)."""
    parses: list[str] = []
    parse = dateutil.parser.parse

    def counted(text: str, *args: Any, **kwargs: Any) -> Any:
        parses.append(text)
        return parse(text, *args, **kwargs)

    monkeypatch.setattr(dateutil.parser, "parse", counted)
    return parses


class Sent:
    """A real botocore Config client whose requests are kept, not sent (answered 200, nothing failed)."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self._lock = threading.Lock()
        session = botocore.session.Session()
        session.set_credentials("AKIDEXAMPLE", "secret")
        self.client = session.create_client("config", region_name="us-east-1")
        self.client.meta.events.register("before-send", self._keep)

    def _keep(self, request: Any, **_: Any) -> Any:
        with self._lock:
            self.bodies.append(request.body)

        class Answer:
            def stream(self, **__: Any) -> Any:
                yield b'{"FailedEvaluations": []}'

        return AWSResponse(request.url, 200, HTTPHeaders(), Answer())

    def build_client(self, *_: Any, **__: Any) -> Any:
        return self.client


def test_evaluations_go_out_as_rdklib_sends_them_their_time_read_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same PutEvaluations requests as rdklib's, byte for byte, but the event's time (rdklib
    copies the same string into every evaluation) is read once, not by botocore twice per
    evaluation with dateutil (0.3 ms each)."""
    event = periodic_event("mamori-stale-access-keys")
    evaluations = []
    for n in range(250):
        evaluation = rdklib.Evaluation(rdklib.ComplianceType.NON_COMPLIANT, f"AIDA{n:04d}", "AWS::IAM::User", "no MFA")
        evaluation.import_fields_from_periodic_event(event)
        evaluations.append(evaluation.get_json())
    theirs, ours = Sent(), Sent()
    rule_runtime.RDKLIB.get("process_evaluations", rdklib.util.evaluations.process_evaluations)(event, theirs, evaluations)
    dateutil_parses = counting_dateutil(monkeypatch)

    sent = rule_runtime.put_evaluations(event, ours, evaluations)

    assert sent == evaluations and isinstance(evaluations[0]["OrderingTimestamp"], str)  # rdklib's own, untouched
    assert sorted(ours.bodies) == sorted(theirs.bodies) and len(ours.bodies) == 3
    assert dateutil_parses == []


def test_a_workers_client_reads_timestamps_as_botocore_does(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same instants as botocore's parser; ISO 8601 in UTC (what AWS answers) without dateutil."""
    texts = ["2024-06-11T08:00:00.000Z", "2024-06-11T08:00:00Z", "2024-06-11T08:00:00.123456Z", "2024-06-11T08:00:00+00:00"]
    others = ["2024-06-11T10:00:00+02:00", "2024-06-11T08:00:00", "1718092800", "Tue, 11 Jun 2024 08:00:00 GMT", "2024-06-11"]
    for text in texts + others:
        assert clients.parse_timestamp(text) == botocore.utils.parse_timestamp(text), text
    dateutil_parses = counting_dateutil(monkeypatch)

    assert all(clients.parse_timestamp(text).tzinfo is datetime.UTC for text in texts)
    assert dateutil_parses == []
    with pytest.raises(ValueError):
        clients.parse_timestamp("yesterday")


def test_install_replaces_rdklibs_three_once() -> None:
    rule_runtime.install()
    rule_runtime.install()

    assert rdklib.evaluator.ClientFactory is rule_runtime.WarmClientFactory
    assert rdklib.util.evaluations.process_evaluations is rule_runtime.put_evaluations
    assert rdklib.util.evaluations.clean_up_old_evaluations is rule_runtime.clean_up_old_evaluations
    assert rule_runtime.RDKLIB["ClientFactory"] is not rule_runtime.WarmClientFactory


def test_an_assumed_role_gets_rdklibs_own_clients(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials assumed per event would only fill the cache: that mode is rdklib's."""
    assumed: list[str] = []

    def assume(role: str, region: str) -> dict[str, str]:
        assumed.append(role)
        return {"AccessKeyId": "a", "SecretAccessKey": "b", "SessionToken": "c"}

    monkeypatch.setattr(rdklib.clientfactory, "get_assume_role_credentials", assume)
    factory = rule_runtime.WarmClientFactory("arn:aws:iam::123456789012:role/x", "us-east-1", assume_role_mode=True)

    first, second = factory.build_client("config"), factory.build_client("config")

    assert assumed == ["arn:aws:iam::123456789012:role/x"] and first is not second
    own = rule_runtime.WarmClientFactory(None, "us-east-1", assume_role_mode=False)
    assert own.build_client("config") is own.build_client("config") is clients.client("config", "us-east-1")


def test_clients_belong_to_their_default_session_and_credentials(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    ec2 = clients.client("ec2", "eu-west-3")
    assert clients.client("ec2", "eu-west-3") is ec2
    assert clients.client("ec2", "eu-west-2") is not ec2

    # Other credentials (a new default session reads them): other clients.
    monkeypatch.setitem(os.environ, "AWS_ACCESS_KEY_ID", "other")
    boto3.setup_default_session(region_name="us-east-1")
    assert clients.client("ec2", "eu-west-3") is not ec2


def test_a_workers_client_has_the_default_sessions_handlers(sandbox: Sandbox) -> None:
    """So whatever is registered on boto3's default session (the sandbox's checks, here) sees
    the region workers' calls too."""
    seen: list[str] = []
    assert boto3.DEFAULT_SESSION is not None
    boto3.DEFAULT_SESSION.events.register(
        "before-call.ec2.DescribeRegions", lambda **kw: seen.append(kw["context"]["client_region"])
    )

    source = clients.origin()
    worker = clients.regional_client("ec2", "ap-south-1", source)
    worker.describe_regions()

    assert seen == ["ap-south-1"]
    assert clients.regional_client("ec2", "ap-south-1", source) is worker


def test_a_rule_config_does_not_know_has_no_earlier_results() -> None:
    """The rule's own code run outside Config (`mamori scan`) reads back nothing; any other error stands."""

    class Refusing(Config):
        code = "NoSuchConfigRuleException"

        def get_compliance_details_by_config_rule(self, NextToken: str = "", **_: Any) -> dict[str, Any]:
            raise botocore.exceptions.ClientError(
                {"Error": {"Code": self.code, "Message": "no"}}, "GetComplianceDetailsByConfigRule"
            )

    assert rule_runtime.earlier_results(Refusing([]), "mamori-unapproved-regions") == []
    Refusing.code = "AccessDeniedException"
    with pytest.raises(botocore.exceptions.ClientError, match="AccessDeniedException"):
        rule_runtime.earlier_results(Refusing([]), "mamori-unapproved-regions")
