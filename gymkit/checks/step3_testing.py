"""Step 3 · Testing.

GYM301 the test file exists, GYM302 pytest collects at least one test from it.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterable

from gymkit.checks.fixtures import Fixtures
from gymkit.checks.registry import Check, Problem, Skip, register

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


def collect_tests(fx: Fixtures) -> tuple[list[str], str | None]:
    """Test ids pytest collects from the server's test file, or an explanation of why it could not."""
    cmd = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", TEST_FILE]
    try:
        proc = subprocess.run(
            cmd,
            cwd=fx.paths.dir,
            capture_output=True,
            text=True,
            timeout=fx.options.collect_timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return [], f"collecting tests took longer than {fx.options.collect_timeout:.0f}s (an import that hangs?)"
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

    def check(self, fx: Fixtures) -> Iterable[Problem] | Skip:
        """Run `python -m pytest --collect-only tests/test_app.py` in the server folder and fix what it
        reports; test functions are named `test_*` and the file imports without errors."""
        ids, error = collect_tests(fx)
        if error:
            return [Problem(error, TEST_FILE)]
        if not ids:
            return [Problem("pytest collected no tests", TEST_FILE)]
        return []
