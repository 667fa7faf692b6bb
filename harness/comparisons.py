"""The work of a clean-up of old evaluations, counted: how often it compares or hashes a
resource id. A count does not depend on the machine or on how busy it is, as seconds do, so
it shows how the work grows with the number of results (tests/test_call_budgets.py, `make bench`).

The clean-ups are rdklib's (rdklib.util.evaluations.clean_up_old_evaluations: each earlier
result's id looked up in a list of the reported ids) and mamori's
(mamori.rule_runtime.clean_up_old_evaluations: in a set). Both read the earlier results from
Config; here they come from a list, in Config's pages of 100 (EarlierResults).
"""

from collections.abc import Callable, Iterator
from typing import Any, ClassVar

from harness.config_events import periodic_event

RESOURCE_TYPE = "AWS::IAM::User"
# rdklib.util.evaluations.clean_up_old_evaluations and mamori.rule_runtime.clean_up_old_evaluations.
CleanUp = Callable[[dict[str, Any], Any, list[dict[str, Any]]], list[dict[str, Any]]]


class CountedId(str):
    """A resource id that counts every == and hash taken of it (CountedId.taken)."""

    taken: ClassVar[int] = 0

    def __eq__(self, other: object) -> bool:
        CountedId.taken += 1
        return str.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        CountedId.taken += 1
        return str.__ne__(self, other)

    def __hash__(self) -> int:
        CountedId.taken += 1
        return str.__hash__(self)


class EarlierResults:
    """A Config client (and client factory) answering GetComplianceDetailsByConfigRule from a
    list, in ready-made pages of 100, for rdklib's loop and for a paginator alike."""

    def __init__(self, results: list[dict[str, Any]]) -> None:
        self.pages = [results[i : i + 100] for i in range(0, len(results), 100)] or [[]]

    def get_compliance_details_by_config_rule(self, NextToken: str = "", **_: Any) -> dict[str, Any]:
        index = int(NextToken or 0)
        page: dict[str, Any] = {"EvaluationResults": self.pages[index]}
        if index + 1 < len(self.pages):
            page["NextToken"] = str(index + 1)
        return page

    def get_paginator(self, _: str) -> Any:
        pages = self.pages

        class Paginator:
            def paginate(self, **__: Any) -> Iterator[dict[str, Any]]:
                return iter({"EvaluationResults": page} for page in pages)

        return Paginator()

    def build_client(self, _: str, *__: Any, **___: Any) -> Any:
        return self


def usual_day(results: int, make_id: Callable[[str], str] = str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """`results` earlier results and the same resources reported again (nobody left): the
    earlier ones as Config answers them, the reported ones as rdklib hands them to the clean-up.
    Each side has its own id objects, so no comparison is skipped because both are the same object."""
    earlier = [
        {
            "EvaluationResultIdentifier": {
                "EvaluationResultQualifier": {"ResourceId": make_id(f"AIDA{index:017d}"), "ResourceType": RESOURCE_TYPE}
            }
        }
        for index in range(results)
    ]
    reported = [
        {
            "ComplianceResourceId": make_id(f"AIDA{index:017d}"),
            "ComplianceResourceType": RESOURCE_TYPE,
            "ComplianceType": "COMPLIANT",
        }
        for index in range(results)
    ]
    return earlier, reported


def id_comparisons(clean_up: CleanUp, results: int) -> int:
    """How often clean_up compares or hashes a resource id on a usual day of `results` results;
    checks that it keeps every reported evaluation and marks nothing NOT_APPLICABLE."""
    earlier, reported = usual_day(results, CountedId)
    event = periodic_event("mamori-stale-access-keys")
    CountedId.taken = 0
    cleaned = clean_up(event, EarlierResults(earlier), reported)
    taken = CountedId.taken
    if len(cleaned) != results or any(evaluation["ComplianceType"] != "COMPLIANT" for evaluation in cleaned):
        raise AssertionError(f"the clean-up changed a usual day's {results} results")
    return taken
