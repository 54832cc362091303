"""gymkit's import graph: no cycles, and nothing below the checklist imports the checks or the CLI.

The graph is read from the source with ``ast``: every ``import`` and ``from ... import`` of a
``gymkit`` module, at module level or inside a function (a lazy import is still a dependency),
except those under ``if TYPE_CHECKING:``, which never run.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "gymkit"

# Who may import what sits above the library: the CLI on top, then what runs the checklist.
CLI = ("gymkit.cli", "gymkit.__main__")
ABOVE_CHECKS = (*CLI, "gymkit.checks", "gymkit.review", "gymkit.cards", "gymkit.generate")

# What runs inside a server's process stands on these alone, so a server never loads the step tools.
RUNTIME = ("gymkit.runtime",)
FOUNDATIONS = ("gymkit", "gymkit.errors", "gymkit.inputs", "gymkit.childproc", "gymkit.confine", "gymkit.rules")


def _module_names(root: Path) -> dict[str, Path]:
    names = {}
    for path in root.rglob("*.py"):
        parts = path.relative_to(root.parent).with_suffix("").parts
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return names


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skipped: set[int] = set()
    for node in ast.walk(tree):
        test = node.test if isinstance(node, ast.If) else None
        if isinstance(test, ast.Name | ast.Attribute) and ast.unparse(test).endswith("TYPE_CHECKING"):
            skipped |= {id(sub) for stmt in node.body for sub in ast.walk(stmt)}
    return skipped


Graph = dict[str, set[str]]


def import_graph(root: Path = PACKAGE) -> Graph:
    """Module -> the gymkit modules it imports (a name imported from a package counts as its module when it is one)."""
    modules = _module_names(root)

    def resolve(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: Graph = {module: set() for module in modules}
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        skipped = _type_checking_nodes(tree)
        for node in ast.walk(tree):
            if id(node) in skipped:
                continue
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*parts, *([node.module] if node.module else [])])
                targets = [f"{base}.{alias.name}" for alias in node.names]
            for target in targets:
                found = resolve(target) if target.startswith("gymkit") else None
                if found and found != module:
                    graph[module].add(found)
    return graph


def _within(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def upward_imports(graph: Graph) -> list[str]:
    """Imports of the CLI from outside it, and of the checks from below the checklist."""
    found = []
    for module, target in ((m, t) for m, targets in graph.items() for t in targets):
        into_cli = _within(target, CLI) and not _within(module, CLI)
        into_checks = _within(target, ("gymkit.checks",)) and not _within(module, ABOVE_CHECKS)
        if into_cli or into_checks:
            found.append(f"{module} imports {target}")
    return sorted(found)


def runtime_escapes(graph: Graph) -> list[str]:
    """Imports from the server runtime of anything but the runtime and the foundations."""
    return sorted(
        f"{module} imports {target}"
        for module, targets in graph.items()
        if _within(module, RUNTIME)
        for target in targets
        if target not in FOUNDATIONS and not _within(target, RUNTIME)
    )


def _reachable(graph: Graph, start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for target in graph[todo.pop()] - seen:
            seen.add(target)
            todo.append(target)
    return seen


def cycles(graph: Graph) -> list[frozenset[str]]:
    """The groups of modules that import each other, directly or around a loop (each listed once)."""
    reach = {module: _reachable(graph, module) for module in graph}
    groups = {frozenset({m} | {o for o in reach[m] if m in reach[o]}) for m in graph if m in reach[m]}
    return sorted(groups, key=sorted)


def test_gymkit_has_no_import_cycle() -> None:
    found = cycles(import_graph())
    assert not found, "import cycles: " + "; ".join(" <-> ".join(sorted(c)) for c in found)


def test_no_module_below_the_checklist_imports_the_checks_or_the_cli() -> None:
    assert upward_imports(import_graph()) == []


def test_the_server_runtime_imports_only_itself_and_the_foundations() -> None:
    assert runtime_escapes(import_graph()) == []


def test_a_runtime_module_importing_a_step_tool_is_found(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "runtime/__init__.py": "",
            "runtime/server.py": "from gymkit.errors import E\nfrom gymkit.runtime import wire\n",
            "runtime/wire.py": "from gymkit.profiling import stats\n",
            "errors.py": "",
            "profiling/__init__.py": "",
            "profiling/stats.py": "",
        },
    )
    assert runtime_escapes(import_graph(root)) == ["gymkit.runtime.wire imports gymkit.profiling.stats"]


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "gymkit"
    for name, text in {"__init__.py": "", **files}.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


@pytest.mark.parametrize("lazy", [False, True])
def test_a_cycle_is_found_also_through_a_lazy_import(tmp_path: Path, lazy: bool) -> None:
    b = "def f():\n    from gymkit import a\n" if lazy else "from gymkit import a\n"
    root = _tree(tmp_path, {"a.py": "from gymkit.b import f\n", "b.py": b})
    assert cycles(import_graph(root)) == [frozenset({"gymkit.a", "gymkit.b"})]


def test_imports_under_type_checking_are_not_edges(tmp_path: Path) -> None:
    b = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from gymkit.a import X\n"
    root = _tree(tmp_path, {"a.py": "from gymkit import b\n", "b.py": b})
    assert cycles(import_graph(root)) == []


def test_a_library_module_importing_the_checks_or_the_cli_is_found(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "checks/__init__.py": "",
            "checks/runner.py": "",
            "cli/__init__.py": "",
            "prbody.py": "from gymkit.checks.runner import x\n",
            "audit.py": "from .cli import app\n",
            "review/reproduce.py": "from gymkit.checks import runner\n",
        },
    )
    assert upward_imports(import_graph(root)) == [
        "gymkit.audit imports gymkit.cli",
        "gymkit.prbody imports gymkit.checks.runner",
    ]
