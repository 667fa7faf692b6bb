"""What every section of `make bench` shares: progress on stderr while it runs (the bench takes
minutes), and the targets it measured, printed together at the end as MET or MISSED."""

import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

_STARTED = time.perf_counter()


def progress(message: str) -> None:
    """A line on stderr, with the seconds since the bench started."""
    print(f"[{time.perf_counter() - _STARTED:6.1f} s] {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Target:
    section: str
    what: str
    goal: str
    measured: str
    met: bool


TARGETS: list[Target] = []


def target(section: str, what: str, goal: str, measured: str, met: bool) -> bool:
    """Record a target of issue 12 (or a budget the bench held before it); returns met."""
    TARGETS.append(Target(section, what, goal, measured, met))
    return met


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]
    lines = ["  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(headers, widths, strict=True)))]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))))
    return "\n".join(lines)


def summary() -> str:
    """Every target recorded, MET or MISSED, with what was measured."""
    rows = [[t.section, t.what, t.goal, t.measured, "MET" if t.met else "MISSED"] for t in TARGETS]
    missed = sum(not t.met for t in TARGETS)
    head = f"targets: {len(TARGETS) - missed} of {len(TARGETS)} met" + (f", {missed} MISSED" if missed else "")
    return head + "\n" + _wrapped_table(["section", "target", "goal", "measured", ""], rows)


def _wrapped_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    # Left-aligned throughout: the cells are sentences, not numbers.
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    return "\n".join(lines)
