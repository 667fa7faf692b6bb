"""Under pytest-xdist, the whole-session checks see every worker's calls, run once on the
controller, and fail the run when they fail (tests/meta/session.py). Driven here with stand-ins
for xdist's worker config, node and the controller's session, which carry only what the code reads."""

from types import SimpleNamespace
from typing import Any

import pytest

from tests.meta.session import Session, WholeSessionTest, receive_from_worker, run_on_controller, send_to_controller


def a_check_that_fails() -> None:
    raise AssertionError("ThingRole: granted but never called")


def a_check_that_passes() -> None:
    pass


def a_check_that_skips() -> None:
    pytest.skip("partial")


def worker_output(session: Session) -> dict[str, Any]:
    config = SimpleNamespace(workeroutput={})
    send_to_controller(config, session)
    return config.workeroutput


def ref(name: str) -> WholeSessionTest:
    return WholeSessionTest(f"tests/meta/test_session.py::{name}", __name__, name, "tests/meta/test_session.py", 1)


def test_the_controller_adds_up_every_workers_calls_and_failures() -> None:
    first, second = Session(incomplete_because=None), Session(incomplete_because=None)
    first.calls[("lambda:a", "ec2:DescribeThings")] = 2
    second.calls[("lambda:a", "ec2:DescribeThings")] = 1
    second.calls[("automation:b", "ec2:FixThing")] = 1
    second.failed.append("tests/x.py::test_y")
    first.whole_session_tests = second.whole_session_tests = [ref("a_check_that_passes")]
    controller = Session()

    for worker in (first, second):
        receive_from_worker(SimpleNamespace(workeroutput=worker_output(worker)), controller)

    assert controller.calls == {("lambda:a", "ec2:DescribeThings"): 3, ("automation:b", "ec2:FixThing"): 1}
    assert controller.failed == ["tests/x.py::test_y"]
    assert controller.partial is None
    assert controller.whole_session_tests == [ref("a_check_that_passes")]


def test_a_worker_that_crashed_makes_the_session_incomplete() -> None:
    controller = Session()
    receive_from_worker(SimpleNamespace(workeroutput=worker_output(Session(incomplete_because=None))), controller)
    receive_from_worker(SimpleNamespace(), controller)  # no output: it died

    assert controller.partial is not None and "a worker ended before it finished" in controller.partial


def test_the_controller_reports_each_check_and_a_failure_fails_the_run() -> None:
    reports: list[Any] = []
    pytest_session = SimpleNamespace(
        exitstatus=pytest.ExitCode.OK,
        testscollected=10,
        config=SimpleNamespace(hook=SimpleNamespace(pytest_runtest_logreport=lambda report: reports.append(report))),
    )
    controller = Session(incomplete_because=None)
    controller.whole_session_tests = [ref("a_check_that_passes"), ref("a_check_that_skips"), ref("a_check_that_fails")]

    run_on_controller(pytest_session, controller)

    assert [(r.nodeid.split("::")[1], r.outcome) for r in reports] == [
        ("a_check_that_passes", "passed"),
        ("a_check_that_skips", "skipped"),
        ("a_check_that_fails", "failed"),
    ]
    assert "ThingRole: granted but never called" in str(reports[2].longrepr)
    assert pytest_session.exitstatus == pytest.ExitCode.TESTS_FAILED
    assert pytest_session.testscollected == 13


def test_checks_that_pass_leave_the_exit_status_alone() -> None:
    pytest_session = SimpleNamespace(
        exitstatus=pytest.ExitCode.OK,
        testscollected=0,
        config=SimpleNamespace(hook=SimpleNamespace(pytest_runtest_logreport=lambda report: None)),
    )
    controller = Session(incomplete_because=None)
    controller.whole_session_tests = [ref("a_check_that_passes")]

    run_on_controller(pytest_session, controller)

    assert pytest_session.exitstatus == pytest.ExitCode.OK


STOPPED_EARLY = Session(incomplete_because=None)


def a_check_of_the_stopped_session() -> None:
    if STOPPED_EARLY.partial:  # as every whole-session test asks of tests.meta.session.SESSION
        pytest.skip(STOPPED_EARLY.partial)
    raise AssertionError("ran on an incomplete session")


def test_a_run_stopped_early_skips_the_checks() -> None:
    reports: list[Any] = []
    pytest_session = SimpleNamespace(
        exitstatus=pytest.ExitCode.INTERRUPTED,
        testscollected=0,
        shouldstop="stopping after 1 failures",
        shouldfail=False,
        config=SimpleNamespace(hook=SimpleNamespace(pytest_runtest_logreport=lambda report: reports.append(report))),
    )
    STOPPED_EARLY.whole_session_tests = [ref("a_check_of_the_stopped_session")]

    run_on_controller(pytest_session, STOPPED_EARLY)

    assert [r.outcome for r in reports] == ["skipped"]
    assert "the run stopped early" in str(reports[0].longrepr)
