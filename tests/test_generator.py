"""The generator: a one-way pipeline that builds the pack once, scripts whose mamori modules
cannot clash and run only on what SSM has, and the size quotas checked on every document and
template."""

import ast
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from harness import pack as harness_pack
from harness.aws import Sandbox
from harness.pack import AUTOMATION_ROLE_ARN, own_mamori_modules, run_document, template
from mamori.catalog import AUTOMATION_ASSUME_ROLE, DRY_RUN, DocumentSpec, RemediationSpec, load_remediations
from tests.generator import generated
from tools import build_template, cfn, generate, limits, pack, scripts
from tools.scripts import ScriptError, as_run, compact_source, inline_script, python_literal

ROOT = Path(__file__).resolve().parent.parent
TOOLS = ROOT / "tools"


# --- the pipeline ------------------------------------------------------------------------


def local_imports(path: Path, package: str) -> set[str]:
    """Modules of `package` (e.g. tools.pack) that the file imports, at any depth."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] == package}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == package:
            if node.module == package:
                found |= {f"{package}.{alias.name}" for alias in node.names}
            else:
                found.add(node.module)
    return found


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A path that comes back to where it started, or None."""
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> list[str] | None:
        if node in path:
            return [*path[path.index(node) :], node]
        if node in done:
            return None
        for neighbour in sorted(graph.get(node, ())):
            cycle = visit(neighbour, [*path, node])
            if cycle:
                return cycle
        done.add(node)
        return None

    for start in sorted(graph):
        cycle = visit(start, [])
        if cycle:
            return cycle
    return None


def tools_import_graph() -> dict[str, set[str]]:
    return {f"tools.{path.stem}": local_imports(path, "tools") for path in sorted(TOOLS.glob("*.py"))}


def test_find_cycle_finds_one() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_tools_import_one_another_one_way_only() -> None:
    graph = tools_import_graph()
    assert {"tools.pack", "tools.member_template", "tools.org_template", "tools.generate"} <= set(graph)
    assert find_cycle(graph) is None, f"import cycle: {' -> '.join(find_cycle(graph) or [])}"
    # The stages: the member template is made from the pack's result, never from its builders.
    assert "tools.pack" not in graph["tools.member_template"]
    assert graph["tools.build_template"] == {"tools.generate"}


def test_harness_and_demo_read_the_generated_templates_and_never_import_the_generator() -> None:
    for folder in ("harness", "demo"):
        for path in sorted((ROOT / folder).glob("*.py")):
            assert not local_imports(path, "tools"), f"{path.relative_to(ROOT)} imports the generator"


def test_make_template_builds_the_pack_once_and_checks_every_size(monkeypatch: pytest.MonkeyPatch) -> None:
    builds: list[int] = []
    documents: list[str] = []
    templates: list[str] = []
    real_build, real_document, real_template = pack.build_pack, pack.check_document_size, generate.check_template_size

    def counted_build(*args: Any, **kwargs: Any) -> dict[str, Any]:
        builds.append(1)
        return real_build(*args, **kwargs)

    def recorded_document(name: str, content: Any) -> int:
        documents.append(name)
        return real_document(name, content)

    def recorded_template(name: str, text: str) -> int:
        templates.append(name)
        return real_template(name, text)

    monkeypatch.setattr(pack, "build_pack", counted_build)
    monkeypatch.setattr(pack, "check_document_size", recorded_document)
    monkeypatch.setattr(generate, "check_template_size", recorded_template)
    assert build_template.main(["--check"]) == 0
    assert len(builds) == 1
    every_document = sorted(d.name for r in load_remediations() for d in r.documents)
    assert sorted(documents) == every_document
    assert sorted(templates) == ["member-template.yaml", "org-template.yaml", "template.yaml"]


def test_every_template_refers_only_to_what_it_declares() -> None:
    for name, made in (("template", generated().pack), ("member", generated().member), ("org", generated().org)):
        cfn.check_references(name, made)  # raises otherwise
    broken = {**generated().pack, "Outputs": {"Dangling": {"Value": {"Ref": "NoSuchResource"}}}}
    with pytest.raises(cfn.UnresolvedReference, match="NoSuchResource"):
        cfn.check_references("template.yaml", broken)
    unconditioned = {**generated().pack, "Outputs": {"Maybe": {"Condition": "NoSuchCondition", "Value": "x"}}}
    with pytest.raises(cfn.UnresolvedReference, match="NoSuchCondition"):
        cfn.check_references("template.yaml", unconditioned)


# --- sizes ---------------------------------------------------------------------------------


