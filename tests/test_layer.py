"""The Python 3.12 story: the layer is built for the runtime and architecture it runs on,
whatever Python runs `sam build` (layer/Makefile), and every function that takes the layer runs
on that runtime and architecture."""

import re

from harness.pack import template
from mamori.catalog import ROOT

MAKEFILE = (ROOT / "layer" / "Makefile").read_text()
LAYER = template()["Resources"]["MamoriLibrary"]
PLATFORM_ARCHITECTURE = {"manylinux2014_aarch64": "arm64", "manylinux2014_x86_64": "x86_64"}


def _make_variable(name: str) -> str:
    found = re.search(rf"^{name} := (\S+)$", MAKEFILE, re.MULTILINE)
    assert found, f"layer/Makefile sets no {name}"
    return found.group(1)


def test_the_layer_is_built_for_its_own_runtime_and_architecture() -> None:
    properties, metadata = LAYER["Properties"], LAYER["Metadata"]

    assert properties["CompatibleRuntimes"] == [f"python{_make_variable('LAYER_PYTHON_VERSION')}"]
    assert properties["CompatibleArchitectures"] == [PLATFORM_ARCHITECTURE[_make_variable("LAYER_PLATFORM")]]
    # SAM builds a layer for x86_64 unless told, and warns when that is not compatible.
    assert metadata["BuildArchitecture"] in properties["CompatibleArchitectures"]
    for flag in ("--only-binary=:all:", "--python-version $(LAYER_PYTHON_VERSION)", "--platform $(LAYER_PLATFORM)"):
        assert flag in MAKEFILE


def test_every_function_with_the_layer_runs_on_the_layers_runtime_and_architecture() -> None:
    with_layer = [
        resource["Properties"]
        for resource in template()["Resources"].values()
        if resource["Type"] == "AWS::Serverless::Function"
        and {"Ref": "MamoriLibrary"} in resource["Properties"].get("Layers", [])
    ]

    assert with_layer
    for function in with_layer:
        assert function["Runtime"] in LAYER["Properties"]["CompatibleRuntimes"], function["FunctionName"]
        assert function["Architectures"][0] in LAYER["Properties"]["CompatibleArchitectures"], function["FunctionName"]
