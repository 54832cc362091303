"""The PR pipeline's workflows: linters run clean, and the security rules hold structurally."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from .workflows import REPO, WORKFLOWS, load, steps, tool

FILES = sorted(p.name for p in WORKFLOWS.glob("*.yml"))
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"uses: \S+@[0-9a-f]{40} # v\d+\.\d+\.\d+$")


def _run(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def test_both_workflows_exist() -> None:
    assert FILES == ["pr-comment.yml", "pr.yml"]


def test_actionlint_is_clean() -> None:
    shellcheck = f"-shellcheck={tool('shellcheck')}"
    done = _run(tool("actionlint"), "-no-color", shellcheck, *(str(WORKFLOWS / name) for name in FILES))
    assert done.returncode == 0, done.stdout + done.stderr


def test_zizmor_reports_nothing_at_default_level() -> None:
    done = _run(tool("zizmor"), "--offline", "--no-progress", ".github")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No findings to report" in done.stdout


def test_zizmor_ignores_only_the_reasoned_workflow_run_trigger() -> None:
    strict = _run(tool("zizmor"), "--offline", "--no-progress", "--no-ignores", "--format", "json", ".github")
    idents = sorted(f["ident"] for f in json.loads(strict.stdout))
    assert idents == ["dangerous-triggers"]


def test_the_linters_would_catch_an_unsafe_workflow(tmp_path: Path) -> None:
    # Guards the two tests above against a linter that silently checks nothing.
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text(
        "on: pull_request_target\n"
        "jobs:\n"
        "  x:\n"
        "    runs-on: ubuntu-latest\n"
        "    steps:\n"
        "      - uses: actions/checkout@v4\n"
        "      - run: echo ${{ github.event.pull_request.title }}\n"
    )
    zizmor = _run(tool("zizmor"), "--offline", "--no-progress", ".github", cwd=tmp_path)
    assert zizmor.returncode != 0
    for audit in ("dangerous-triggers", "template-injection", "unpinned-uses", "artipacked"):
        assert audit in zizmor.stdout, audit
    bad.write_text(
        "on: pull_request\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: echo ${{ nope }}\n      - run: rm $FILES\n"
    )
    actionlint = _run(tool("actionlint"), "-no-color", f"-shellcheck={tool('shellcheck')}", str(bad), cwd=tmp_path)
    assert actionlint.returncode != 0
    assert "undefined variable" in actionlint.stdout
    assert "SC2086" in actionlint.stdout  # shellcheck ran on the run: script


@pytest.mark.parametrize("name", FILES)
def test_no_pull_request_target(name: str) -> None:
    assert "pull_request_target" not in load(name)["on"]
    assert "pull_request_target" not in (WORKFLOWS / name).read_text()


@pytest.mark.parametrize("name", FILES)
def test_every_action_is_pinned_to_a_commit_with_its_version(name: str) -> None:
    workflow = load(name)
    uses = [step["uses"] for _, step in steps(workflow) if "uses" in step]
    assert uses
    for ref in uses:
        assert PINNED.match(ref), f"{name}: {ref} is not pinned to a full commit SHA"
    lines = [line.strip().removeprefix("- ") for line in (WORKFLOWS / name).read_text().splitlines()]
    with_uses = [line for line in lines if line.startswith("uses:")]
    assert len(with_uses) == len(uses)
    for line in with_uses:
        assert VERSION_COMMENT.search(line), f"{name}: `{line}` needs a `# vX.Y.Z` comment"


@pytest.mark.parametrize("name", FILES)
def test_checkouts_do_not_persist_credentials(name: str) -> None:
    for job_id, step in steps(load(name)):
        if step.get("uses", "").startswith("actions/checkout@"):
            assert step.get("with", {}).get("persist-credentials") is False, f"{name}:{job_id}"


@pytest.mark.parametrize("name", FILES)
def test_no_expression_is_interpolated_into_a_shell_line(name: str) -> None:
    # Values reach scripts through env: only; then the shell never parses them as code.
    for job_id, step in steps(load(name)):
        assert "${{" not in step.get("run", ""), f"{name}:{job_id}: {step.get('name')}"
        assert "${{" not in step.get("with", {}).get("script", ""), f"{name}:{job_id}: {step.get('name')}"


@pytest.mark.parametrize("name", FILES)
def test_least_privilege(name: str) -> None:
    workflow = load(name)
    assert workflow["permissions"] == {}
    for job_id, job in workflow["jobs"].items():
        assert "permissions" in job, f"{name}:{job_id} must say what it needs"
        if name == "pr.yml":
            assert set(job["permissions"].values()) <= {"read"}, f"{name}:{job_id}"


def test_pr_workflow_shape() -> None:
    workflow = load("pr.yml")
    assert list(workflow["on"]) == ["pull_request"]
    assert workflow["concurrency"]["cancel-in-progress"] is True
    assert "pull_request.number" in workflow["concurrency"]["group"]
    jobs: dict[str, Any] = workflow["jobs"]
    assert jobs["server"]["strategy"]["matrix"]["server"] == "${{ fromJSON(needs.changes.outputs.servers) }}"
    assert jobs["server"]["strategy"]["fail-fast"] is False
    runs = "\n".join(step.get("run", "") for _, step in steps(workflow))
    for command in (
        'gymkit changed --base "$BASE_SHA" --head HEAD --json',
        'nox -s "test-server($SERVER)"',
        # One checklist run per server: annotations, and the JSON and Markdown reports.
        'gymkit check "$SERVER" --format github --report "json:$REPORT_DIR/report.json" '
        '--report "markdown:$REPORT_DIR/report.md"',
        'gh api "repos/$GITHUB_REPOSITORY/pulls/$PR_NUMBER" > "$RUNNER_TEMP/pull.json"',
        'gymkit check-pr-body "$RUNNER_TEMP/pull.json"',
        '>> "$GITHUB_STEP_SUMMARY"',
    ):
        assert command in runs, command
    gate = jobs["all-green"]
    assert gate["if"] == "${{ always() }}"
    assert sorted(gate["needs"]) == sorted(set(jobs) - {"all-green"})
    installs = [step for _, step in steps(workflow) if step.get("name") == "Install gymkit"]
    assert len(installs) == 3
    caches = [step for _, step in steps(workflow) if step.get("uses", "").startswith("actions/setup-python@")]
    assert all(step["with"]["cache"] == "pip" for step in caches)


def test_comment_workflow_never_runs_pull_request_code() -> None:
    workflow = load("pr-comment.yml")
    assert workflow["on"]["workflow_run"] == {"workflows": ["PR validation"], "types": ["completed"]}
    assert load("pr.yml")["name"] == "PR validation"
    (job,) = workflow["jobs"].values()
    assert job["permissions"] == {"actions": "read", "pull-requests": "write"}
    used = [step["uses"].split("@")[0] for step in job["steps"]]
    assert used == ["actions/github-script", "actions/download-artifact", "actions/github-script"]
    assert not any("run" in step for step in job["steps"])
    assert "workflow_run.event == 'pull_request'" in job["if"]


def test_pull_request_code_never_sees_a_token() -> None:
    # The only token in pr.yml fetches the PR description, in a step that runs before the
    # job checks out (and so before it can run) any of the pull request's code.
    for job_id, job in load("pr.yml")["jobs"].items():
        job_steps = job.get("steps", [])
        with_token = [i for i, step in enumerate(job_steps) if "github.token" in json.dumps(step.get("env", {}))]
        checkout = next((i for i, s in enumerate(job_steps) if s.get("uses", "").startswith("actions/checkout@")), None)
        for i in with_token:
            assert checkout is not None and i < checkout, f"{job_id}: step {i} has a token after the checkout"
            assert job_steps[i]["run"].startswith("gh api "), f"{job_id}: a token step runs more than gh api"
        assert "secrets." not in json.dumps(job), f"{job_id} uses a secret"