def write_script(folder: Path, body: str, padding: int = 0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "remediate.py"
    text = '"""A remediation script of a test."""\n\n'
    if padding:
        text += f'PADDING = "{"x" * padding}"\n\n'
    path.write_text(text + textwrap.dedent(body))
    return path


def remediation_spec(script: str = "remediate.py") -> RemediationSpec:
    return RemediationSpec(
        id="sized",
        remediate=DocumentSpec(
            name="mamori-sized",
            description="A document of a test.",
            script=script,
            parameters=(AUTOMATION_ASSUME_ROLE, DRY_RUN),
            permissions=(),
        ),
    )


HANDLER = """
def handler(events, context):
    return {"Status": "DONE"}
"""


def test_a_document_over_64_kb_fails_generation_and_one_under_it_does_not(tmp_path: Path) -> None:
    spec = remediation_spec()
    write_script(tmp_path / "small", HANDLER, padding=60 * 1024)
    content = pack.document_content(spec, spec.remediate, tmp_path / "small")
    assert 60 * 1024 < limits.document_size(content) <= limits.SSM_DOCUMENT_LIMIT
    write_script(tmp_path / "big", HANDLER, padding=65 * 1024)
    with pytest.raises(limits.SizeError, match=r"mamori-sized is [\d,]+ bytes, over SSM's document size quota of 65,536"):
        pack.document_content(spec, spec.remediate, tmp_path / "big")


def test_a_template_over_the_budget_fails_and_the_budget_keeps_ten_percent_free() -> None:
    assert limits.TEMPLATE_BUDGET == 0.9 * limits.CLOUDFORMATION_TEMPLATE_LIMIT
    assert limits.check_template_size("t.yaml", "x" * limits.TEMPLATE_BUDGET) == limits.TEMPLATE_BUDGET
    with pytest.raises(limits.SizeError, match=r"t\.yaml is 900,001 bytes"):
        limits.check_template_size("t.yaml", "x" * (limits.TEMPLATE_BUDGET + 1))


def test_the_committed_documents_and_templates_are_within_their_quotas() -> None:
    for text in generated().texts.values():
        assert len(text.encode()) <= limits.TEMPLATE_BUDGET
    for resource in template()["Resources"].values():
        if resource["Type"] == "AWS::SSM::Document":
            assert limits.document_size(resource["Properties"]["Content"]) <= limits.SSM_DOCUMENT_LIMIT


# --- scripts -------------------------------------------------------------------------------


def embedded_modules(script: str) -> dict[str, str]:
    """{module name: source} of the bootstrap's _mamori_module calls, in order."""
    found = {}
    for node in ast.parse(script).body:
        call = node.value if isinstance(node, ast.Expr) else None
        if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "_mamori_module":
            found[ast.literal_eval(call.args[0])] = ast.literal_eval(call.args[1])
    return found


def document_scripts() -> Iterator[tuple[str, Path, str]]:
    by_name = {d.name: (r, d) for r in load_remediations() for d in r.documents}
    for resource in template()["Resources"].values():
        if resource["Type"] == "AWS::SSM::Document":
            remediation, document = by_name[resource["Properties"]["Name"]]
            for step in resource["Properties"]["Content"]["mainSteps"]:
                yield document.name, remediation.folder / document.script, step["inputs"]["Script"]


@pytest.mark.parametrize("name", sorted(d.name for r in load_remediations() for d in r.documents))
def test_each_module_is_embedded_exactly_and_after_what_it_imports(name: str) -> None:
    [(_, script_path, script)] = [(n, p, s) for n, p, s in document_scripts() if n == name]
    modules = embedded_modules(script)
    assert modules, f"{name} inlines no mamori module"
    registered: set[str] = set()
    for module, source in modules.items():
        original = (ROOT / "mamori" / f"{module.removeprefix('mamori.')}.py").read_text()
        assert source == compact_source(original), module
        # The same code as the module, but for its docstrings, comments and signature annotations.
        assert ast.dump(ast.parse(source)) == ast.dump(as_run(ast.parse(original))), module
        needed = {m for m in local_imports_of_source(source) if m != module}
        assert needed <= registered, f"{module} is registered before {needed - registered}"
        registered.add(module)
    assert local_imports_of_source(script_path.read_text()) <= registered
    # The script follows the bootstrap unchanged.
    assert script.endswith(script_path.read_text().strip("\n") + "\n")


def local_imports_of_source(source: str) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("mamori."):
            found.add(node.module)
        elif isinstance(node, ast.ImportFrom) and node.module == "mamori":
            found |= {f"mamori.{alias.name}" for alias in node.names}
    return found


TRICKY = [
    "",
    "plain\n",
    '"""docstring"""\n',
    "'''single'''\n",
    "ends with a backslash \\",
    "ends with a quote '",
    'ends with a quote "',
    'two quotes at the end ""',
    'four """" and five """"" quotes\n',
    "regex r'^\\d{12}$' and '\\n'\n",
    "windows\r\nline end\n",
    "nul \x00 and line separator \u2028 and next line \x85\n",
    "\\'''",
]


@pytest.mark.parametrize("text", TRICKY)
def test_python_literal_round_trips_tricky_text(text: str) -> None:
    assert eval(python_literal(text)) == text


@given(st.text())
def test_python_literal_round_trips_any_text(text: str) -> None:
    assert eval(python_literal(text)) == text


# What YAML (and Python's str.splitlines) reads as a line break: a literal must hold none.
LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"


@pytest.mark.parametrize("text", TRICKY)
def test_python_literal_is_one_line(text: str) -> None:
    assert not set(python_literal(text)) & set(LINE_BREAKS)


def test_every_real_module_is_inlined_on_one_line() -> None:
    for path in sorted((ROOT / "mamori").glob("*.py")):
        code = compact_source(path.read_text())
        literal = python_literal(code)
        assert len(literal.splitlines()) == 1 and eval(literal) == code, path.name


def make_package(folder: Path, modules: dict[str, str]) -> Path:
    package = folder / "mamori"
    package.mkdir(parents=True)
    for name, source in modules.items():
        (package / f"{name}.py").write_text(textwrap.dedent(source))
    return package


def run_script(script: str) -> Any:
    namespace: dict[str, Any] = {"__name__": "ssm_test"}
    with own_mamori_modules():
        exec(compile(script, "<test>", "exec"), namespace)
        return namespace["handler"]({}, None)


def test_two_modules_may_define_the_same_name(tmp_path: Path) -> None:
    package = make_package(
        tmp_path,
        {
            "first": 'NAME = "first"\n',
            "second": """
                from mamori.first import NAME as FIRST

                NAME = "second"


                def both():
                    return FIRST, NAME
                """,
        },
    )
    script = write_script(
        tmp_path / "unit",
        """
        from mamori.first import NAME
        from mamori.second import both


        def handler(events, context):
            return {"mine": NAME, "both": both()}
        """,
    )
    assert run_script(inline_script(script, package)) == {"mine": "first", "both": ("first", "second")}


def test_a_module_imported_inside_a_function_is_inlined_too(tmp_path: Path) -> None:
    package = make_package(
        tmp_path,
        {
            "late": """
                def answer():
                    from mamori.deep import VALUE

                    return VALUE
                """,
            "deep": "VALUE = 42\n",
        },
    )
    script = write_script(
        tmp_path / "unit",
        """
        def handler(events, context):
            from mamori import late

            return late.answer()
        """,
    )
    inlined = inline_script(script, package)
    assert list(embedded_modules(inlined)) == ["mamori.deep", "mamori.late"]
    assert run_script(inlined) == 42


def test_only_inlined_modules_exist_while_a_script_runs(tmp_path: Path) -> None:
    """As in SSM: a mamori module the script did not inline (imported by name at run time) is not there."""
    package = make_package(tmp_path, {"there": "X = 1\n"})
    script = write_script(
        tmp_path / "unit",
        """
        import importlib

        from mamori.there import X


        def handler(events, context):
            importlib.import_module("mamori.records")
        """,
    )
    with pytest.raises(ModuleNotFoundError, match=r"mamori\.records"):
        run_script(inline_script(script, package))


@pytest.mark.parametrize(
    ("where", "code", "message"),
    [
        ("script", "import rdklib\n", r"remediate.py:3: `import rdklib` cannot run in SSM aws:executeScript"),
        ("script", "def f():\n    from rdklib import Evaluator\n", r"remediate.py:4: `from rdklib import Evaluator` cannot run"),
        ("module", "def f():\n    import requests\n", r"mamori/helper.py:2: `import requests` cannot run"),
        ("script", "from .sibling import x\n", r"is a relative import"),
        ("script", "from mamori.central.events import RULES\n", r"only modules directly in mamori/ can be inlined"),
        ("script", "from mamori import nothing_here\n", r"mamori.nothing_here is not a module file"),
        ("script", 'TEXT = "{{ Parameter }}"\n', r"parameter reference"),
    ],
)
def test_what_cannot_run_in_ssm_fails_generation_and_says_where(tmp_path: Path, where: str, code: str, message: str) -> None:
    helper = code if where == "module" else "X = 1\n"
    package = make_package(tmp_path, {"helper": helper})
    script = write_script(tmp_path / "unit", ("from mamori.helper import X\n" if where == "module" else code) + HANDLER)
    with pytest.raises(ScriptError, match=message) as raised:
        inline_script(script, package)
    if "cannot run" in message:
        assert "the Python standard library, boto3, botocore and mamori.<module>" in str(raised.value)


def test_an_import_cycle_between_modules_fails_generation(tmp_path: Path) -> None:
    package = make_package(tmp_path, {"a": "from mamori.b import B\nA = 1\n", "b": "from mamori.a import A\nB = 2\n"})
    script = write_script(tmp_path / "unit", "from mamori.a import A\n" + HANDLER)
    with pytest.raises(ScriptError, match=r"import cycle between mamori modules: .*a\.py -> .*b\.py -> .*a\.py"):
        inline_script(script, package)


def test_make_template_refuses_a_remediation_script_that_imports_rdklib(tmp_path: Path) -> None:
    spec = remediation_spec()
    write_script(tmp_path, "import rdklib\n" + HANDLER)
    with pytest.raises(ScriptError, match=r"`import rdklib` cannot run in SSM aws:executeScript, which has only the Python"):
        pack.document_content(spec, spec.remediate, tmp_path)


def test_the_inlined_yaml_keeps_each_script_exactly() -> None:
    text = generated().texts[ROOT / "template.yaml"]
    loaded = yaml.safe_load(text)["Resources"]
    for logical_id, resource in generated().pack["Resources"].items():
        if resource["Type"] == "AWS::SSM::Document":
            assert loaded[logical_id]["Properties"]["Content"] == resource["Properties"]["Content"]
    assert 'Script: "' not in text, "a script fell back to a quoted YAML string: keep it a readable block"


# --- the document runner leaves the real package alone --------------------------------------


def mamori_modules() -> dict[str, Any]:
    return {name: module for name, module in sys.modules.items() if name == "mamori" or name.startswith("mamori.")}


def test_run_document_puts_the_real_mamori_modules_back(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import mamori.records

    real_records = id(mamori.records)
    script = write_script(
        tmp_path,
        """
        import sys

        from mamori.records import record_path


        def handler(events, context):
            if events.get("Fail"):
                raise RuntimeError("the step fails")
            return {"Records": str(id(sys.modules["mamori.records"])), "Path": record_path("x", "y")}
        """,
    )
    content = {
        "parameters": {"AutomationAssumeRole": {"type": "String"}, "Fail": {"type": "Boolean", "default": False}},
        "mainSteps": [
            {
                "name": "Run",
                "action": "aws:executeScript",
                "inputs": {"Handler": "handler", "InputPayload": {"Fail": "{{ Fail }}"}, "Script": scripts.inline_script(script)},
                "outputs": [
                    {"Name": "Records", "Selector": "$.Payload.Records", "Type": "String"},
                    {"Name": "Path", "Selector": "$.Payload.Path", "Type": "String"},
                ],
            }
        ],
    }
    monkeypatch.setattr(harness_pack, "documents", lambda: {"mamori-test": ("TestDocument", content)})
    monkeypatch.setattr(harness_pack, "document_role", lambda name: "OpenProxyPortsAutomationRole")
    before = mamori_modules()

    ran = run_document(sandbox, "mamori-test", {"AutomationAssumeRole": AUTOMATION_ROLE_ARN})
    assert ran.status == "Success", ran.failure
    assert ran.outputs["Run.Path"] == "/mamori/x/y"
    assert ran.outputs["Run.Records"] != str(real_records), "the script used the real module, not its own"
    assert mamori_modules() == before

    failed = run_document(sandbox, "mamori-test", {"AutomationAssumeRole": AUTOMATION_ROLE_ARN, "Fail": True})
    assert failed.status == "Failed" and "the step fails" in failed.failure
    assert mamori_modules() == before
    assert id(sys.modules["mamori.records"]) == real_records


def test_make_template_says_what_ssm_would_refuse_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tools import build_template

    def refuse() -> Any:
        raise ScriptError("remediations/x/remediate.py:3: `import rdklib` cannot run in SSM aws:executeScript")

    monkeypatch.setattr(build_template, "generate", refuse)

    assert build_template.main([]) == 1
    assert capsys.readouterr().err == (
        "make template: remediations/x/remediate.py:3: `import rdklib` cannot run in SSM aws:executeScript\n"
    )
