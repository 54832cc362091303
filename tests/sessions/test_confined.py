"""A server's code cannot change what the checklist decides: the attack a reviewer ran, run again for real.

The gym is a copy of this repository (gymkit's own code included, as in a CI checkout), and
gymkit runs from that copy (PYTHONPATH), so a write to ``gymkit/checks/runner.py`` there would
change the checker that runs next, as it did in CI before server code was confined.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from gymkit import confine
from gymkit.testing.stamp import stamp_path

from .builders import REPO, add_server

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(confine.landlock_abi() < confine.MIN_ABI, reason="needs Landlock"),
]

PATCHED = "            outcome = []  # PWNED\n"
ORIGINAL = "            outcome = cls().check(self.fx)\n"

EVIL_TESTS = f"""\
import json
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[3]


def test_zz_patch_the_checker():
    runner = ROOT / "gymkit" / "checks" / "runner.py"
    text = runner.read_text()
    if "PWNED" not in text:
        runner.write_text(text.replace({ORIGINAL!r}, {PATCHED!r}))


def test_zz_forge_the_stamp():
    stamp = ROOT / ".gymkit-cache" / "tests" / "evil.json"
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.write_text(json.dumps({{"forged": True}}))
"""


def _copy_gym(dest: Path) -> Path:
    junk = shutil.ignore_patterns(".git", ".venv", ".gymkit-cache", ".nox", "__pycache__", ".*_cache", "reports")
    shutil.copytree(REPO, dest, ignore=junk, symlinks=True)
    return dest


def _gymkit(root: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 900) -> tuple[int, str]:
    base = {k: v for k, v in os.environ.items() if k not in ("GYMKIT_SOURCE", "GYMKIT_CONFINE", "CI")}
    proc = subprocess.run(
        [sys.executable, "-m", "gymkit", *args],
        cwd=root,
        env={**base, "PYTHONPATH": str(root), "NO_COLOR": "1", **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        check=False,
    )
    return proc.returncode, proc.stdout


def _summary(output: str) -> str:
    return next(line for line in reversed(output.splitlines()) if line.startswith("1 server:"))


def test_a_server_test_can_no_longer_patch_the_checker_or_forge_its_stamp(tmp_path: Path) -> None:
    root = _copy_gym(tmp_path / "gym")
    for reference in [p for p in (root / "resources_servers").iterdir() if p.is_dir()]:
        shutil.rmtree(reference)
    add_server(root, "evil", tests={"test_app.py": EVIL_TESTS})
    runner = root / "gymkit" / "checks" / "runner.py"
    original = runner.read_bytes()
    assert ORIGINAL.encode() in original  # the line the attack rewrites is still there to rewrite

    code, tested = _gymkit(root, "test", "evil")
    assert code == 1, tested
    # Both writes failed inside the test, with the kernel's answer.
    assert tested.count("PermissionError: [Errno 13] Permission denied") >= 2, tested
    assert runner.read_bytes() == original
    # The stamp is gymkit's, written after the tests ended: an honest failure, not the forgery.
    stamp = json.loads(stamp_path(root / "resources_servers" / "evil").read_text())
    assert "forged" not in stamp and stamp["passed"] is False
    assert stamp["stages"]["tests"]["counts"]["failed"] == 2, stamp

    code, checked = _gymkit(root, "check", "evil")
    assert code == 1, checked
    assert "GYM210 README.md is missing" in checked and "GYM303" in checked, checked
    honest = _summary(checked)
    assert not honest.startswith("1 server: 0 failed"), honest

    # The same attack with confinement switched off (allowed outside CI): it works, so the
    # test above stopped a real attack and not one that could never have succeeded.
    code, tested = _gymkit(root, "test", "evil", env={"GYMKIT_CONFINE": "0"})
    assert b"PWNED" in runner.read_bytes(), tested
    code, checked = _gymkit(root, "check", "evil")
    assert code == 0 and _summary(checked).startswith("1 server: 0 failed"), checked


SLEEPING_CONFTEST = """\
import time

time.sleep(90)
"""


def _marked(marker: str) -> list[int]:
    """Processes whose environment carries ``marker`` (everything the run under test started)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                if marker.encode() in Path(f"/proc/{entry}/environ").read_bytes():
                    found.append(int(entry))
            except OSError:
                continue
    return found


def test_kill_9_of_gymkit_check_while_collecting_leaves_no_process(tmp_path: Path) -> None:
    (tmp_path / "resources_servers").mkdir()
    server = add_server(tmp_path, "sleepy")
    (server / "tests" / "conftest.py").write_text(SLEEPING_CONFTEST)
    marker = f"GYMKIT_TEST_MARKER={uuid.uuid4().hex}"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "CI")}
    env[marker.split("=")[0]] = marker.split("=")[1]
    check = subprocess.Popen(
        [sys.executable, "-m", "gymkit", "check", "sleepy", "--select", "GYM302"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        # Wait for the collecting pytest (the check, its supervisor, and pytest carry the marker).
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(_collecting(_cmdline(p)) for p in _marked(marker)):
            time.sleep(0.2)
        assert len(_marked(marker)) >= 3, "the collection never started"
        pytest_pid = next(p for p in _marked(marker) if _collecting(_cmdline(p)))
        environ = Path(f"/proc/{pytest_pid}/environ").read_bytes().split(b"\0")
        private_tmp = Path(next(v for v in environ if v.startswith(b"TMPDIR="))[7:].decode())
        assert private_tmp.is_dir()
        os.kill(check.pid, signal.SIGKILL)
        check.wait(timeout=10)
        deadline = time.monotonic() + 15
        while _marked(marker) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _marked(marker) == []
        assert not private_tmp.exists()  # the supervisor removed the collection's temp folder
    finally:
        for pid in _marked(marker):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if check.poll() is None:
            check.kill()
            check.wait()


def _collecting(cmdline: bytes) -> bool:
    # The pytest itself, not its supervisor (whose command line ends with pytest's).
    return b"--collect-only" in cmdline and b"gymkit.childproc" not in cmdline


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""  # already gone


def test_a_collection_past_its_timeout_is_stopped_with_everything_it_started(tmp_path: Path) -> None:
    from gymkit.checks.step3_testing import collect_tests

    (tmp_path / "resources_servers").mkdir()
    server = add_server(tmp_path, "sleepy")
    (server / "tests" / "conftest.py").write_text(SLEEPING_CONFTEST)
    marker = uuid.uuid4().hex
    os.environ["GYMKIT_TEST_MARKER"] = marker
    try:
        started = time.monotonic()
        ids, error = collect_tests(server, timeout=3)
    finally:
        del os.environ["GYMKIT_TEST_MARKER"]
    assert ids == [] and error is not None and "longer than 3s" in error
    assert time.monotonic() - started < 20
    assert _marked(f"GYMKIT_TEST_MARKER={marker}") == []
