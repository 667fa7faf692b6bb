"""Every remediation of the catalog closes its loop in some test (tests/closed_loop.py): a new
remediation without one fails here."""

from collections.abc import Iterable, Mapping

import pytest

from mamori.catalog import load_remediations
from tests.closed_loop import mark_problem
from tests.meta.session import SESSION


def closed_loop_gaps(remediation_ids: Iterable[str], marked: Mapping[str, list[str]]) -> list[str]:
    """What is wrong between the catalog's remediations and the tests marked closed_loop(<id>)."""
    ids = set(remediation_ids)
    problems = [
        f"remediation {missing} has no closed-loop test: add one that calls tests.closed_loop.assert_closed_loop "
        f'and is marked @pytest.mark.closed_loop("{missing}")'
        for missing in sorted(ids - set(marked))
    ]
    problems += [
        f"{marked[unknown]} are marked closed_loop({unknown!r}), which is no remediation" for unknown in sorted(set(marked) - ids)
    ]
    return problems


def test_every_remediation_has_a_closed_loop_test() -> None:
    if SESSION.partial:
        pytest.skip(SESSION.partial)

    problems = closed_loop_gaps((r.id for r in load_remediations()), SESSION.closed_loops)

    assert not problems, "\n".join(problems)


def test_a_remediation_without_a_closed_loop_test_is_reported() -> None:
    marked = {"open-proxy-ports": ["tests/x.py::test_loop"], "open-proxy": ["tests/y.py::test_typo"]}

    assert closed_loop_gaps(["open-proxy-ports", "budget-alert"], marked) == [
        "remediation budget-alert has no closed-loop test: add one that calls tests.closed_loop.assert_closed_loop "
        'and is marked @pytest.mark.closed_loop("budget-alert")',
        "['tests/y.py::test_typo'] are marked closed_loop('open-proxy'), which is no remediation",
    ]
    assert closed_loop_gaps(["open-proxy-ports"], {"open-proxy-ports": ["tests/x.py::test_loop"]}) == []


def test_a_test_marked_for_a_loop_it_does_not_run_is_reported() -> None:
    assert mark_problem("budget-alert", {"budget-alert"}) is None
    assert mark_problem("budget-alert", set()) == "marked closed_loop('budget-alert') but ran assert_closed_loop for nothing"
    assert mark_problem("budget-alert", {"root-mfa", "guardduty-enabled"}) == (
        "marked closed_loop('budget-alert') but ran assert_closed_loop for guardduty-enabled, root-mfa"
    )
