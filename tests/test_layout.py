"""The package layout: imports point down the layers, no import cycle, small documented modules.

The layers, lowest first (docs/architecture.md): ``errors``, ``_gc``, ``_root`` -> ``run`` ->
``core`` -> ``analysis`` | ``interchange`` (siblings that never import each other) -> ``ports``
-> ``engine`` -> ``views`` -> ``cli``. ``testing`` may import anything; nothing else imports it.
Imports under ``if TYPE_CHECKING:`` are types only and may cross between modules of one package.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import petri_exec as pe

PACKAGE = Path(pe.__file__).resolve().parent

#: Layer of each top-level part of the package (lower may never import higher).
RANK = {
    "errors": 0, "_gc": 0, "_root": 0,
    "run": 1,
    "core": 2,
    "analysis": 3, "interchange": 3,
    "ports": 4,
    "engine": 5,
    "views": 6,
    "cli": 7, "__main__": 8,
}


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(["petri_exec", *parts])] = path
    return out


MODULES = _modules()


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _runtime_imports(name: str, path: Path) -> set[str]:
    """Every petri_exec module ``name`` imports at run time (functions included)."""
    tree = ast.parse(path.read_text("utf-8"))
    is_pkg = path.name == "__init__.py"
    base = name.split(".") if is_pkg else name.split(".")[:-1]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.ImportFrom):
            if node.level:
                mod = base[: len(base) - node.level + 1]
                target = ".".join(mod + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("petri_exec"):
                for alias in node.names:
                    sub = f"{target}.{alias.name}"
                    found.add(sub if sub in MODULES else target)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("petri_exec"))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    found.discard(name)
    return {m for m in found if m in MODULES}


GRAPH = {name: _runtime_imports(name, path) for name, path in MODULES.items()}


def _part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_the_graph_is_real() -> None:
    """The parser sees imports (so the checks below cannot pass vacuously)."""
    assert "petri_exec.core.marking" in GRAPH["petri_exec.core.net"]
    assert "petri_exec.engine.durable" in GRAPH["petri_exec.engine.api"]
    assert "petri_exec.run.model" in GRAPH["petri_exec.core.compile"]
    assert sum(map(len, GRAPH.values())) > 100


@pytest.mark.parametrize("module", sorted(m for m in MODULES if _part(m) != "testing"))
def test_imports_point_down(module: str) -> None:
    here = _part(module)
    for target in sorted(GRAPH[module]):
        there = _part(target)
        if there == here:
            continue
        assert there != "testing", f"{module} imports {target}: only tests use petri_exec.testing"
        if here == "__init__":
            assert there not in ("views", "cli"), f"the facade imports {target}"
            continue
        if there == "__init__":
            pytest.fail(f"{module} imports the facade petri_exec; import the package instead")
        assert RANK[there] < RANK[here], (
            f"{module} (layer {here}) imports {target} (layer {there}): imports must point "
            "down the layers (docs/architecture.md)")


def test_no_import_cycle() -> None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for n in sorted(GRAPH[m]):
            if state.get(n) == 1:
                cycle = [*stack[stack.index(n):], n]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if n not in state:
                visit(n)
        stack.pop()
        state[m] = 2

    for m in sorted(GRAPH):
        if m not in state:
            visit(m)


def test_the_facade_loads_no_view_no_cli_and_no_heavy_dependency() -> None:
    code = ("import sys, petri_exec; "
            "print(' '.join(m for m in sys.modules if m.startswith(('petri_exec.views', "
            "'petri_exec.cli', 'petri_exec.testing', 'networkx', 'snakes', 'hypothesis'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


@pytest.mark.parametrize("package", ["run", "core", "analysis", "interchange", "ports", "engine",
                                     "views", "testing"])
def test_each_package_says_what_it_holds_and_exports_it(package: str) -> None:
    import importlib

    mod = importlib.import_module(f"petri_exec.{package}")
    assert mod.__doc__ and len(mod.__doc__.split()) > 20
    assert sorted(mod.__all__) == sorted(set(mod.__all__))
    for name in mod.__all__:
        assert hasattr(mod, name), f"petri_exec.{package}.__all__ names {name} it lacks"


def test_modules_are_small_and_declare_their_names() -> None:
    for name, path in MODULES.items():
        text = path.read_text("utf-8")
        assert len(text.splitlines()) <= 500, f"{name} has grown past 500 lines: split it"
        tree = ast.parse(text)
        assert ast.get_docstring(tree), f"{name} has no docstring"
        if path.name not in ("__main__.py",):
            assert "__all__" in text, f"{name} has no __all__"


def test_the_facade_exports_exactly_its_public_names() -> None:
    public = {n for n in vars(pe) if n.isidentifier() and not n.startswith("_")} - {
        "annotations", "analysis", "core", "engine", "errors", "interchange", "ports", "run",
        "views", "cli", "testing"}
    assert public == set(pe.__all__) - {"__version__"}
