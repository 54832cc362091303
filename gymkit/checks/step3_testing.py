"""Step 3 · Testing.

GYM301 the test file exists, GYM302 pytest collects at least one test from it, GYM303 the
last ``gymkit test NAME`` ran on this very code and every stage passed.

GYM303 reads evidence, it does not make it: the stamp that ``gymkit test`` writes to
.gymkit-cache/tests/NAME.json. CI runs that session, then the checklist, in one job; a
missing or stale stamp fails with the command to run, so a checklist never passes step 3
on tests nobody ran. ``CheckOptions.run_tests`` (when the options carry it) runs the session
first instead, for a one-command local run.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import sys
from collections.abc import Iterable
from functools import cache
from pathlib import Path

from gymkit import childproc
from gymkit.checks.elsewhere import elsewhere_warning
from gymkit.checks.fixtures import Fixtures
from gymkit.checks.registry import Check, Finding, Skip, problem, register
from gymkit.confine import Confinement
from gymkit.findings import Status
from gymkit.hashing import EARLIER_SCHEME
from gymkit.nemo.detect import nemo_checkout
from gymkit.testing.session import pytest_args

__all__ = ["GYM301", "GYM302", "GYM303", "collect_nemo_tests", "collect_tests", "pytest_command", "stamp_problems"]

TEST_FILE = "tests/test_app.py"


class Step3(Check):
    step = 3


@register
class GYM301(Step3):
    """tests/test_app.py exists"""

    def check(self, fx: Fixtures) -> Iterable[Finding] | Skip:
        """Write `tests/test_app.py` with at least one test of your verify: a correct answer gets reward
        1.0, a wrong one 0.0 (`gymkit new` writes a starting point). In a NeMo Gym checkout, where `ng_test`
        runs pytest on the whole tests folder, tests in another `tests/test_*.py` only warn."""
        if (fx.paths.dir / TEST_FILE).is_file():
            return []
        if fx.gym == "nemo-gym":
            held = {
                path.name: n for path in sorted((fx.paths.dir / "tests").glob("test_*.py")) if (n := _tests_in(path))
            }
            if held:
                shown = ", ".join(f"tests/{name} ({n})" for name, n in held.items())
                return [
                    problem(
                        f"{TEST_FILE} is missing (gymkit's file name; NeMo Gym's ng_test runs the whole tests"
                        f" folder, where the tests are: {shown})",
                        TEST_FILE,
                        level="warn",
                    )
                ]
        return [problem(f"{TEST_FILE} is missing", TEST_FILE)]


def _tests_in(path: Path) -> int:
    """How many tests pytest's default naming finds in a file, read from its source: test_* functions at the
    top, and test_* methods of Test* classes."""
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except (OSError, SyntaxError, ValueError):
        return 0
    functions = (ast.FunctionDef, ast.AsyncFunctionDef)
    count = 0
    for node in tree.body:
        if isinstance(node, functions) and node.name.startswith("test"):
            count += 1
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            count += sum(isinstance(n, functions) and n.name.startswith("test") for n in node.body)
    return count


def pytest_command(server_dir: Path, *args: str) -> tuple[list[str], dict[str, str]]:
    """pytest on a server's tests the way ``gymkit test`` runs it: (command, environment)."""
    cmd = [sys.executable, "-m", "pytest", *pytest_args(server_dir)]
    return [*cmd, *args], {**os.environ, "PYTHONPATH": _python_path(server_dir)}


def _python_path(server_dir: Path) -> str:
    """The server's folder; in a NeMo Gym checkout, then the checkout's root, as ng_test sets it, so tests may
    import a sibling server (gpqa_diamond's `resources_servers.mcqa`). A gymkit gym keeps to the server's folder."""
    checkout = nemo_checkout(server_dir)
    return os.pathsep.join([str(server_dir), *([str(checkout)] if checkout is not None else [])])


