"""One self-contained script for an SSM aws:executeScript step, made from a remediation script
and the mamori modules it imports.

aws:executeScript runs one script with the standard library, boto3 and botocore, and nothing
else. So the generated script starts with a small bootstrap that registers each mamori module
the script needs (transitively, imports inside functions included) under its own name:
sys.modules["mamori"] is a package with no path of its own and sys.modules["mamori.<x>"] runs
the module's own code (without docstrings and comments), embedded as a one-line string, in
dependency order. The script follows
unchanged: its `from mamori.x import y` lines resolve through sys.modules as they do in the
Lambda layer, and two modules may define the same name.

Refused at generation, naming the file and the line: an import of anything else than the
standard library, boto3, botocore and mamori modules (say rdklib, which SSM does not have); a
relative import; a mamori subpackage; an import cycle between mamori modules; and `{{`, which
SSM would read as a parameter reference.
"""

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "mamori"
# What aws:executeScript provides besides the standard library (and the inlined mamori modules).
THIRD_PARTY = ("boto3", "botocore")
ALLOWED = "the Python standard library, boto3, botocore and mamori.<module>"
BOOTSTRAP_HEADER = "# ---- mamori modules, each registered under its own name (inlined by tools/scripts.py) ----"


class ScriptError(ValueError):
    """A script or a module it imports cannot run in aws:executeScript; the message says why."""


@dataclass(frozen=True)
class Import:
    module: str  # absolute module name, e.g. "mamori.records" or "boto3"
    line: int
    text: str  # the statement as written, for messages


def _imports(tree: ast.Module, path: Path) -> list[Import]:
    """Every import in the file, at any depth (inside functions and `if` blocks too)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.append(Import(alias.name, node.lineno, f"import {alias.name}"))
        elif isinstance(node, ast.ImportFrom):
            names = ", ".join(alias.name for alias in node.names)
            text = f"from {'.' * node.level}{node.module or ''} import {names}"
            if node.level:
                raise ScriptError(
                    f"{_shown(path)}:{node.lineno}: `{text}` is a relative import; write `from mamori.<module> import ...`"
                )
            module = str(node.module)
            if module == PACKAGE:
                # `from mamori import records` names modules, each of which is inlined.
                found.extend(Import(f"{PACKAGE}.{alias.name}", node.lineno, text) for alias in node.names)
            else:
                found.append(Import(module, node.lineno, text))
    return sorted(found, key=lambda item: item.line)


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _allowed(module: str) -> bool:
    top = module.split(".")[0]
    return top in sys.stdlib_module_names or top in THIRD_PARTY or top == PACKAGE


def _mamori_file(item: Import, path: Path, package_dir: Path) -> Path | None:
    """The module file an import of mamori needs inlined, None for any other import."""
    if item.module.split(".")[0] != PACKAGE:
        return None
    parts = item.module.split(".")
    if len(parts) != 2:
        raise ScriptError(
            f"{_shown(path)}:{item.line}: `{item.text}`: only modules directly in mamori/ can be inlined into an SSM script "
            f"(mamori.<module>); {item.module} is not one"
        )
    file = package_dir / f"{parts[1]}.py"
    if not file.is_file():
        raise ScriptError(f"{_shown(path)}:{item.line}: `{item.text}`: {item.module} is not a module file {_shown(file)}")
    return file


def check_imports(path: Path, tree: ast.Module) -> None:
    for item in _imports(tree, path):
        if not _allowed(item.module):
            raise ScriptError(
                f"{_shown(path)}:{item.line}: `{item.text}` cannot run in SSM aws:executeScript, which has only {ALLOWED}"
            )


def mamori_modules(script: Path, package_dir: Path | None = None) -> list[Path]:
    """The mamori module files the script needs, each after the modules it imports."""
    package_dir = package_dir or ROOT / PACKAGE
    ordered: list[Path] = []

    def visit(file: Path, stack: tuple[Path, ...]) -> None:
        if file in ordered:
            return
        if file in stack:
            cycle = " -> ".join(_shown(f) for f in (*stack[stack.index(file) :], file))
            raise ScriptError(f"import cycle between mamori modules: {cycle}; an SSM script needs them in an order")
        source = file.read_text()
        tree = ast.parse(source, str(file))
        check_imports(file, tree)
        if "{{" in source:
            raise ScriptError(f"{_shown(file)}: SSM would read '{{{{' in the script as a parameter reference")
        for item in _imports(tree, file):
            needed = _mamori_file(item, file, package_dir)
            if needed is not None:
                visit(needed, (*stack, file))
        if file != script:
            ordered.append(file)

    visit(script, ())
    return ordered


def python_literal(text: str) -> str:
    """A Python string literal on one line whose value is exactly `text` (newlines, quotes,
    backslashes and unprintable characters escaped). A module inlined on one line costs no YAML
    indentation: in the template every line of a script is indented 14 spaces, which was a
    quarter of the template, and CloudFormation takes at most 1 MB."""
    return repr(text)


def without_docstrings(tree: ast.Module) -> ast.Module:
    """The tree with the docstrings of the module, its classes and functions left out."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                node.body = node.body[1:] or [ast.Pass()]
    return tree


