"""Step 2 · Implementation: app.py, configs/, requirements.txt and waivers.

GYM201-GYM202 config, GYM203 app.py, GYM204 requirements.txt, GYM205 self-containment,
GYM206 copyright headers (NeMo Gym), GYM209 waivers. README checks (GYM210-GYM219) live in step2_readme.
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from gymkit.checks.fixtures import Fixtures
from gymkit.checks.registry import Check, Finding, Skip, problem, register, registered
from gymkit.checks.step1_tasks import config_docs
from gymkit.contribution.hierarchy import verifying_classes
from gymkit.hashing import hashed_files, requirement_references
from gymkit.nemo.config import upstream_problems
from gymkit.nemo.detect import nemo_checkout

__all__ = [
    "GYM201",
    "GYM202",
    "GYM203",
    "GYM204",
    "GYM205",
    "GYM206",
    "GYM209",
    "outside_references",
    "path_escapes",
]


class Step2(Check):
    step = 2


@register
class GYM201(Step2):
    """configs/ has a YAML config for the server"""

    def check(self, fx: Fixtures) -> Iterable[Finding] | Skip:
        """Create `configs/NAME.yaml` (NAME = the server's folder) with a resources-server block and an
        agent block, as `gymkit new` writes it. In a NeMo Gym checkout any YAML under `configs/` that
        declares the server's `resources_servers` block will do: upstream keeps one file per variant."""
        if fx.gym == "nemo-gym" and any(
            e.server_type == "resources_servers" for doc in config_docs(fx) for e in doc.instances()
        ):
            return []
        if fx.config_path is not None:
            return []
        return [problem(f"no configs/{fx.paths.name}.yaml (or single configs/*.yaml)", "configs")]


@register
class GYM202(Step2):
    """The config is valid and sets a known domain"""

    requires = frozenset({"GYM201"})

    def check(self, fx: Fixtures) -> Iterable[Finding] | Skip:
        """Fix the field named in the message. `domain` must be one of: math, coding, agent, knowledge,
        instruction_following, long_context, safety, games, translation, e2e, rlhf, other. In a NeMo Gym
        checkout every config file is judged by upstream's rules: each resources server sets a known
        `domain`, each train and validation dataset a `license` from upstream's list."""
        if fx.gym == "nemo-gym":
            return [problem(message, fx.rel(path)) for path, message in upstream_problems(config_docs(fx))]
        error = fx.config_error
        if error is None:
            return []
        path, line = getattr(error, "path", None), getattr(error, "line", None)
        message = getattr(error, "problem", None) or error.message
        message += f" ({error.hint})" if error.hint else ""
        return [problem(message, fx.rel(Path(str(path))) if path else None, line)]


@register
class GYM203(Step2):
    """app.py defines a resources server with a verify method"""

    def check(self, fx: Fixtures) -> Iterable[Finding] | Skip:
        """`app.py` needs a class deriving from `BaseResourcesServer` with `async def verify(self, body)`
        that returns a `BaseVerifyResponse` with a `reward`, and a module-level `server = MyServer()`.
        A verify inherited from a base class in the server's folder, another server or `nemo_gym` counts."""
        if not fx.paths.app.is_file():
            return [problem("app.py is missing", "app.py")]
        try:
            tree = ast.parse(fx.paths.app.read_text(encoding="utf-8"), filename="app.py")
        except SyntaxError as exc:
            return [problem(f"syntax error: {exc.msg}", "app.py", exc.lineno)]
        except (OSError, UnicodeDecodeError) as exc:
            return [problem(f"cannot read app.py: {exc}", "app.py")]
        if not verifying_classes(tree, fx.paths.dir, nemo_checkout(fx.paths.dir) or fx.paths.root):
            return [problem("no class in app.py defines or inherits `async def verify`", "app.py")]
        return []


@register
class GYM204(Step2):
    """requirements.txt (or a pyproject.toml) exists"""

    def check(self, fx: Fixtures) -> Iterable[Finding] | Skip:
        """Create `requirements.txt` listing the server's own dependencies (it may be empty apart from a
        comment when the server needs nothing beyond gymkit). A `pyproject.toml` declaring the server's
        dependencies does as well: NeMo Gym installs either."""
        if fx.paths.requirements.is_file() or (fx.paths.dir / "pyproject.toml").is_file():
            return []
        return [problem("requirements.txt is missing", "requirements.txt")]


# --- GYM205: what a server reaches outside its folder ------------------------------------------

# Calls that put a folder on the import path, by the name they are called by.
_PATH_CALLS = {("sys.path", "insert"), ("sys.path", "append"), ("sys.path", "extend"), ("site", "addsitedir")}
_MAX_NAME_DEPTH = 8


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    if isinstance(node, ast.Subscript):
        return _dotted(node.value)
    return ""


def _assignments(tree: ast.AST) -> dict[str, list[ast.expr]]:
    """Every value each plain name is assigned anywhere in the module (scopes are not told apart)."""
    found: dict[str, list[ast.expr]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign | ast.AugAssign | ast.NamedExpr) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        for target in targets:
            if isinstance(target, ast.Name):
                found.setdefault(target.id, []).append(value)
    return found


def _ups(node: ast.AST, names: dict[str, list[ast.expr]], depth: int = 0) -> tuple[int, bool, bool]:
    """(folders up, names __file__, names an absolute path) of a path expression, names followed."""
    up, from_file, absolute = 0, False, False
    for sub in ast.walk(node):
        if isinstance(sub, ast.Attribute) and sub.attr in ("parent", "pardir"):
            up += 1
        elif isinstance(sub, ast.Subscript) and isinstance(sub.value, ast.Attribute) and sub.value.attr == "parents":
            index = sub.slice
            up += index.value + 1 if isinstance(index, ast.Constant) and isinstance(index.value, int) else 2
        elif isinstance(sub, ast.Call) and _dotted(sub.func).rsplit(".", 1)[-1] == "dirname":
            up += 1
        elif isinstance(sub, ast.Constant) and isinstance(sub.value, str):
            text = sub.value.replace("\\", "/")
            up += sum(1 for part in text.split("/") if part == "..")
            absolute = absolute or text.startswith(("/", "~"))
        elif isinstance(sub, ast.Name) and sub.id == "__file__":
            from_file = True
        elif isinstance(sub, ast.Name) and depth < _MAX_NAME_DEPTH:
            # ROOT = Path(__file__).parents[2]; sys.path.insert(0, str(ROOT / "foo")): the common shape.
            for value in names.get(sub.id, []):
                more, file_based, abs_path = _ups(value, names, depth + 1)
                up, from_file, absolute = up + more, from_file or file_based, absolute or abs_path
    return up, from_file, absolute


def path_escapes(source: str, rel: PurePosixPath) -> list[tuple[int, str]]:
    """(line, what) of every import-path change in a module that points outside the server (best effort).

    ``rel`` is the module's path in the server. Read from the syntax tree: ``sys.path.insert``,
    ``append``, ``extend``, ``site.addsitedir`` and assignments to ``sys.path``, whose argument
    goes up more folders than the module sits below the server's top (``.parent``, ``.parents[n]``,
    ``os.path.dirname``, ``..``, ``os.pardir``, through names assigned in the module), or is absolute.
    A path built at run time from other data is not seen.
    """
    try:
        tree = ast.parse(source, filename=str(rel))
    except (SyntaxError, ValueError):
        return []  # GYM203 and the tests report a module that does not parse
    names = _assignments(tree)
    # __file__ is the module; one step up is its folder; len(rel.parts) steps up is the server's top.
    allowed = len(rel.parts)
    found = []
    for node in ast.walk(tree):
        argument: ast.AST | None = None
        what = ""
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            key = (_dotted(node.func.value), node.func.attr)
            if key in _PATH_CALLS and node.args:
                argument, what = node.args[-1], f"{key[0]}.{key[1]}"
        elif isinstance(node, ast.Assign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(_dotted(t) == "sys.path" for t in targets):
                argument, what = node.value, "sys.path ="
        if argument is None:
            continue
        up, from_file, absolute = _ups(argument, names)
        if absolute or up > (allowed if from_file else 0):
            found.append((getattr(node, "lineno", 1), what))
    return found


def _escapes(base: Path, written: str, server_dir: Path) -> bool:
    if os.path.isabs(os.path.expanduser(written)):
        return True
    return not Path(os.path.normpath(base / written)).is_relative_to(server_dir)


def outside_references(server_dir: Path) -> list[tuple[str, int, str]]:
    """(file, line, reference) of each requirement file's path that leaves the server or is absolute."""
    server_dir = Path(os.path.normpath(server_dir.absolute()))
    found = []
    pending, seen = [server_dir / "requirements.txt"], set()
    while pending:
        path = pending.pop(0)
        if path in seen or not path.is_file():
            continue
        seen.add(path)
        try:
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            continue
        for number, line in enumerate(lines, 1):
            for kind, written in requirement_references(line):
                # -r and -c resolve against the including file; the rest against the server's folder.
                base = path.parent if kind == "include" else server_dir
                if _escapes(base, written, server_dir):
                    found.append((path.relative_to(server_dir).as_posix(), number, written))
                elif kind == "include":
                    pending.append(Path(os.path.normpath(base / written)))
    return found


def _is_checkout(server_dir: Path, written: str, checkout: Path) -> bool:
    target = Path(os.path.normpath(server_dir.absolute() / os.path.expanduser(written)))
    return target.resolve() == checkout.resolve()


@register
class GYM205(Step2):
    """The server is self-contained: no requirement or import path reaches outside its folder"""

    def check(self, fx: Fixtures) -> Iterable[Finding] | Skip:
        """A server is tested, profiled and reviewed as its own folder, and a pull request selects the
        servers whose files it changes, so code or pins taken from elsewhere (another server, the gym)
        change it unseen. Copy what it needs into the folder (a vendored wheel under `vendor/`, a module
        next to `app.py`) and refer to it by a path inside the folder: no `..` or absolute paths in
        `requirements.txt` (`-r`, `-c`, `-e`, `file:`, local wheels) and no `sys.path` entries that
        leave the folder. Detection in Python files is from the syntax tree, best effort. In a NeMo Gym
        checkout `-e nemo-gym[dev] @ ../../` (the checkout itself) is how upstream installs it, and passes;
        an import path out of the folder only warns there, as upstream runs servers from the checkout."""
        checkout = nemo_checkout(fx.paths.dir) if fx.gym == "nemo-gym" else None
        problems = [
            problem(f"{ref!r} points outside the server's folder", file, line)
            for file, line, ref in outside_references(fx.paths.dir)
            if not (checkout and _is_checkout(fx.paths.dir, ref, checkout))
        ]
        for rel in hashed_files(fx.paths.dir):
            if rel.suffix != ".py":
                continue
            try:
                source = (fx.paths.dir / rel).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            for line, what in path_escapes(source, rel):
                message = f"{what} adds a folder outside the server to the import path"
                if fx.gym == "nemo-gym":
                    # ng_run and ng_test put the checkout's root on the import path of every server.
                    message += " (gymkit's rule; NeMo Gym runs servers from its checkout and sets none)"
                problems.append(problem(message, str(rel), line, level="warn" if fx.gym == "nemo-gym" else "fail"))
        return problems


# NeMo Gym's copyright check (FW-CI-templates' _copyright_check.yml, the version its workflow pins)
# reads the first ten lines of every .py file but __init__.py and accepts any of these, ignoring case.
_HEADER_LINES = 10
_HEADER = re.compile(r"Copyright.*NVIDIA CORPORATION|MIT.*Licen.e|Copyright.*Apache|Apache.*License", re.IGNORECASE)


def _has_header(path: Path) -> bool:
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            head = [handle.readline().rstrip("\r\n") for _ in range(_HEADER_LINES)]
    except OSError:
        return True  # unreadable files are the tests' and GYM205's to report
    # The check joins the lines before matching, so a notice may span two of them.
    return _HEADER.search("\t".join(head)) is not None


def _copyright_checked(rel: PurePosixPath) -> bool:
    return rel.suffix == ".py" and not rel.name.endswith("__init__.py")


@register
class GYM206(Step2):
    """In a NeMo Gym checkout, Python files start with the licence header"""

    def check(self, fx: Fixtures) -> Iterable[Finding] | Skip:
        """NeMo Gym's copyright check refuses a source file whose first ten lines carry no notice. Start
        each `.py` file with
        `# SPDX-FileCopyrightText: Copyright (c) 2026 NVIDIA CORPORATION & AFFILIATES. All rights reserved.`
        and `# SPDX-License-Identifier: Apache-2.0` (vendored code keeps its own MIT or Apache notice).
        As upstream's check does, `__init__.py` files are not read. Other gyms set no such rule."""
        if fx.gym != "nemo-gym":
            return []
        return [
            problem("no copyright notice in the first ten lines (NeMo Gym's copyright check)", rel.as_posix())
            for rel in hashed_files(fx.paths.dir)
            if _copyright_checked(rel) and not _has_header(fx.paths.dir / rel)
        ]


@register
class GYM209(Step2):
    """Every waiver names a known check and gives a written reason"""

    requires = frozenset({"GYM202"})

    def check(self, fx: Fixtures) -> Iterable[Finding] | Skip:
        """Waivers live in the resources-server block of the config:
        `gymkit: {waive: {GYM501: "why this check cannot apply to this server"}}`. Write the reason, or
        remove the waiver and fix the check."""
        if fx.config is None:
            return Skip("config did not load")
        # The runner has loaded the whole catalog before any check runs.
        known = {c.code() for c in registered()}
        config_file = fx.rel(fx.config.path)
        problems = [problem(fx.waiver_error, config_file)] if fx.waiver_error else []
        for code, reason in fx.waivers.items():
            if code not in known:
                problems.append(problem(f"waiver for unknown check {code}", config_file))
            elif not isinstance(reason, str) or not reason.strip():
                problems.append(problem(f"waiver for {code} has no written reason", config_file))
            elif code == "GYM209":
                problems.append(problem("GYM209 itself cannot be waived", config_file))
        return problems
