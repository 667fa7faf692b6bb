"""Scaffold a rule and its remediation that pass `make test` as generated:

    make new-rule ID=example-check      # then edit the check, and `make test`

writes rules/<id>/ (spec, rule, README), remediations/<id>/ (spec, remediate, restore), the
decision both share (mamori/<id>.py), their tests (tests/rules/, tests/remediations/) and the
rule's row of README.md's table, from tools/scaffold/. `make new-rule` then regenerates the
templates. The example check (an EC2 instance must require IMDSv2) is real: replace it with
yours, keeping its shape (one decision, used by the rule and re-checked by the remediation).
"""

import argparse
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCAFFOLD = Path(__file__).resolve().parent / "scaffold"
RULE_ID = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")  # as mamori.catalog.RULE_ID
README = ROOT / "README.md"
TABLE_ROW = re.compile(r"^\| \[`mamori-[a-z0-9-]+`\]\(rules/")


def placements(rule_id: str) -> dict[Path, Path]:
    """{scaffold file: where it goes} for one new rule."""
    snake = rule_id.replace("-", "_")
    return {
        SCAFFOLD / "rule" / "spec.py.tmpl": ROOT / "rules" / rule_id / "spec.py",
        SCAFFOLD / "rule" / "rule.py.tmpl": ROOT / "rules" / rule_id / "rule.py",
        SCAFFOLD / "rule" / "README.md": ROOT / "rules" / rule_id / "README.md",
        SCAFFOLD / "remediation" / "spec.py.tmpl": ROOT / "remediations" / rule_id / "spec.py",
        SCAFFOLD / "remediation" / "remediate.py.tmpl": ROOT / "remediations" / rule_id / "remediate.py",
        SCAFFOLD / "remediation" / "restore.py.tmpl": ROOT / "remediations" / rule_id / "restore.py",
        SCAFFOLD / "shared" / "decision.py.tmpl": ROOT / "mamori" / f"{snake}.py",
        SCAFFOLD / "tests" / "test_rule.py.tmpl": ROOT / "tests" / "rules" / f"test_{snake}.py",
        SCAFFOLD / "tests" / "test_remediation.py.tmpl": ROOT / "tests" / "remediations" / f"test_{snake}.py",
    }


def fill(text: str, rule_id: str) -> str:
    snake = rule_id.replace("-", "_")
    pascal = "".join(part.capitalize() for part in rule_id.split("-"))
    return text.replace("__ID__", rule_id).replace("__SNAKE__", snake).replace("__PASCAL__", pascal)


def readme_with_row(readme: str, rule_id: str) -> str:
    """README.md with the new rule's row after the last row of the rules table."""
    lines = readme.splitlines(keepends=True)
    rows = [index for index, line in enumerate(lines) if TABLE_ROW.match(line)]
    if not rows:
        raise ValueError("README.md has no rules table (rows starting with | [`mamori-…`](rules/…)")
    row = (
        f"| [`mamori-{rule_id}`](rules/{rule_id}/README.md) | each `AWS::EC2::Instance`, on change | IMDSv1 is allowed "
        f"(example check of `make new-rule`: describe yours) | require IMDSv2, record the previous setting, tag the "
        f"instance | `mamori-{rule_id}-restore` |\n"
    )
    lines.insert(rows[-1] + 1, row)
    return "".join(lines)


def scaffold(rule_id: str) -> list[Path]:
    if not RULE_ID.match(rule_id):
        raise ValueError(f"ID {rule_id!r} must be lower-case words joined by '-', e.g. example-check")
    targets = placements(rule_id)
    taken = [path for path in targets.values() if path.exists()] + [
        folder for folder in (ROOT / "rules" / rule_id, ROOT / "remediations" / rule_id) if folder.exists()
    ]
    if taken:
        raise FileExistsError(f"{rule_id} exists already: {', '.join(str(p.relative_to(ROOT)) for p in taken)}")
    for source, target in targets.items():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(fill(source.read_text(), rule_id))
    README.write_text(readme_with_row(README.read_text(), rule_id))
    # Import order depends on the id (mamori.<id> sorts among the other mamori modules).
    code = [str(path) for path in targets.values() if path.suffix == ".py"]
    subprocess.run([sys.executable, "-m", "ruff", "check", "--fix", "--quiet", *code], check=True, cwd=ROOT)
    subprocess.run([sys.executable, "-m", "ruff", "format", "--quiet", *code], check=True, cwd=ROOT)
    return [*targets.values(), README]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("rule_id", metavar="ID", help="the new rule's id: lower-case words joined by '-'")
    args = parser.parse_args()
    try:
        written = scaffold(args.rule_id)
    except (ValueError, FileExistsError) as error:
        print(f"new-rule: {error}", file=sys.stderr)
        return 2
    print(f"Scaffolded mamori-{args.rule_id}:")
    for path in written:
        print(f"  {'edited ' if path == README else 'created'} {path.relative_to(ROOT)}")
    print("Next: replace the example check (mamori/, rules/, remediations/), then `make test`.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