def as_run(tree: ast.Module) -> ast.Module:
    """The tree without docstrings and without the annotations of function arguments and
    returns, which Python does not evaluate for a call (dataclass fields keep theirs)."""
    for node in ast.walk(without_docstrings(tree)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            node.returns = None
            arguments = node.args
            for argument in (*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs, arguments.vararg, arguments.kwarg):
                if argument is not None:
                    argument.annotation = None
    return tree


def compact_source(source: str) -> str:
    """The module's code as it runs, without docstrings, comments and signature annotations,
    indented one space a level: every document repeats the modules it needs, and CloudFormation
    takes at most 1 MB of template (the script itself, the part particular to the document,
    stays as written)."""
    code = ast.unparse(as_run(ast.parse(source)))
    # ast.unparse writes each statement on one line, four spaces a level (without docstrings,
    # no string spans lines); the same code one space a level, unless that would change it.
    narrow = "\n".join(" " * ((len(line) - len(line.lstrip(" "))) // 4) + line.lstrip(" ") for line in code.splitlines())
    return narrow if ast.dump(ast.parse(narrow)) == ast.dump(ast.parse(code)) else code


def module_name(file: Path) -> str:
    return f"{PACKAGE}.{file.stem}"


def bootstrap(modules: list[Path]) -> str:
    """Code that registers each module, in the order given, as sys.modules["mamori.<x>"]."""
    lines = [
        BOOTSTRAP_HEADER,
        "import sys as _mamori_sys",
        "import types as _mamori_types",
        "",
        '_mamori_package = _mamori_types.ModuleType("mamori")',
        "_mamori_package.__path__ = []  # a package: mamori.<x> is found in sys.modules, nowhere else",
        '_mamori_sys.modules["mamori"] = _mamori_package',
        "",
        "",
        "def _mamori_module(name, source):",
        "    module = _mamori_types.ModuleType(name)",
        '    module.__package__ = "mamori"',
        "    _mamori_sys.modules[name] = module",
        '    setattr(_mamori_package, name.rpartition(".")[2], module)',
        '    exec(compile(source, "<" + name + ">", "exec"), module.__dict__)',
        "",
        "",
    ]
    for file in modules:
        source = file.read_text()
        lines.append(f"# ---- {_shown(file)} ----")
        lines.append(f'_mamori_module("{module_name(file)}", {python_literal(compact_source(source))})')
    lines += ["", "del _mamori_module, _mamori_package, _mamori_sys, _mamori_types"]
    return "\n".join(lines)


def inline_script(path: Path, package_dir: Path | None = None) -> str:
    """The script for an aws:executeScript step: the bootstrap of the mamori modules it needs,
    then the script itself, unchanged."""
    modules = mamori_modules(path, package_dir)
    source = path.read_text().strip("\n")
    script = f"# ---- {_shown(path)} ----\n{source}\n"
    if modules:
        script = bootstrap(modules) + "\n\n\n" + script
    if "{{" in script:
        raise ScriptError(f"{_shown(path)}: SSM would read '{{{{' in the script as a parameter reference")
    return script
