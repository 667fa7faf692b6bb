"""What mamori changes in rdklib's run of a rule, without forking rdklib (pinned in
layer/requirements.txt; `install` fails loudly if a new version moved what it replaces).

* Warm clients. rdklib's Evaluator makes a new ClientFactory, so new boto3 clients, for every
  event; making a client took 70 % of a change event's time. WarmClientFactory hands out the
  container's clients (mamori.clients) when the rule runs with the Lambda's own role
  (AssumeRoleMode=false, as mamori deploys every rule); with an assumed role it is rdklib's.
* Evaluations sent together. PutEvaluations takes 100 evaluations; rdklib sends the batches
  one after another, each a network round trip. They go out PUT_CONCURRENCY at a time, each
  checked once, by Config: botocore's check of a batch before sending it was half of the
  batch's CPU (2.5 ms per 100 evaluations), and Config checks all it receives anyway (a batch
  it refuses fails the run, as one botocore refused did).
* Timestamps read once. rdklib gives every evaluation its event's notificationCreationTime as
  a string, and botocore parses each one twice (validation, then serialization) with dateutil:
  a batch of 100 took 38 ms of CPU instead of 5 ms, 1.6 s for 5,000 IAM users' evaluations.
  The string is read once per run; botocore sends the same instant, the same bytes.
* The clean-up linear. On a scheduled run rdklib marks NOT_APPLICABLE every earlier result
  whose resource the rule no longer reports, testing each one against a list: quadratic,
  1.26 s of CPU at 5,000 IAM users. The same clean-up, with a set.
"""

import concurrent.futures
import datetime
from collections.abc import Mapping, Sequence
from typing import Any

import botocore.config
import botocore.exceptions
import rdklib.evaluator
import rdklib.util.evaluations
from rdklib import ClientFactory, ComplianceType, Evaluation

from mamori import clients, workers

# PutEvaluations takes at most 100 evaluations a call.
EVALUATIONS_PER_PUT = 100
# Batches in flight at once: 5,000 evaluations go out in 7 round trips instead of 50 (throttling is retried by botocore).
PUT_CONCURRENCY = 8
# The client that puts evaluations does not check them before sending: Config does.
CHECKED_BY_CONFIG = botocore.config.Config(parameter_validation=False)
# GetComplianceDetailsByConfigRule answers at most 100 results a call.
RESULTS_PER_PAGE = 100


class WarmClientFactory(ClientFactory):  # type: ignore[misc]
    """rdklib's ClientFactory, with the container's clients for the Lambda's own role."""

    def __init__(self, role_arn: str | None, region: str | None = None, assume_role_mode: bool = True) -> None:
        super().__init__(role_arn, region, assume_role_mode)
        self._default_region = region
        self._own_role = not assume_role_mode

    def build_client(self, service: str, region: str | None = None, assume_role_mode: bool = True) -> Any:
        if self._own_role or not assume_role_mode:
            return clients.client(service, region or self._default_region)
        return super().build_client(service, region, assume_role_mode)

    def evaluations_client(self) -> Any:
        """The Config client that puts the evaluations: botocore leaves checking them to Config."""
        if self._own_role:
            return clients.client("config", self._default_region, CHECKED_BY_CONFIG)
        return self.build_client("config")


