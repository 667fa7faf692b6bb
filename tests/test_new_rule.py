"""`make new-rule ID=...` (tools/new_rule.py): what it writes, where, and that what it writes
passes its own tests against the pack as generated."""

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tools import new_rule

ROOT = Path(__file__).resolve().parent.parent
# What a checkout holds besides the project: environments, caches, build output.
LOCAL_STATE = (".git", ".venv", ".aws-sam", ".mypy_cache", ".ruff_cache", ".pytest_cache", ".hypothesis", "__pycache__")


def test_every_template_is_filled_and_parses() -> None:
    for source, target in new_rule.placements("example-check").items():
        text = new_rule.fill(source.read_text(), "example-check")
        assert "__" + "ID__" not in text and "__SNAKE__" not in text and "__PASCAL__" not in text, source
        if target.suffix == ".py":
            ast.parse(text, str(target))


def test_a_rule_lives_in_its_folder_its_remediation_folder_and_their_tests() -> None:
    places = {str(target.relative_to(ROOT)) for target in new_rule.placements("example-check").values()}

    assert places == {
        "rules/example-check/spec.py",
        "rules/example-check/rule.py",
        "rules/example-check/README.md",
        "remediations/example-check/spec.py",
        "remediations/example-check/remediate.py",
        "remediations/example-check/restore.py",
        "mamori/example_check.py",
        "tests/rules/test_example_check.py",
        "tests/remediations/test_example_check.py",
    }


def test_the_readme_row_goes_after_the_last_rule() -> None:
    readme = (ROOT / "README.md").read_text()

    updated = new_rule.readme_with_row(readme, "example-check").splitlines()

    rows = [index for index, line in enumerate(updated) if new_rule.TABLE_ROW.match(line)]
    assert updated[rows[-1]].startswith("| [`mamori-example-check`](rules/example-check/README.md)")
    assert len(updated) == len(readme.splitlines()) + 1


@pytest.mark.parametrize(("rule_id", "error"), [("Example_Check", ValueError), ("open-proxy-ports", FileExistsError)])
def test_a_bad_or_taken_id_writes_nothing(rule_id: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        new_rule.scaffold(rule_id)


def test_a_scaffolded_rule_passes_its_own_tests(tmp_path: Path) -> None:
    """Scaffold into a copy of the project, regenerate the templates, run the new tests."""
    copy = tmp_path / "mamori"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(*LOCAL_STATE))
    environment = {**os.environ, "PYTHONPATH": str(copy)}

    def run(*command: str) -> None:
        done = subprocess.run(command, cwd=copy, env=environment, capture_output=True, text=True)
        assert done.returncode == 0, f"{' '.join(command)}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"

    # The scaffold's own example: a maintainer may have scaffolded it already, so the copy
    # drops that one first (the templates stay as large as the project's own).
    rule_id, snake = "example-check", "example_check"
    for target in new_rule.placements(rule_id).values():
        (copy / target.relative_to(ROOT)).unlink(missing_ok=True)
    for folder in ("rules", "remediations"):
        shutil.rmtree(copy / folder / rule_id, ignore_errors=True)
    readme = copy / "README.md"
    readme.write_text("".join(line for line in readme.read_text().splitlines(keepends=True) if f"`mamori-{rule_id}`" not in line))
    run(sys.executable, "tools/new_rule.py", rule_id)
    run(sys.executable, "tools/build_template.py")
    tests = (f"tests/rules/test_{snake}.py", f"tests/remediations/test_{snake}.py")
    run(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests)