def collect_tests(server_dir: Path, timeout: float) -> tuple[list[str], str | None]:
    """Test ids pytest collects from the server's test file, or an explanation of why it could not."""
    cmd, env = pytest_command(server_dir, "--collect-only", "-q", TEST_FILE)
    # Collecting needs no third-party plugins but pytest-asyncio (async tests); skipping the
    # others' start-up cuts a third of the CPU time, which adds up over many servers in CI.
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    if importlib.util.find_spec("pytest_asyncio") is not None:
        cmd[cmd.index("--collect-only") : cmd.index("--collect-only")] = ["-p", "pytest_asyncio.plugin"]
    # Importing the tests runs the server's code: confined (gymkit.confine), and under a
    # supervisor, so a hanging import is stopped with everything it started, also when this
    # process is killed.
    code, output = childproc.run(cmd, cwd=server_dir, env=env, timeout=timeout, confine=Confinement())
    if code is None:
        return [], f"collecting tests took longer than {timeout:.0f}s (an import that hangs?)"
    # stdout and stderr come merged, in order: an id is a line naming the collected file.
    ids = [line for line in output.splitlines() if line.startswith(f"{TEST_FILE}::")]
    if code not in (0, 5):
        return ids, f"collection failed: {_collection_failure(output, code)}"
    return ids, None


def collect_nemo_tests(
    server_dir: Path, timeout: float, notes: list[str] | None = None
) -> tuple[list[str], str | None]:
    """Test ids of a server written for nemo_gym, collected as ``ng_test`` runs them: in the server's NeMo Gym
    environment (built or reused), from its folder. Collected only: running them is ``ng_test``'s job.

    An environment without pytest gets one beside it, as ng_test falls back on the pytest on PATH;
    ``notes`` then receives the warning that says so."""
    from gymkit.errors import UserError
    from gymkit.nemo.environment import prepare_nemo_environment, pytest_beside

    def log(message: str) -> None:
        print(message, file=sys.stderr)

    try:
        env = prepare_nemo_environment(server_dir, log=log)
    except UserError as exc:
        return [], f"the server's NeMo Gym environment could not be built: {exc.message}"
    # An absolute verbosity, not -q: NeMo Gym 0.5's addopts carry --verbose, which a -q only cancels,
    # and pytest then prints the collection tree instead of one id a line.
    cmd = [str(env.python), "-m", "pytest", "-p", "no:cacheprovider", "--collect-only", "--verbosity=-1"]
    variables = env.variables(PYTHONPATH=_python_path(server_dir))
    code, output = childproc.run(cmd, cwd=server_dir, env=variables, timeout=timeout, confine=Confinement())
    if code not in (None, 0, 5) and _lacks_pytest(output):
        try:
            beside = pytest_beside(env, log=lambda message: log(f"[{server_dir.name}] {message}"))
        except UserError as exc:
            return [], f"{_NO_PYTEST} in the server's environment, and {exc.message}"
        if notes is not None:
            notes.append(_NO_PYTEST_RULE)
        # Last on sys.path, not first on PYTHONPATH: pytest's own dependencies (packaging, pluggy...)
        # must not shadow the versions the server's requirements chose.
        appended = [str(env.python), "-c", _PYTEST_APPENDED, str(beside), *cmd[3:]]
        code, output = childproc.run(appended, cwd=server_dir, env=variables, timeout=timeout, confine=Confinement())
    if code is None:
        return [], f"collecting tests took longer than {timeout:.0f}s (an import that hangs?)"
    ids = [line for line in output.splitlines() if "::" in line and not line.startswith(("E ", " "))]
    if code not in (0, 5):
        return ids, f"collection in the NeMo Gym environment failed: {_collection_failure(output, code)}"
    return ids, None


_INTERNAL = "INTERNALERROR>"
_NO_PYTEST = "No module named pytest"
_NO_PYTEST_RULE = (
    "the server's requirements do not install pytest, so its tests cannot run in its own venv (NeMo Gym's"
    " template writes `-e nemo-gym[dev] @ ../../`, whose dev extra brings it; without it ng_test runs whichever"
    " pytest is on PATH): collected with pytest installed beside the environment (gymkit's rule: a server's"
    " venv runs its own tests)"
)
# `python -c` with the folder as its first argument, then pytest's: the folder goes last on sys.path.
_PYTEST_APPENDED = (
    "import sys; sys.path.append(sys.argv.pop(1)); import pytest; raise SystemExit(pytest.console_main())"
)


