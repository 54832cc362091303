"""Which classes of a server's app.py have a ``verify``, their own or inherited, read from source.

Upstream servers inherit verify from a base class in their own folder, in another server
(``from resources_servers.gymnasium import GymnasiumServer``) or in ``nemo_gym``. The classes
are read from the syntax tree of those modules, never imported: a server's code does not run
in gymkit's process.
"""

from __future__ import annotations

import ast
from pathlib import Path

__all__ = ["verifying_classes"]

_MAX_FILES = 400


def _base_name(node: ast.expr) -> str:
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Subscript):  # Generic[...]-style bases
        return _base_name(node.value)
    return node.id if isinstance(node, ast.Name) else ""


def _is_abstract(function: ast.AsyncFunctionDef) -> bool:
    return any(_base_name(d) == "abstractmethod" for d in function.decorator_list)


def _classes(tree: ast.AST) -> dict[str, ast.ClassDef]:
    return {node.name: node for node in ast.walk(tree) if isinstance(node, ast.ClassDef)}


def _imported_sources(tree: ast.AST, root: Path) -> list[Path]:
    """The modules (a file, or a package's folder) app.py imports from the gym itself:
    ``resources_servers.x``, ``nemo_gym.base_resources_server``. The abstract root declares verify
    abstract, so inheriting only that is no verify."""
    sources = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            parts = node.module.split(".")
            for depth in range(len(parts), 0, -1):
                candidate = root.joinpath(*parts[:depth])
                if candidate.with_suffix(".py").is_file():
                    sources.append(candidate.with_suffix(".py"))
                    break
                if candidate.is_dir():
                    sources.append(candidate)
                    break
    return sources


def _parse(path: Path) -> ast.AST | None:
    try:
        return ast.parse(path.read_bytes(), filename=str(path))
    except (OSError, SyntaxError, ValueError):
        return None


def _known_classes(tree: ast.AST, server_dir: Path, root: Path) -> dict[str, ast.ClassDef]:
    known: dict[str, ast.ClassDef] = {}
    seen: set[Path] = set()
    for source in [server_dir, *_imported_sources(tree, root)]:
        files = sorted(source.rglob("*.py"))[:_MAX_FILES] if source.is_dir() else [source]
        for path in files:
            if path in seen or "tests" in path.parts[len(source.parts) :]:
                continue
            seen.add(path)
            other = _parse(path)
            for name, cls in (_classes(other) if other else {}).items():
                known.setdefault(name, cls)
    return known


def verifying_classes(tree: ast.AST, server_dir: Path, root: Path) -> list[str]:
    """Names of app.py's classes that define a concrete ``async def verify`` or inherit one."""
    own = _classes(tree)
    known = {**_known_classes(tree, server_dir, root), **own}

    def verifies(name: str, trail: frozenset[str]) -> bool:
        cls = known.get(name)
        if cls is None or name in trail:
            return False
        for item in cls.body:
            if isinstance(item, ast.AsyncFunctionDef) and item.name == "verify":
                return not _is_abstract(item)
        return any(verifies(_base_name(base), trail | {name}) for base in cls.bases)

    return [name for name, cls in own.items() if cls.bases and verifies(name, frozenset())]
