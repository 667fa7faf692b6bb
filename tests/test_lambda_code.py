"""What each Lambda's code is made of, built by the same Makefiles `sam build` runs: the shared
MamoriLibrary layer (every pack function) holds mamori/*.py and not the central responder's
modules, which go with that one function; and each function imports, in a Python that sees only
its own code, its layer and the runtime's packages, exactly what it needs."""

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from harness.pack import org_template, template
from mamori.catalog import ROOT, load_responders, load_rules, responder_spec

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="sam build's makefile builds need make")

# Where boto3 (the Lambda runtime has it) and rdklib (layer/requirements.txt) are installed here.
SITE_PACKAGES = sysconfig.get_paths()["purelib"]


def make(makefile: Path, target: str, artifacts: Path) -> Path:
    """Run a `sam build` makefile target as SAM does. PYTHON=true: the layer's pip step (rdklib,
    from the package index) is left out; this test takes rdklib from the test environment."""
    artifacts.mkdir(parents=True)
    environment = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    subprocess.run(
        ["make", "-s", "-f", str(makefile), target, f"ARTIFACTS_DIR={artifacts}", "PYTHON=true"],
        cwd=artifacts,
        env=environment,
        check=True,
    )
    return artifacts


@pytest.fixture(scope="module")
def layer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make(ROOT / "layer" / "Makefile", "build-MamoriLibrary", tmp_path_factory.mktemp("layer") / "out") / "python"


@pytest.fixture(scope="module")
def central_function(tmp_path_factory: pytest.TempPathFactory) -> Path:
    spec = responder_spec("central")
    return make(spec.folder / "Makefile", f"build-{spec.function_id}", tmp_path_factory.mktemp("central") / "out")


def imports_in_isolation(path: list[Path], modules: list[str]) -> dict[str, str]:
    """Import each module in a fresh interpreter whose path is `path` and the installed packages
    only (no repository, no PYTHONPATH): {module: "ok" or the error}."""
    code = f"""
import importlib, json, sys
sys.path[:] = [p for p in sys.path if "site-packages" not in p] + {[str(p) for p in path]!r} + [{SITE_PACKAGES!r}]
found = {{}}
for name in {modules!r}:
    try:
        importlib.import_module(name)
        found[name] = "ok"
    except Exception as error:
        found[name] = f"{{type(error).__name__}}: {{error}}"
    sys.modules.pop(name, None)
print(json.dumps(found))
"""
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code], cwd=str(path[0]), capture_output=True, text=True, check=True, timeout=120
    )
    result: dict[str, str] = json.loads(done.stdout)
    return result


def test_the_layer_holds_mamori_without_the_central_modules(layer: Path) -> None:
    shipped = {path.relative_to(layer).as_posix() for path in (layer / "mamori").rglob("*.py")}
    assert shipped == {f"mamori/{path.name}" for path in (ROOT / "mamori").glob("*.py")}
    assert not (layer / "mamori" / "central").exists()
    assert (ROOT / "mamori" / "central" / "actions.py").exists()  # so the line above means something
    assert imports_in_isolation([layer], ["mamori.records", "mamori.central"]) == {
        "mamori.records": "ok",
        "mamori.central": "ModuleNotFoundError: No module named 'mamori.central'",
    }


def test_the_central_responder_ships_its_modules_and_runs_without_the_layer(central_function: Path) -> None:
    assert (central_function / "handler.py").read_text() == (ROOT / "responders" / "central" / "handler.py").read_text()
    shipped = {path.relative_to(central_function).as_posix() for path in (central_function / "mamori").rglob("*.py")}
    expected = {f"mamori/{path.name}" for path in (ROOT / "mamori").glob("*.py")}
    expected |= {f"mamori/central/{path.name}" for path in (ROOT / "mamori" / "central").glob("*.py")}
    assert shipped == expected
    function = org_template()["Resources"][responder_spec("central").function_id]
    assert function["Metadata"] == {"BuildMethod": "makefile"} and "Layers" not in function["Properties"]
    assert imports_in_isolation([central_function], ["handler", "mamori.central.responder"]) == {
        "handler": "ok",
        "mamori.central.responder": "ok",
    }


def test_every_pack_function_imports_with_its_own_code_and_the_layer(layer: Path) -> None:
    """What sam build gives each function of template.yaml: its folder (CodeUri) and the layer."""
    functions = {
        resource["Properties"]["CodeUri"]: resource["Properties"]["Handler"].split(".")[0]
        for resource in template()["Resources"].values()
        if resource["Type"] == "AWS::Serverless::Function"
    }
    assert len(functions) == len(load_rules()) + len([r for r in load_responders() if r.template == "pack"])
    for code_uri, module in functions.items():
        assert imports_in_isolation([ROOT / code_uri, layer], [module]) == {module: "ok"}, code_uri
