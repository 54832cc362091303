"""The server refuses to start, in one line, when the kernel cannot give the sandbox a layer it needs.

The missing mechanism is real, not simulated: inside a user namespace of its own the test
sets the per-namespace limit (``/proc/sys/user/max_*_namespaces``) to 0, so the kernel itself
refuses the namespace the harness asks for, only for this process tree.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import sandbox_confine
from sandbox_runner import SandboxRun, SandboxUnavailableError, _classify, _parse_report

SERVER_DIR = Path(__file__).resolve().parent.parent
ROOT = SERVER_DIR.parent.parent


def _with_zero(limit: str, *command: str) -> subprocess.CompletedProcess[str]:
    if shutil.which("unshare") is None:
        pytest.skip("needs util-linux unshare")
    script = f'echo 0 > /proc/sys/user/{limit} && exec "$@"'
    result = subprocess.run(
        ["unshare", "--user", "--map-root-user", "sh", "-c", script, "sh", *command],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ROOT,
    )
    if "unshare failed" in result.stderr:
        pytest.skip("no user namespaces here to test with")
    if "cannot open /proc/self/uid_map" in result.stderr:
        # Inside a Landlock domain (gymkit test's confinement) /proc refuses writes: no id map, no test root.
        pytest.skip("cannot map a test root user inside this Landlock domain")
    return result


def test_the_server_refuses_to_start_without_namespaces() -> None:
    result = _with_zero("max_net_namespaces", sys.executable, "-m", "gymkit", "serve", str(SERVER_DIR), "--port", "0")
    assert result.returncode != 0 and "gymkit: serving" not in result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert "python_sandbox: cannot create network/PID/mount namespaces" in lines[-1], result.stderr[-2000:]
    assert "\n" not in lines[-1]


def test_without_user_namespaces_the_reason_names_the_setting_to_change() -> None:
    code = (
        "import sys, tempfile; sys.path.insert(0, sys.argv[1]); import sandbox_confine as c\n"
        "try:\n    c.enter_namespaces(False, tempfile.gettempdir(), 1000, network=True)\n"
        "except c.Unavailable as exc:\n    print(exc)"
    )
    result = _with_zero("max_user_namespaces", sys.executable, "-I", "-c", code, str(SERVER_DIR))
    assert "cannot create an unprivileged user namespace" in result.stdout, result
    assert "user.max_user_namespaces" in result.stdout


def test_an_old_landlock_is_refused_with_the_version_needed() -> None:
    with pytest.raises(sandbox_confine.Unavailable, match=r"Landlock ABI >= 3 .*this kernel: ABI 2"):
        sandbox_confine.landlock_ruleset(2, [], "/tmp")
    with pytest.raises(sandbox_confine.Unavailable, match="not enabled"):
        sandbox_confine.landlock_ruleset(0, [], "/tmp")


def test_a_harness_that_reports_unavailable_fails_the_verify_instead_of_scoring() -> None:
    run = SandboxRun(status="crashed")
    report = _parse_report('{"unavailable": "python_sandbox: no seccomp"}\n')
    with pytest.raises(SandboxUnavailableError, match="no seccomp"):
        _classify(run, 96, timed_out=False, done=False, report=report)


def test_only_the_report_pipe_can_say_unavailable() -> None:
    # The exit status and stderr are the submission's to choose; they alone are a crash.
    run = SandboxRun(status="crashed", detail="python_sandbox: no seccomp")
    _classify(run, 96, timed_out=False, done=False, report=_parse_report('{"layers": ["rlimits"]}\n'))
    assert run.status == "crashed"
