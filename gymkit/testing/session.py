"""One server's test session: its environment, then its tests with the smoke test and data validation alongside.

Every stage runs whatever the others found, so one run reports everything wrong; a failed
stage prints the command that runs it again by hand, in the same environment.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import tempfile
import time
from pathlib import Path

from gymkit import childproc
from gymkit.confine import Confinement
from gymkit.errors import UserError
from gymkit.testing.background import Background
from gymkit.testing.environment import CACHE_DIR, Environment, GymkitSource, gymkit_source, prepare_environment
from gymkit.testing.stamp import StageResult, TestStamp, code_fingerprint, gym_root, write_stamp

__all__ = ["environment_dir", "log", "pytest_args", "run_session"]


def log(message: str) -> None:
    print(f"gymkit > {message}", flush=True)


def environment_dir(root: Path, name: str) -> Path:
    return root / CACHE_DIR / "envs" / name


def pytest_args(server_dir: Path) -> list[str]:
    """pytest's options for a server's tests, run from the server's folder."""
    # A conftest.py above the server (resources_servers/conftest.py, the gym's root) would be
    # loaded into every server's tests, and a pull request could make them all pass with one.
    confined = ["-p", "no:cacheprovider", "--confcutdir", "."]
    own_config = ("pytest.ini", ".pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg")
    if any((server_dir / name).is_file() for name in own_config):
        return confined
    # Without a config of its own, pytest would climb to the gym's pyproject.toml and apply
    # gymkit's own settings (warnings as errors, ...) to the server's tests; keep them apart.
    isolated = "--rootdir . -o asyncio_mode=auto -o asyncio_default_fixture_loop_scope=function"
    return ["-c", os.devnull, *confined, *isolated.split()]


