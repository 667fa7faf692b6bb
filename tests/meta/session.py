"""What the catalog-wide meta-tests need to know about the test session itself, filled in by
the hooks in tests/conftest.py: whether every test was selected (the checks of the whole
session mean nothing for a subset), which tests close which remediation's loop, and which
tests failed before the checks ran."""

import collections
from dataclasses import dataclass, field
from pathlib import Path

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
