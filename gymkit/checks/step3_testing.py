"""Step 3 · Testing.

GYM301 the test file exists, GYM302 pytest collects at least one test from it.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

from gymkit.checks.fixtures import Fixtures
from gymkit.checks.registry import Check, Problem, Skip, register

__all__ = ["GYM301", "GYM302", "collect_tests", "pytest_command"]

TEST_FILE = "tests/test_app.py"


class Step3(Check):
    step = 3


@register
class GYM301(Step3):
    """tests/test_app.py exists"""

    def check(self, fx: Fixtures) -> Iterable[Problem] | Skip:
        """Write `tests/test_app.py` with at least one test of your verify: a correct answer gets reward
        1.0, a wrong one 0.0 (`gymkit new` writes a starting point)."""
        return [] if (fx.paths.dir / TEST_FILE).is_file() else [Problem(f"{TEST_FILE} is missing", TEST_FILE)]


def pytest_command(server_dir: Path, *args: str) -> tuple[list[str], dict[str, str]]:
    """pytest on a server's tests the way ``nox -s test-server`` runs it: (command, environment)."""
    own_config = ("pytest.ini", ".pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg")
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider"]
    if not any((server_dir / name).is_file() for name in own_config):
        # Without a config of its own pytest would climb to the gym's pyproject.toml and apply
        # the repository's settings (warnings as errors, ...) to the server's tests.
        cmd += ["-c", os.devnull, "--rootdir", ".", "-o", "asyncio_mode=auto"]
        cmd += ["-o", "asyncio_default_fixture_loop_scope=function"]
    return [*cmd, *args], {**os.environ, "PYTHONPATH": str(server_dir)}


def collect_tests(server_dir: Path, timeout: float) -> tuple[list[str], str | None]:
    """Test ids pytest collects from the server's test file, or an explanation of why it could not."""
    cmd, env = pytest_command(server_dir, "--collect-only", "-q", TEST_FILE)
    # Collecting needs no third-party plugins but pytest-asyncio (async tests); skipping the
    # others' start-up cuts a third of the CPU time, which adds up over many servers in CI.
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    if importlib.util.find_spec("pytest_asyncio") is not None:
        cmd[cmd.index("--collect-only") : cmd.index("--collect-only")] = ["-p", "pytest_asyncio.plugin"]
    try:
        proc = subprocess.run(
            cmd,
            cwd=server_dir,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return [], f"collecting tests took longer than {timeout:.0f}s (an import that hangs?)"
    ids = [line for line in proc.stdout.splitlines() if "::" in line and not line.startswith(" ")]
    if proc.returncode not in (0, 5):
        lines = [ln for ln in (proc.stdout + proc.stderr).splitlines() if ln.strip().startswith("E ")]
        detail = lines[-1].strip()[2:].strip() if lines else f"pytest exited with {proc.returncode}"
        return ids, f"collection failed: {detail}"
    return ids, None


@register
class GYM302(Step3):
    """pytest collects at least one test from tests/test_app.py"""

    requires = frozenset({"GYM301"})
    slow = True

    @classmethod
    def prefetch(cls, fx: Fixtures) -> None:
        fx.collected_tests  # noqa: B018 - computing the cached fixture is the point

    def check(self, fx: Fixtures) -> Iterable[Problem] | Skip:
        """Run `python -m pytest --collect-only tests/test_app.py` in the server folder and fix what it
        reports; test functions are named `test_*` and the file imports without errors."""
        ids, error = fx.collected_tests
        if error:
            return [Problem(error, TEST_FILE)]
        if not ids:
            return [Problem("pytest collected no tests", TEST_FILE)]
        return []