def _counts(path: Path) -> dict[str, int] | None:
    """passed, failed, errors, skipped as gymkit.testing.counts wrote them (None when pytest did not get that far).

    The file is in the tests' own temp folder, so the tests may have put anything there: only a
    small regular file is read, never through a link or from a FIFO that would block.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        counts = json.loads(os.read(fd, 4096).decode("utf-8"))
        return {key: int(counts.get(key, 0)) for key in ("passed", "failed", "errors", "skipped")}
    except (OSError, ValueError, TypeError, AttributeError):
        return None
    finally:
        os.close(fd)


def _has_tests(server_dir: Path) -> bool:
    return any(server_dir.glob("tests/**/test_*.py")) or any(server_dir.glob("test_*.py"))


class _Run:
    def __init__(self, root: Path, server_dir: Path, pytest_options: list[str]) -> None:
        self.root = root
        self.dir = server_dir
        self.name = server_dir.name
        self.options = pytest_options
        self.rel = os.path.relpath(server_dir, root)

    def tests(self, env: Environment, result: StageResult) -> None:
        name = self.name
        if not _has_tests(self.dir):
            log(f"[{name}] 1/3 tests: FAILED; no test files in {self.rel}/tests/ (add test_app.py)")
            result.status, result.detail = "failed", "no test files"
            return
        pytest = [*pytest_args(self.dir), *self.options]
        log(f"[{name}] 1/3 tests: running: python -m pytest {' '.join(pytest)}".rstrip())
        started = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="gymkit-test-") as tmp:
            counts = Path(tmp) / "counts.json"
            # Confined to its temp folder (gymkit.confine): the tests cannot touch the checkout,
            # the environment or the stamp, which this process writes once they are over.
            sys.stdout.flush()
            ran, _ = childproc.run(
                [str(env.python), "-m", "pytest", "-p", "gymkit.testing.counts", *pytest],
                cwd=self.dir,
                env=env.variables(PYTHONPATH=str(self.dir), GYMKIT_TEST_COUNTS=str(counts)),
                output="inherit",
                confine=Confinement(tmp=Path(tmp)),
            )
            code = ran if ran is not None else 1
            result.counts = _counts(counts)
        result.seconds = time.perf_counter() - started
        result.status = "passed" if code == 0 else "failed"
        if code == 5:
            result.detail = "pytest collected no tests"
        log(f"[{name}] 1/3 tests: {result.status if code == 0 else 'FAILED'} in {result.seconds:.2f} s")
        if code:
            python = os.path.relpath(env.python, self.dir)
            command = " ".join([python, "-m", "pytest", *pytest])
            log(f"[{name}] 1/3 tests: FAILED; reproduce by hand: cd {self.rel} && {command}")

    def smoke_and_data(self, alongside: Background, env: Environment, smoke: StageResult, data: StageResult) -> None:
        name = self.name
        code, output = alongside.finish()
        log(f"[{name}] 2/3 smoke and 3/3 data: output")
        sys.stdout.write(output)
        sys.stdout.flush()
        # The exit status says which of the two failed: 1 smoke, 2 data, 3 both.
        log(f"[{name}] 2/3 smoke and 3/3 data: {'passed' if code == 0 else 'FAILED'} in {alongside.seconds:.2f} s")
        gymkit = os.path.relpath(env.bin / "gymkit", self.root)
        for bit, stage, result, command in ((1, "2/3 smoke", smoke, "smoke"), (2, "3/3 data", data, "validate-data")):
            result.seconds = alongside.seconds
            result.status = "failed" if code & bit or code < 0 else "passed"
            if result.status == "failed":
                log(f"[{name}] {stage}: FAILED; reproduce by hand: {gymkit} {command} {self.rel}")

    def run(self, source: GymkitSource | None) -> TestStamp:
        started = time.perf_counter()
        code_sha, files = code_fingerprint(self.dir)
        stamp = TestStamp(self.name, code_sha, files)
        stages = stamp.stages
        location = environment_dir(self.root, self.name)
        try:
            source = source or gymkit_source(self.root)
            env = prepare_environment(location, self.dir, source, log=log, label=self.name, root=self.root)
        except UserError as exc:
            stages["environment"] = StageResult("failed", time.perf_counter() - started, exc.message)
            self._finish(stamp, started)
            raise
        stages["environment"] = StageResult("passed", time.perf_counter() - started)
        # Smoke test and data validation share one process (the gymkit command would load all
        # of its subcommands, twice); they do not depend on the tests, so they run meanwhile.
        smoke_and_data = [str(env.python), "-m", "gymkit.smoke", self.rel, "--data"]
        shown = " ".join(["python", *smoke_and_data[1:]])
        log(f"[{self.name}] 2/3 smoke and 3/3 data: started alongside the tests: {shown}")
        with Background(smoke_and_data, cwd=self.root, env=env.variables()) as alongside:
            self.tests(env, stages["tests"])
            self.smoke_and_data(alongside, env, stages["smoke"], stages["data"])
        return self._finish(stamp, started)

    def _finish(self, stamp: TestStamp, started: float) -> TestStamp:
        stamp.duration_seconds = time.perf_counter() - started
        if self.options:
            # Options such as -k or a test path run part of the suite: no evidence for the whole.
            log(f"[{self.name}] result: not recorded (pytest options {' '.join(self.options)} may select part)")
        else:
            path = write_stamp(self.dir, stamp)
            log(f"[{self.name}] result: {'passed' if stamp.passed else 'FAILED'}; {os.path.relpath(path, self.root)}")
        return stamp


def run_session(server_dir: Path, pytest_options: list[str] | None = None) -> TestStamp:
    """Run one server's session; raises UserError naming the stages that failed."""
    server_dir = server_dir.resolve()
    stamp = _Run(gym_root(server_dir), server_dir, list(pytest_options or [])).run(None)
    if not stamp.passed:
        failed = ", ".join(name for name, stage in stamp.stages.items() if stage.status == "failed")
        raise UserError(f"[{server_dir.name}] failed: {failed}; the FAILED lines above say where and how to rerun")
    return stamp
