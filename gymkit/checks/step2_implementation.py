"""Step 2 · Implementation: app.py, configs/, requirements.txt and waivers.

GYM201-GYM202 config, GYM203 app.py, GYM204 requirements.txt, GYM209 waivers.
README checks (GYM210-GYM219) live in step2_readme.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable

from gymkit.checks.fixtures import Fixtures, locate
from gymkit.checks.registry import Check, Problem, Skip, register

__all__ = ["GYM201", "GYM202", "GYM203", "GYM204", "GYM209"]


class Step2(Check):
    step = 2


@register
class GYM201(Step2):
    """configs/ has a YAML config for the server"""

    def check(self, fx: Fixtures) -> Iterable[Problem] | Skip:
        """Create `configs/NAME.yaml` (NAME = the server's folder) with a resources-server block and an
        agent block, as `gymkit new` writes it."""
        if fx.config_path is not None:
            return []
        return [Problem(f"no configs/{fx.paths.name}.yaml (or single configs/*.yaml)", "configs")]


@register
class GYM202(Step2):
    """The config is valid and sets a known domain"""

    requires = frozenset({"GYM201"})

    def check(self, fx: Fixtures) -> Iterable[Problem] | Skip:
        """Fix the field named in the message. `domain` must be one of: math, coding, agent, knowledge,
        instruction_following, long_context, safety, games, translation, e2e, rlhf, other."""
        if fx.config_error is None:
            return []
        where = locate(fx.config_error)
        return [Problem(where.message, fx.rel(fx.paths.dir / where.file) if where.file else None, where.line)]


@register
class GYM203(Step2):
    """app.py defines a resources server with a verify method"""

    def check(self, fx: Fixtures) -> Iterable[Problem] | Skip:
        """`app.py` needs a class deriving from `BaseResourcesServer` with `async def verify(self, body)`
        that returns a `BaseVerifyResponse` with a `reward`, and a module-level `server = MyServer()`."""
        if not fx.paths.app.is_file():
            return [Problem("app.py is missing", "app.py")]
        try:
            tree = ast.parse(fx.paths.app.read_text(encoding="utf-8"), filename="app.py")
        except SyntaxError as exc:
            return [Problem(f"syntax error: {exc.msg}", "app.py", exc.lineno)]
        except (OSError, UnicodeDecodeError) as exc:
            return [Problem(f"cannot read app.py: {exc}", "app.py")]
        classes = [node for node in ast.walk(tree) if isinstance(node, ast.ClassDef) and node.bases]
        verifying = [
            c for c in classes if any(isinstance(f, ast.AsyncFunctionDef) and f.name == "verify" for f in c.body)
        ]
        if not verifying:
            return [Problem("no class in app.py defines `async def verify`", "app.py")]
        return []


@register
class GYM204(Step2):
    """requirements.txt exists"""

    def check(self, fx: Fixtures) -> Iterable[Problem] | Skip:
        """Create `requirements.txt` listing the server's own dependencies (it may be empty apart from a
        comment when the server needs nothing beyond gymkit)."""
        return [] if fx.paths.requirements.is_file() else [Problem("requirements.txt is missing", "requirements.txt")]


@register
class GYM209(Step2):
    """Every waiver names a known check and gives a written reason"""

    requires = frozenset({"GYM202"})

    def check(self, fx: Fixtures) -> Iterable[Problem] | Skip:
        """Waivers live in the resources-server block of the config:
        `gymkit: {waive: {GYM501: "why this check cannot apply to this server"}}`. Write the reason, or
        remove the waiver and fix the check."""
        from gymkit.checks.registry import all_checks

        if fx.config is None:
            return Skip("config did not load")
        known = {c.code() for c in all_checks()}
        config_file = fx.rel(fx.config.path)
        problems = [Problem(fx.waiver_error, config_file)] if fx.waiver_error else []
        for code, reason in fx.waivers.items():
            if code not in known:
                problems.append(Problem(f"waiver for unknown check {code}", config_file))
            elif not isinstance(reason, str) or not reason.strip():
                problems.append(Problem(f"waiver for {code} has no written reason", config_file))
            elif code == "GYM209":
                problems.append(Problem("GYM209 itself cannot be waived", config_file))
        return problems