def _lacks_pytest(output: str) -> bool:
    """Whether ``python -m pytest`` failed for want of pytest itself (not a test's own missing 'pytest_x')."""
    return any(line.strip().endswith(f": {_NO_PYTEST}") for line in output.splitlines())


_EXCEPTION = re.compile(r"^[\w.]*(?:Error|Exception|Exit|Interrupt)\b")


def _collection_failure(output: str, code: int) -> str:
    """Why pytest could not collect, in its own words: an import's error line, a conftest's exception."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line[2:].strip() for line in lines if line.startswith("E ")]
    if errors:
        # The exception's own line, not the last line of a message that runs over several.
        raised = [line for line in errors if _EXCEPTION.match(line)]
        return (raised or errors)[-1]
    # A conftest that raises in pytest_configure: pytest prints the traceback as INTERNALERROR lines.
    internal = [line[len(_INTERNAL) :].strip() for line in lines if line.startswith(_INTERNAL)]
    internal = [line for line in internal if line and not line.startswith(("File ", "^", "raise ", "return "))]
    raised = [line for line in internal if _EXCEPTION.match(line)]
    if raised or internal:
        return (raised or internal)[-1]
    return f"pytest exited with {code}" + (f": {lines[-1]}" if lines else "")


def _collected(fx: Fixtures) -> tuple[list[str], str | None, list[str]]:
    """The test ids, why collection failed, and what to warn of even where it worked."""

    def collect() -> tuple[list[str], str | None, list[str]]:
        notes: list[str] = []
        if fx.server_kind == "nemo_gym":
            return (*collect_nemo_tests(fx.paths.dir, fx.options.collect_timeout, notes), notes)
        return (*collect_tests(fx.paths.dir, fx.options.collect_timeout), notes)

    return fx.memo("collected_tests", collect)


def _needs_environment(fx: Fixtures) -> bool:
    return fx.server_kind == "nemo_gym" and not fx.options.reverify


@register
class GYM302(Step3):
    """pytest collects at least one test from tests/test_app.py"""

    requires = frozenset({"GYM301"})
    slow = True

    @classmethod
    def prefetch(cls, fx: Fixtures) -> None:
        if not _needs_environment(fx):
            _collected(fx)

    def check(self, fx: Fixtures) -> Iterable[Finding] | Skip:
        """Run `python -m pytest --collect-only tests/test_app.py` in the server folder and fix what it
        reports; test functions are named `test_*` and the file imports without errors. A server written
        for nemo_gym is collected in its NeMo Gym environment, as `ng_test` runs it."""
        if _needs_environment(fx):
            # Building an upstream server's environment costs what starting it does.
            return Skip("collecting needs the server's NeMo Gym environment; built with --reverify only")
        ids, error, notes = _collected(fx)
        # Upstream's ng_test passes such a server; a gym of gymkit's own holds its servers to the rule.
        warned = [problem(note, TEST_FILE, level="warn" if fx.gym == "nemo-gym" else "fail") for note in notes]
        if error:
            found = elsewhere_warning(fx, "collecting the tests", [error], TEST_FILE)
            return warned + (found or _read_only_finding(fx, error) or [problem(error, TEST_FILE)])
        if not ids:
            return [*warned, problem("pytest collected no tests", TEST_FILE)]
        return warned


_DENIED = re.compile(r"PermissionError: \[Errno 13\] Permission denied: (?:'([^']+)'|\"([^\"]+)\")")


def _read_only_finding(fx: Fixtures, error: str) -> list[Finding] | None:
    """Collection that failed writing into the server's own folder, which the sandbox keeps read-only."""
    denied = _DENIED.search(error)
    if denied is None:
        return None
    # pytest runs in the server's folder: a relative path is there. normpath, so '..' cannot lead out unseen.
    written = Path(os.path.normpath(fx.paths.dir / (denied.group(1) or denied.group(2))))
    folder = Path(os.path.normpath(fx.paths.dir))
    if written == folder or not written.is_relative_to(folder):
        return None
    where = written.relative_to(folder)
    message = (
        f"collecting the tests writes {where} into the server's folder, which gymkit's sandbox keeps read-only"
        " so that the code it runs cannot change what the checks read"
    )
    if fx.gym == "nemo-gym":
        message += " (gymkit's rule; NeMo Gym's ng_test lets a server's tests write there): run ng_test to collect them"
        return [problem(message, TEST_FILE, level="warn")]
    return [problem(message + "; write to a temporary folder (pytest's tmp_path) instead", TEST_FILE)]


