"""What the catalog-wide meta-tests need to know about the test session itself, filled in by
the hooks in tests/conftest.py: whether every test was selected (the checks of the whole
session mean nothing for a subset), which tests close which remediation's loop, and which
tests failed before the checks ran."""

import collections
import importlib
import json
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

TESTS = Path(__file__).resolve().parent.parent

# Marks a test that checks what the whole session did: it runs after every other test, and is
# skipped (saying why) when only some tests were selected.
WHOLE_SESSION = "whole_session"
# @pytest.mark.closed_loop("<remediation id>"): the test runs tests.closed_loop.assert_closed_loop
# for that remediation (checked after the test).
CLOSED_LOOP = "closed_loop"


@dataclass
class Session:
    incomplete_because: str | None = "the session has not been collected"
    deselected: int = 0
    closed_loops: dict[str, list[str]] = field(default_factory=dict)  # remediation id -> node ids
    failed: list[str] = field(default_factory=list)  # node ids, in the order they failed
    calls: collections.Counter[tuple[str, str]] = field(default_factory=collections.Counter)
    # under pytest-xdist: the whole-session tests the workers left to the controller, and how many workers reported
    whole_session_tests: list["WholeSessionTest"] = field(default_factory=list)
    workers_done: int = 0
    workers_lost: int = 0

    @property
    def partial(self) -> str | None:
        """Why a check of the whole session must skip (not every test was selected), or None."""
        if self.incomplete_because is None:
            return None
        return f"checks the whole test session, but {self.incomplete_because}: run all of tests/ for it"

    def failures_note(self) -> str:
        if not self.failed:
            return ""
        shown = ", ".join(self.failed[:5]) + (", …" if len(self.failed) > 5 else "")
        return f"\n({len(self.failed)} test(s) failed before this check, and may not have run what they cover: {shown})"


SESSION = Session()


def why_incomplete(args: list[str], collected: set[Path], deselected: int) -> str | None:
    """Why the collected tests are not the whole suite, or None if they are."""
    if deselected:
        return f"{deselected} test(s) were deselected (-k, -m or --deselect)"
    named = [arg for arg in args if "::" in arg]
    if named:
        return f"single tests were named ({', '.join(named)})"
    missing = sorted(str(path.relative_to(TESTS.parent)) for path in TESTS.rglob("test_*.py") if path not in collected)
    if missing:
        shown = ", ".join(missing[:3]) + (", …" if len(missing) > 3 else "")
        return f"{len(missing)} test file(s) were not collected ({shown})"
    return None


# --- pytest-xdist: workers send what they saw, the controller runs the whole-session tests ------

WORKER_OUTPUT = "mamori-session"


@dataclass(frozen=True)
class WholeSessionTest:
    """A whole-session test, by what the controller (which collects nothing) needs to run it."""

    nodeid: str
    module: str
    name: str
    path: str
    line: int

    @classmethod
    def of(cls, item: Any) -> "WholeSessionTest":
        path, line, _ = item.location
        return cls(item.nodeid, item.module.__name__, item.name, path, line or 0)


def is_worker(config: Any) -> bool:
    return hasattr(config, "workerinput")


def is_controller(config: Any) -> bool:
    return config.pluginmanager.getplugin("dsession") is not None


def send_to_controller(config: Any, session: Session) -> None:
    config.workeroutput[WORKER_OUTPUT] = json.dumps(
        {
            "incomplete_because": session.incomplete_because,
            "failed": session.failed,
            "calls": [[principal, action, count] for (principal, action), count in session.calls.items()],
            "whole_session_tests": [asdict(test) for test in session.whole_session_tests],
        }
    )


def receive_from_worker(node: Any, session: Session) -> None:
    sent = getattr(node, "workeroutput", {}).get(WORKER_OUTPUT)
    if sent is None:  # the worker crashed before it finished: the session is incomplete
        session.incomplete_because = session.incomplete_because or "a worker ended before it finished"
        session.workers_lost += 1
        return
    seen = json.loads(sent)
    session.workers_done += 1
    if session.workers_done == 1:
        session.incomplete_because = seen["incomplete_because"]
        session.whole_session_tests = [WholeSessionTest(**test) for test in seen["whole_session_tests"]]
    session.failed += seen["failed"]
    for principal, action, count in seen["calls"]:
        session.calls[(principal, action)] += count


def run_on_controller(pytest_session: Any, session: Session) -> None:
    """Run each whole-session test once every worker is done, and report it as pytest would."""
    import pytest
    from _pytest.reports import TestReport

    if session.workers_lost:
        session.incomplete_because = f"{session.workers_lost} worker(s) ended before they finished"
    if getattr(pytest_session, "shouldstop", False) or getattr(pytest_session, "shouldfail", False):
        session.incomplete_because = "the run stopped early (-x or --maxfail)"
    config = pytest_session.config
    pytest_session.testscollected += len(session.whole_session_tests)  # for the progress the terminal shows
    for test in session.whole_session_tests:
        function = getattr(importlib.import_module(test.module), test.name)
        outcome: Literal["passed", "failed", "skipped"] = "passed"
        longrepr: tuple[str, int, str] | str | None = None
        started = time.monotonic()
        try:
            function()
        except pytest.skip.Exception as skipped:
            outcome, longrepr = "skipped", (test.path, test.line, f"Skipped: {skipped.msg}")
        except BaseException:
            outcome, longrepr = "failed", traceback.format_exc()
        report = TestReport(
            test.nodeid, (test.path, test.line, test.name), {}, outcome, longrepr, "call", duration=time.monotonic() - started
        )
        config.hook.pytest_runtest_logreport(report=report)
        if outcome == "failed":
            pytest_session.exitstatus = pytest.ExitCode.TESTS_FAILED
