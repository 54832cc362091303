"""Which gym gymkit is in, and which runtime a server is written for, read from source, never run."""

from __future__ import annotations

import ast
import re
import tomllib
from functools import cache
from pathlib import Path
from typing import Literal

__all__ = [
    "GymKind",
    "ServerKind",
    "gym_kind",
    "is_gymnasium_server",
    "is_nemo_checkout",
    "nemo_checkout",
    "server_kind",
]

ServerKind = Literal["nemo_gym", "gymkit"]
GymKind = Literal["nemo-gym", "gymkit"]

_SERVER_TYPES = ("resources_servers", "responses_api_agents", "responses_api_models")


def _normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def is_nemo_checkout(folder: Path) -> bool:
    """NeMo Gym's own tree: its ``nemo_gym`` package and a pyproject naming the nemo-gym project."""
    if not (folder / "nemo_gym" / "__init__.py").is_file():
        return False
    try:
        project = tomllib.loads((folder / "pyproject.toml").read_text(encoding="utf-8")).get("project", {})
    except (OSError, tomllib.TOMLDecodeError):
        return False
    return _normalised(str(project.get("name", ""))) == "nemo-gym"


def nemo_checkout(start: Path) -> Path | None:
    """The NeMo Gym checkout ``start`` is in (a fork's root), or None."""
    here = start.resolve()
    for folder in (here, *here.parents):
        if is_nemo_checkout(folder):
            return folder
    return None


def _parse(app: Path) -> ast.Module | None:
    try:
        return ast.parse(app.read_bytes(), filename=str(app))
    except (OSError, SyntaxError, ValueError):
        return None


@cache
def _tree(app: Path, mtime_ns: int) -> ast.Module | None:
    """app.py's syntax tree, read once per version of the file for every question asked of it."""
    return _parse(app)


def _imported_modules(tree: ast.Module | None) -> frozenset[str]:
    if tree is None:
        return frozenset()
    modules: set[str] = set()
    # Every import, not just the module's top: upstream servers import inside functions too.
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
    return frozenset(modules)


def _roots(modules: frozenset[str]) -> frozenset[str]:
    return frozenset(module.partition(".")[0] for module in modules)


def _sibling_apps(app: Path, modules: frozenset[str]) -> list[Path]:
    """The app.py of each sibling server this one imports (`resources_servers.mcqa.app`)."""
    servers = app.parent.parent
    if servers.name not in _SERVER_TYPES:
        return []
    names = {m.split(".")[1] for m in modules if m.startswith(f"{servers.name}.")}
    return [servers / name / "app.py" for name in sorted(names) if servers / name != app.parent]


@cache
def _kind_of(app: Path, mtime_ns: int) -> ServerKind | None:
    modules = _imported_modules(_tree(app, mtime_ns))
    roots = _roots(modules)
    # nemo_gym first: a NeMo Gym server that also imports gymkit helpers still needs nemo_gym's runtime.
    if "nemo_gym" in roots:
        return "nemo_gym"
    if "gymkit" in roots:
        return "gymkit"
    # A server built on a sibling's code (v0.4.0's gpqa_diamond on mcqa) runs on what that sibling imports.
    # One level only: the sibling's own imports, read directly, so two servers importing each other end.
    if any("nemo_gym" in _roots(_imported_modules(_parse(sibling))) for sibling in _sibling_apps(app, modules)):
        return "nemo_gym"
    return None


def _app(server_dir: Path) -> tuple[Path, int] | None:
    """app.py and its modification time, the key the readings of its source are cached under; None: no app.py."""
    app = server_dir / "app.py"
    try:
        return app.resolve(), app.stat().st_mtime_ns
    except OSError:
        return None


def server_kind(server_dir: Path) -> ServerKind | None:
    """ "nemo_gym" when app.py imports nemo_gym, "gymkit" when it imports gymkit, None when neither or no app.py."""
    app = _app(server_dir)
    return _kind_of(*app) if app is not None else None


def gym_kind(root: Path) -> GymKind:
    """ "nemo-gym" for a NeMo Gym checkout, or a tree whose servers import nemo_gym; else "gymkit"."""
    if nemo_checkout(root) is not None:
        return "nemo-gym"
    kinds = [
        server_kind(folder)
        for kind in _SERVER_TYPES
        if (root / kind).is_dir()
        for folder in sorted((root / kind).iterdir())
        if folder.is_dir()
    ]
    upstream = kinds.count("nemo_gym")
    return "nemo-gym" if upstream and upstream >= kinds.count("gymkit") else "gymkit"


# Upstream's base for environments played turn by turn (resources_servers/gymnasium/base.py in NeMo Gym
# 0.4 and 0.5): it serves /reset and /step, its verify raises, and upstream's gymnasium_agent drives it.
_GYMNASIUM_BASE = "GymnasiumServer"


def _derives_from_gymnasium(tree: ast.Module) -> bool:
    bases: set[str] = set()  # the names the base and app.py's own subclasses of it go by
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and "gymnasium" in node.module.split("."):
            bases.update(alias.asname or alias.name for alias in node.names if alias.name == _GYMNASIUM_BASE)
    found = False
    for node in tree.body:  # in source order, so a subclass of a subclass defined above it counts
        if not isinstance(node, ast.ClassDef):
            continue
        for base in node.bases:
            named = base.id if isinstance(base, ast.Name) else base.attr if isinstance(base, ast.Attribute) else ""
            if named in bases or (isinstance(base, ast.Attribute) and named == _GYMNASIUM_BASE):
                bases.add(node.name)
                found = True
    return found


def is_gymnasium_server(server_dir: Path) -> bool:
    """Whether app.py's server derives from NeMo Gym's GymnasiumServer (read from source, never imported)."""
    app = _app(server_dir)
    tree = _tree(*app) if app is not None else None
    return tree is not None and _derives_from_gymnasium(tree)