def with_ordering_datetimes(evaluations: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The evaluations with each ISO 8601 OrderingTimestamp string read once into a datetime
    (the same instant botocore would send); anything else is left to botocore."""
    read: dict[str, Any] = {}

    def instant(text: str) -> Any:
        if text not in read:
            try:
                parsed: datetime.datetime | None = datetime.datetime.fromisoformat(text)
            except ValueError:
                parsed = None
            read[text] = parsed if parsed is not None and parsed.tzinfo is not None else text
        return read[text]

    return [
        {**evaluation, "OrderingTimestamp": instant(evaluation["OrderingTimestamp"])}
        if isinstance(evaluation.get("OrderingTimestamp"), str)
        else evaluation
        for evaluation in evaluations
    ]


def put_evaluations(event: Mapping[str, Any], client_factory: Any, evaluations: Sequence[dict[str, Any]]) -> Any:
    """rdklib's process_evaluations, with the batches sent PUT_CONCURRENCY at a time. Every
    batch is sent; the first failure is raised after all have been tried."""
    config = (
        client_factory.evaluations_client()
        if isinstance(client_factory, WarmClientFactory)
        else client_factory.build_client("config")
    )
    token = event["resultToken"]
    test_mode = token == "TESTMODE"  # rdklib's test runs
    sent = with_ordering_datetimes(evaluations)
    batches = [list(sent[i : i + EVALUATIONS_PER_PUT]) for i in range(0, len(sent), EVALUATIONS_PER_PUT)]
    if len(batches) <= 1:
        config.put_evaluations(Evaluations=batches[0] if batches else [], ResultToken=token, TestMode=test_mode)
        return list(evaluations) if evaluations else []
    pool = workers.pool("put-evaluations", PUT_CONCURRENCY)
    futures = [pool.submit(config.put_evaluations, Evaluations=b, ResultToken=token, TestMode=test_mode) for b in batches]
    concurrent.futures.wait(futures)  # every batch tried before a failure is raised
    for future in futures:
        future.result()
    return list(evaluations)


def earlier_results(config: Any, rule_name: str) -> list[dict[str, Any]]:
    """This rule's COMPLIANT and NON_COMPLIANT results as Config holds them (what rdklib's
    clean-up reads); none when Config has no such rule: the rule's code run outside Config
    (`mamori scan`) has no earlier results."""
    pages = config.get_paginator("get_compliance_details_by_config_rule").paginate(
        ConfigRuleName=rule_name,
        ComplianceTypes=[ComplianceType.COMPLIANT, ComplianceType.NON_COMPLIANT],
        PaginationConfig={"PageSize": RESULTS_PER_PAGE},
    )
    try:
        return [result for page in pages for result in page["EvaluationResults"]]
    except botocore.exceptions.ClientError as error:
        if error.response.get("Error", {}).get("Code") == "NoSuchConfigRuleException":
            return []
        raise


def not_reported(earlier: Sequence[Mapping[str, Any]], reported: set[str]) -> list[Evaluation]:
    """NOT_APPLICABLE for every earlier result whose resource is not among the reported ids:
    the resource is gone, or no longer the rule's business."""
    return [
        Evaluation(ComplianceType.NOT_APPLICABLE, qualifier["ResourceId"], qualifier["ResourceType"])
        for qualifier in (result["EvaluationResultIdentifier"]["EvaluationResultQualifier"] for result in earlier)
        if qualifier["ResourceId"] not in reported
    ]


def clean_up_old_evaluations(event: Mapping[str, Any], client_factory: Any, latest: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """rdklib's clean_up_old_evaluations (same calls, same result), linear."""
    earlier = earlier_results(client_factory.build_client("config"), event["configRuleName"])
    cleaned = not_reported(earlier, {evaluation["ComplianceResourceId"] for evaluation in latest})
    for evaluation in cleaned:
        evaluation.import_fields_from_periodic_event(event)
    return [evaluation.get_json() for evaluation in cleaned] + latest


_REPLACED: tuple[tuple[Any, str, Any], ...] = (
    (rdklib.evaluator, "ClientFactory", WarmClientFactory),
    (rdklib.util.evaluations, "process_evaluations", put_evaluations),
    (rdklib.util.evaluations, "clean_up_old_evaluations", clean_up_old_evaluations),
)
# rdklib's own, as it was before install() (the bench compares them).
RDKLIB: dict[str, Any] = {}


def install() -> None:
    """Put the three into rdklib; idempotent."""
    for module, name, replacement in _REPLACED:
        if not hasattr(module, name):
            raise ImportError(f"rdklib changed: {module.__name__}.{name} is gone; see mamori/rule_runtime.py")
        current = getattr(module, name)
        if current is not replacement:
            RDKLIB.setdefault(name, current)
            setattr(module, name, replacement)
