"""The `all-green` job's script, run under bash as GitHub runs it, over job-result combinations.

Then whole pull requests: `gymkit changed --github-output` on a real repository, the job
results GitHub would give from the workflow's `if:` conditions, and the same script.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gymkit.cli import app

from .conftest import GitRepo
from .workflows import load, tool

ONE = '["alpha"]'
TWO = '["alpha", "beta"]'


def _gate_script() -> str:
    (step,) = load("pr.yml")["jobs"]["all-green"]["steps"]
    return str(step["run"])


def _decide(
    changes: str,
    selection: str,
    servers: str,
    server_jobs: str,
    direct: str,
    pr_body: str,
    reason: str = "because",
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ["PATH"],
        "CHANGES": changes,
        "SELECTION": selection,
        "REASON": reason,
        "SERVERS": servers,
        "SERVER_JOBS": server_jobs,
        "DIRECT": direct,
        "PR_BODY": pr_body,
    }
    # GitHub's `shell: bash` is `bash --noprofile --norc -eo pipefail {0}`.
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", _gate_script()],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize(
    ("changes", "selection", "servers", "server_jobs", "direct", "pr_body"),
    [
        pytest.param("success", "some", ONE, "success", ONE, "success", id="server-added-all-passed"),
        pytest.param("success", "none", "[]", "skipped", "[]", "skipped", id="no-server-changed"),
        pytest.param("success", "all", TWO, "success", "[]", "skipped", id="gymkit-only-change"),
        pytest.param("success", "all", TWO, "success", ONE, "success", id="gymkit-and-a-server"),
    ],
)
def test_green(changes: str, selection: str, servers: str, server_jobs: str, direct: str, pr_body: str) -> None:
    done = _decide(changes, selection, servers, server_jobs, direct, pr_body)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "every required step passed" in done.stdout


@pytest.mark.parametrize(
    ("changes", "selection", "servers", "server_jobs", "direct", "pr_body", "reason"),
    [
        pytest.param("success", "some", ONE, "failure", ONE, "success", "server checks: failure", id="a-server-failed"),
        pytest.param("success", "some", ONE, "cancelled", ONE, "success", "server checks: cancelled", id="cancelled"),
        pytest.param("success", "some", ONE, "skipped", ONE, "success", "server checks: skipped", id="matrix-skipped"),
        pytest.param("success", "all", TWO, "skipped", "[]", "skipped", "server checks: skipped", id="all-skipped"),
        pytest.param("success", "some", ONE, "success", ONE, "failure", "PR description: failure", id="body-failed"),
        pytest.param("success", "some", ONE, "success", ONE, "skipped", "PR description: skipped", id="body-skipped"),
        pytest.param(
            "failure", "", "", "skipped", "", "skipped", "finding changed servers: failure", id="detect-failed"
        ),
        pytest.param("cancelled", "", "", "skipped", "", "skipped", "finding changed servers", id="detect-cancelled"),
        pytest.param("success", "", "", "skipped", "", "skipped", "no server list", id="empty-output"),
        # What the detection before `selection` left behind: an empty list and nothing run.
        pytest.param("success", "", "[]", "skipped", "[]", "skipped", "gave no verdict", id="no-verdict"),
        pytest.param("success", "maybe", "[]", "skipped", "[]", "skipped", "gave no verdict", id="unknown-verdict"),
        pytest.param("success", "none", ONE, "skipped", "[]", "skipped", "said none but listed", id="none-but-listed"),
        pytest.param("success", "none", "[]", "skipped", ONE, "skipped", "said none but listed", id="none-but-direct"),
        pytest.param("success", "some", "[]", "skipped", "[]", "skipped", "listed no server", id="some-but-empty"),
        pytest.param("success", "all", "[]", "skipped", "[]", "skipped", "listed no server", id="all-but-empty"),
        pytest.param("success", "none", "[]", "failure", "[]", "skipped", "ran with no server", id="ran-for-none"),
        pytest.param("success", "none", "[]", "skipped", "[]", "success", "ran with no server", id="body-for-none"),
        pytest.param("success", "some", "alpha", "success", ONE, "success", "no server list", id="not-a-list"),
        pytest.param("success", "all", TWO, "success", "[]", "failure", "no server of its own", id="body-ran-anyway"),
    ],
)
def test_red(
    changes: str, selection: str, servers: str, server_jobs: str, direct: str, pr_body: str, reason: str
) -> None:
    done = _decide(changes, selection, servers, server_jobs, direct, pr_body)
    assert done.returncode == 1
    assert done.stdout.startswith("::error::")
    assert reason in done.stdout


def test_reason_is_printed_never_run(tmp_path: Path) -> None:
    # Detection's reason can hold a path from the PR; it reaches the script as data only.
    done = _decide(
        "success", "none", "[]", "skipped", "[]", "skipped", reason="$(touch pwned) `touch pwned2`", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert "$(touch pwned)" in done.stdout
    assert not list(tmp_path.iterdir())


def test_gate_reads_what_detection_writes() -> None:
    jobs = load("pr.yml")["jobs"]
    outputs = jobs["changes"]["outputs"]
    assert outputs == {
        name: f"${{{{ steps.changed.outputs.{name} }}}}" for name in ("servers", "direct", "selection", "reason")
    }
    (step,) = [s for s in jobs["changes"]["steps"] if s.get("id") == "changed"]
    assert '--github-output "$GITHUB_OUTPUT"' in step["run"]
    env = jobs["all-green"]["steps"][0]["env"]
    for variable, name in (
        ("SELECTION", "selection"),
        ("REASON", "reason"),
        ("SERVERS", "servers"),
        ("DIRECT", "direct"),
    ):
        assert env[variable] == f"${{{{ needs.changes.outputs.{name} }}}}"
    assert env["CHANGES"] == "${{ needs.changes.result }}"
    assert env["SERVER_JOBS"] == "${{ needs.server.result }}"
    assert env["PR_BODY"] == "${{ needs.pr-body.result }}"


# --- whole pull requests: detection, the jobs' `if:`, the gate ---------------------------

runner = CliRunner()
_RUNS_UNLESS_EMPTY = re.compile(r"^needs\.changes\.outputs\.(\w+) != '\[\]'$")


def _condition(job: str) -> str:
    """Which detection output decides whether ``job`` runs (its `if:` must keep this shape)."""
    match = _RUNS_UNLESS_EMPTY.match(load("pr.yml")["jobs"][job]["if"])
    assert match, f"{job}: the `if:` this test understands changed; update _condition"
    return match.group(1)


def _pipeline(repo: GitRepo, tmp_path: Path, check_outcome: str = "success") -> subprocess.CompletedProcess[str]:
    """The gate's verdict on the PR branch `pr`, when every job that runs ends with ``check_outcome``."""
    out = tmp_path / "github_output"
    done = runner.invoke(
        app, ["changed", "--base", "main", "--head", "pr", "--github-output", str(out), "--repo", str(repo.root)]
    )
    detected = dict(line.split("=", 1) for line in out.read_text().splitlines()) if out.exists() else {}
    changes = "success" if done.exit_code == 0 else "failure"

    def result(job: str) -> str:
        # A job whose `needs` failed is skipped; so is one whose `if:` is false.
        if changes != "success" or detected.get(_condition(job)) == "[]":
            return "skipped"
        return check_outcome

    return _decide(
        changes,
        detected.get("selection", ""),
        detected.get("servers", ""),
        result("server"),
        detected.get("direct", ""),
        result("pr-body"),
        reason=detected.get("reason", ""),
    )


