"""The `all-green` job's script, run under bash as GitHub runs it, over job-result combinations."""

from __future__ import annotations

import os
import subprocess

import pytest

from .workflows import load

ONE = '["alpha"]'
TWO = '["alpha", "beta"]'


def _gate_script() -> str:
    (step,) = load("pr.yml")["jobs"]["all-green"]["steps"]
    return str(step["run"])


def _decide(
    changes: str, servers: str, server_jobs: str, direct: str, pr_body: str
) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ["PATH"],
        "CHANGES": changes,
        "SERVERS": servers,
        "SERVER_JOBS": server_jobs,
        "DIRECT": direct,
        "PR_BODY": pr_body,
    }
    # GitHub's `shell: bash` is `bash --noprofile --norc -eo pipefail {0}`.
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", _gate_script()],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize(
    ("changes", "servers", "server_jobs", "direct", "pr_body"),
    [
        pytest.param("success", ONE, "success", ONE, "success", id="server-added-all-passed"),
        pytest.param("success", "[]", "skipped", "[]", "skipped", id="no-server-changed"),
        pytest.param("success", TWO, "success", "[]", "skipped", id="gymkit-only-change"),
    ],
)
def test_green(changes: str, servers: str, server_jobs: str, direct: str, pr_body: str) -> None:
    done = _decide(changes, servers, server_jobs, direct, pr_body)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "every required step passed" in done.stdout


@pytest.mark.parametrize(
    ("changes", "servers", "server_jobs", "direct", "pr_body", "reason"),
    [
        pytest.param("success", ONE, "failure", ONE, "success", "server checks: failure", id="a-server-failed"),
        pytest.param("success", ONE, "cancelled", ONE, "success", "server checks: cancelled", id="cancelled"),
        pytest.param("success", ONE, "skipped", ONE, "success", "server checks: skipped", id="matrix-skipped"),
        pytest.param("success", ONE, "success", ONE, "failure", "PR description: failure", id="pr-body-failed"),
        pytest.param("success", ONE, "success", ONE, "skipped", "PR description: skipped", id="pr-body-skipped"),
        pytest.param("failure", "", "skipped", "", "skipped", "finding changed servers: failure", id="detect-failed"),
        pytest.param("success", "", "skipped", "", "skipped", "no server list", id="empty-output"),
        pytest.param("success", "[]", "failure", "[]", "skipped", "ran with no server", id="impossible-combo"),
    ],
)
def test_red(changes: str, servers: str, server_jobs: str, direct: str, pr_body: str, reason: str) -> None:
    done = _decide(changes, servers, server_jobs, direct, pr_body)
    assert done.returncode == 1
    assert done.stdout.startswith("::error::")
    assert reason in done.stdout