def _command(name: str) -> str:
    return f"gymkit test {name}"


def stamp_problems(server_dir: Path) -> list[Finding]:
    """What keeps the last ``gymkit test`` result from counting for the code as it is now."""
    from gymkit.testing.stamp import changed_files, fingerprint_digests, read_stamp, stamp_path

    name = server_dir.name
    stamp, error = read_stamp(server_dir)
    where = str(stamp_path(server_dir))
    if error:
        return [problem(f"the result of `{_command(name)}` is unreadable ({error}); run it again", where)]
    if stamp is None:
        return [problem(f"no result of `{_command(name)}` for this server yet: run it (CI runs it before the check)")]
    digests, files = fingerprint_digests(server_dir)
    if stamp.code_sha256 not in digests:
        changed = changed_files(stamp.files, files)
        shown = ", ".join(changed[:5]) + (f" and {len(changed) - 5} more" if len(changed) > 5 else "")
        since = f" ({shown})" if shown else ""
        return [problem(f"the code changed since `{_command(name)}` ran at {stamp.created_at}{since}; run it again")]
    if not stamp.passed:
        failed = ", ".join(stamp.failures())
        return [
            problem(
                f"`{_command(name)}` failed at {stamp.created_at}: {failed}; run it, its FAILED lines say how to rerun"
            )
        ]
    tests = stamp.stages["tests"].counts or {}
    if not tests.get("passed"):
        return [problem(f"`{_command(name)}` passed without running a test; add tests to {TEST_FILE}", TEST_FILE)]
    return [] if stamp.code_sha256 == digests[0] else [Finding("", 0, Status.PASS, EARLIER_SCHEME, where)]


@cache
def _ran_session(server_dir: Path) -> tuple[int, str]:
    # Once per server per process: prefetch and check both ask.
    # gymkit's own process, not confined (it writes the stamp; the stages it starts are); under
    # a supervisor so that it and the server code it runs end with this process.
    cmd = [sys.executable, "-m", "gymkit", "test", str(server_dir)]
    code, output = childproc.run(cmd)
    return (code if code is not None else 1), output


@register
class GYM303(Step3):
    """the last `gymkit test NAME` ran on this code and its tests, smoke test and data validation passed"""

    requires = frozenset({"GYM301"})
    slow = True

    @classmethod
    def prefetch(cls, fx: Fixtures) -> None:
        if getattr(fx.options, "run_tests", False) and any(f.status.notable for f in stamp_problems(fx.paths.dir)):
            _ran_session(fx.paths.dir.resolve())

    def check(self, fx: Fixtures) -> Iterable[Finding] | Skip:
        """Run `gymkit test NAME` (or `nox -s "test-server(NAME)"`) and fix what its FAILED lines report: it
        tests the server in its own environment and records the result in .gymkit-cache/tests/NAME.json, which
        this check reads. A result counts only for the code it tested: after an edit, run it again."""
        self.prefetch(fx)
        found = stamp_problems(fx.paths.dir)
        if fx.gym == "nemo-gym":
            # NeMo Gym's own gate is `ng_test`, which leaves no record gymkit could read.
            upstream = f"; NeMo Gym requires `ng_test +entrypoint=resources_servers/{fx.paths.name}` to pass instead"
            return [problem(f.message + upstream, f.file, f.line, level="warn") for f in found if f.status.notable]
        return found