def test_pr_a_server_replaced_by_a_link_is_red(repo: GitRepo, tmp_path: Path) -> None:
    repo.git("checkout", "-q", "-b", "pr")
    repo.write("vendor/alpha/app.py", "edited\n")
    repo.git("rm", "-q", "-r", "resources_servers/alpha")
    repo.link("resources_servers/alpha", "../vendor/alpha")
    repo.commit("(a)")
    done = _pipeline(repo, tmp_path)
    assert done.returncode == 1
    assert "finding changed servers: failure" in done.stdout


def test_pr_a_new_server_as_a_link_is_red(repo: GitRepo, tmp_path: Path) -> None:
    repo.git("checkout", "-q", "-b", "pr")
    repo.write("vendor/gamma/app.py")
    repo.link("resources_servers/gamma", "../vendor/gamma")
    repo.commit("(b)")
    assert _pipeline(repo, tmp_path).returncode == 1


@pytest.mark.parametrize("path", ["resources_servers/conftest.py", "conftest.py"])
def test_pr_a_conftest_above_the_servers_needs_every_server_checked(repo: GitRepo, tmp_path: Path, path: str) -> None:
    repo.git("checkout", "-q", "-b", "pr")
    repo.write(path, "def pytest_collection_modifyitems(items):\n    items.clear()\n")
    repo.commit("(c)")
    passed = _pipeline(repo, tmp_path, check_outcome="success")
    assert passed.returncode == 0, passed.stdout
    assert f"servers: {TWO}; every server selected: {path} changed" in passed.stdout
    assert _pipeline(repo, tmp_path, check_outcome="failure").returncode == 1


def test_pr_with_docs_only_is_green_and_says_why(repo: GitRepo, tmp_path: Path) -> None:
    repo.git("checkout", "-q", "-b", "pr")
    repo.write("docs/ci.md", "words\n")
    repo.commit("docs")
    done = _pipeline(repo, tmp_path, check_outcome="failure")  # nothing runs, so no outcome counts
    assert done.returncode == 0, done.stdout
    assert "nothing to check (no resource server changed)" in done.stdout


def test_detection_step_turns_a_refusal_into_an_annotation_and_no_outputs(repo: GitRepo, tmp_path: Path) -> None:
    # The `gymkit changed` step itself, under bash as GitHub runs it, with the real console script.
    base = repo.git("rev-parse", "HEAD")
    repo.git("checkout", "-q", "-b", "pr")
    repo.link("resources_servers/gamma", "../vendor/gamma")
    repo.commit("(b)")
    (step,) = [s for s in load("pr.yml")["jobs"]["changes"]["steps"] if s.get("id") == "changed"]
    outputs, runner_temp = tmp_path / "github_output", tmp_path / "runner"
    runner_temp.mkdir()
    env = {
        "PATH": os.pathsep.join([str(Path(tool("gymkit")).parent), os.environ["PATH"]]),
        "BASE_SHA": base,
        "GITHUB_OUTPUT": str(outputs),
        "RUNNER_TEMP": str(runner_temp),
    }
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
        cwd=repo.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "::error::gymkit changed: error: resources_servers/gamma: a symbolic link" in done.stdout
    assert not outputs.exists()
