"""A pull request, end to end, without GitHub: a real repository with a base branch and a PR
branch, and the same commands pr.yml runs, in the same order, with the same arguments.

The complete server is the checklist's golden fixture (tests/checks/servers/good, with
fresh reports); the broken ones are that server with one thing wrong. The isolated
`nox -s "test-server(NAME)"` session is not run here: it builds a virtualenv per server
(tens of seconds) and has its own tests; everything after it in the job is.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from gymkit.cli import app
from gymkit.testing.stamp import StageResult, TestStamp, code_fingerprint, write_stamp

from . import test_comment_script as comment_script
from .conftest import GitRepo
from .workflows import REPO

checks_conftest = pytest.importorskip("tests.checks.conftest", reason="the checklist's server fixtures are missing")
pytest.importorskip("gymkit.prbody", reason="gymkit check-pr-body is not in this checkout")

pytestmark = pytest.mark.slow

GYMKIT = str(Path(sys.executable).parent / "gymkit")
runner = CliRunner()


class Ran:
    """What a command printed and how it ended, in the shape of CompletedProcess."""

    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def gymkit(repo: GitRepo, *args: str) -> Ran:
    """``gymkit ARGS`` run from the repository root, as a workflow step runs it.

    In-process (CliRunner): starting the CLI costs seconds per call on a busy 2-core
    machine, and this module makes a dozen calls; `test_console_script` runs the real
    entry point once. Servers for re-verification still start as their own processes.
    """
    previous = Path.cwd()
    os.chdir(repo.root)
    try:
        result = runner.invoke(app, list(args))
    finally:
        os.chdir(previous)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Ran(result.exit_code, result.stdout, result.stderr)


def _drop_section(markdown: str, heading: str) -> str:
    """``markdown`` without the ``## heading`` section (up to the next heading of any level)."""
    return re.sub(rf"^## {re.escape(heading)}.*?(?=^#|\Z)", "", markdown, flags=re.MULTILINE | re.DOTALL)


def _pr_event(path: Path, body: str) -> Path:
    # The shape of $GITHUB_EVENT_PATH for a pull_request event, reduced to what is read.
    path.write_text(json.dumps({"action": "opened", "number": 7, "pull_request": {"number": 7, "body": body}}))
    return path


@pytest.fixture(scope="module")
def gym(tmp_path_factory: pytest.TempPathFactory) -> GitRepo:
    """main: gymkit-shaped repository with one complete server, `alpha`."""
    repo = GitRepo(tmp_path_factory.mktemp("e2e") / "gym")
    # A gymkit/ folder without __init__.py: a regular package here would shadow the installed
    # gymkit for the `python -m gymkit` that check starts servers with.
    repo.write("gymkit/VERSION", "0.1.0\n")
    repo.write("pyproject.toml", '[project]\nname = "gym"\nlicense = "Apache-2.0"\n')
    checks_conftest.build_server(repo.root, name="alpha")
    repo.commit("main: gymkit and the alpha server")
    return repo


def _pr_branch(repo: GitRepo, name: str) -> None:
    repo.git("checkout", "-q", "main")
    repo.git("checkout", "-q", "-b", name)


def _changed(repo: GitRepo, branch: str) -> list[str]:
    done = gymkit(repo, "changed", "--base", "main", "--head", branch, "--json")
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout))


def _session_passed(server_dir: Path) -> None:
    """The result the job's `nox -s "test-server(NAME)"` step records, for a server whose stages pass.

    That step is not run here (see the module docstring); the checklist after it reads its
    result (GYM303), so this writes the result a passing run writes, for the code as it is.
    """
    code_sha, files = code_fingerprint(server_dir)
    stamp = TestStamp(server_dir.name, code_sha, files)
    stamp.stages = {name: StageResult("passed") for name in stamp.stages}
    stamp.stages["tests"].counts = {"passed": 1, "failed": 0, "errors": 0, "skipped": 0}
    write_stamp(server_dir, stamp)


def _statuses(report: dict[str, Any]) -> dict[str, set[str]]:
    return {s["name"]: {f["status"] for f in s["findings"]} for s in report["servers"]}


def test_pr_adding_a_complete_server_is_green(gym: GitRepo, tmp_path: Path) -> None:
    _pr_branch(gym, "add-beta")
    checks_conftest.build_server(gym.root, name="beta")
    gym.commit("add beta")

    assert _changed(gym, "add-beta") == ["beta"]
    _session_passed(gym.root / "resources_servers" / "beta")
    assert json.loads(gymkit(gym, "changed", "--base", "main", "--head", "HEAD", "--json", "--direct").stdout) == [
        "beta"
    ]

    reports = tmp_path / "gymkit-report"
    reports.mkdir()
    annotations = gymkit(
        gym, "check", "beta", "--format", "github",
        "--report", f"json:{reports / 'report.json'}", "--report", f"markdown:{reports / 'report.md'}",
    )  # fmt: skip
    assert annotations.returncode == 0, annotations.stdout
    assert "::error" not in annotations.stdout
    report = json.loads((reports / "report.json").read_text())
    assert [s["name"] for s in report["servers"]] == ["beta"]
    assert "fail" not in _statuses(report)["beta"]
    steps = {f["step"] for f in report["servers"][0]["findings"] if f["status"] == "pass"}
    assert steps == set(range(1, 9))
    # Re-verification of the example rollouts ran and passed (step 4 calls the server's verify).
    step4 = [f for f in report["servers"][0]["findings"] if f["step"] == 4]
    assert step4 and all(f["status"] == "pass" for f in step4)
    markdown = (reports / "report.md").read_text()
    assert "| 4 · Example rollouts | ✅ |" in markdown
    assert "❌" not in markdown

    # What pr-comment.yml makes of this run's artifact.
    if shutil.which("node"):
        artifact = tmp_path / "artifacts" / "gymkit-report-beta"
        artifact.mkdir(parents=True)
        shutil.copy(reports / "report.json", artifact / "report.json")
        (artifact / "meta.json").write_text(json.dumps({"server": "beta", "tests": "success"}))
        calls = comment_script._comment(
            tmp_path, {"run": comment_script._run("success"), "comments": []}, artifact.parent
        )
        (created,) = comment_script._calls(calls, "issues.createComment")
        rows = [line for line in created["body"].splitlines() if re.match(r"\| \d\. ", line)]
        assert len(rows) == 8 and all(row.endswith("| ✅ pass |") for row in rows), rows

    # The description `gymkit pr-body` renders passes the check CI runs on the event payload.
    body = gymkit(gym, "pr-body", "beta")
    assert body.returncode == 0, body.stderr
    event = _pr_event(tmp_path / "event.json", body.stdout)
    verdict = gymkit(gym, "check-pr-body", str(event))
    assert verdict.returncode == 0, verdict.stderr


def test_pr_adding_broken_servers_is_red_with_the_findings(gym: GitRepo, tmp_path: Path) -> None:
    _pr_branch(gym, "add-broken")
    no_licence = checks_conftest.build_server(gym.root, name="no_licence")
    readme = no_licence / "README.md"
    readme.write_text(_drop_section(readme.read_text(), "Licensing information"))
    checks_conftest.write_reports(no_licence)  # keep the reports fresh: only the licence is missing
    checks_conftest.build_server(gym.root, case="malformed_jsonl", name="bad_data")
    checks_conftest.build_server(gym.root, case="rewards_do_not_reverify", name="bad_rollouts")
    gym.commit("add three servers")

    servers = _changed(gym, "add-broken")
    assert servers == ["bad_data", "bad_rollouts", "no_licence"]
    _session_passed(no_licence)  # its tests, smoke test and data are fine: only the licence is missing

    # One matrix job's checklist step (the other two jobs run the same command), then the
    # Markdown of all three together, as the PR comment shows them.
    report_md = tmp_path / "report.md"
    annotations = gymkit(gym, "check", "bad_data", "--format", "github", "--report", f"markdown:{report_md}")
    assert annotations.returncode == 1
    errors = [line for line in annotations.stdout.splitlines() if line.startswith("::error ")]
    assert any("file=resources_servers/bad_data/data/example.jsonl" in e for e in errors), errors
    assert "| GYM1" in report_md.read_text(), "a failing checklist must still write its report"
    markdown = gymkit(gym, "check", *servers, "--format", "markdown")
    assert markdown.returncode == 1
    sections = dict(re.findall(r"^### `(\w+)`.*?\n(.*?)(?=^### |\Z)", markdown.stdout, re.MULTILINE | re.DOTALL))
    assert set(sections) == set(servers)
    assert re.search(r"\| GYM21\d \| ❌ \|.*Licens", sections["no_licence"]), sections["no_licence"]
    assert re.search(r"\| GYM1\d\d \| ❌ \| `data/example\.jsonl:\d+` \|", sections["bad_data"]), sections["bad_data"]
    assert "| 4 · Example rollouts | ❌ |" in sections["bad_rollouts"]
    assert re.search(r"\| GYM4\d\d \| ❌ \|.*reward", sections["bad_rollouts"]), sections["bad_rollouts"]
    assert "| 4 · Example rollouts | ✅ |" in sections["no_licence"]
    assert not re.search(r"\| GYM[^2]\d\d \| ❌", sections["no_licence"]), "only the licence should fail"


def test_pr_body_missing_a_section_is_red(gym: GitRepo, tmp_path: Path) -> None:
    _pr_branch(gym, "body-check")
    body = gymkit(gym, "pr-body", "alpha")
    assert body.returncode == 0, body.stderr
    assert "## Licensing" in body.stdout
    event = _pr_event(tmp_path / "event.json", _drop_section(body.stdout, "Licensing"))
    verdict = gymkit(gym, "check-pr-body", str(event))
    assert verdict.returncode == 1
    assert "Licensing" in verdict.stderr
    assert "Traceback" not in verdict.stderr


def test_pr_touching_only_gymkit_selects_every_server(gym: GitRepo) -> None:
    _pr_branch(gym, "gymkit-only")
    gym.write("gymkit/checks.py", "# a change to how every server is checked\n")
    gym.commit("change gymkit")
    assert _changed(gym, "gymkit-only") == ["alpha"]
    done = gymkit(gym, "changed", "--base", "main", "--head", "gymkit-only", "--json", "--direct")
    assert json.loads(done.stdout) == []  # so the PR-description job is skipped
    assert (
        "every server selected: gymkit/checks.py changed"
        in gymkit(gym, "changed", "--base", "main", "--head", "gymkit-only").stderr
    )


def test_console_script(gym: GitRepo) -> None:
    # The entry point the workflow calls, as a process, with the arguments pr.yml passes.
    gym.git("checkout", "-q", "main")
    done = subprocess.run(
        [GYMKIT, "changed", "--base", "main", "--head", "HEAD", "--json"],
        cwd=gym.root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []


def test_gymkit_change_selects_every_server_of_this_checkout(tmp_path: Path) -> None:
    # The same, over this repository's own resources_servers/ as it is now.
    servers = sorted(p.name for p in (REPO / "resources_servers").iterdir() if (p / "app.py").is_file())
    if not servers:
        pytest.skip("this checkout has no reference servers yet")
    repo = GitRepo(tmp_path / "gym")
    shutil.copytree(
        REPO / "resources_servers",
        repo.root / "resources_servers",
        ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache", ".nox", ".gymkit-cache"),
    )
    shutil.copytree(REPO / "gymkit", repo.root / "gymkit", ignore=shutil.ignore_patterns("__pycache__"))
    repo.commit("main")
    repo.git("checkout", "-q", "-b", "touch-checks")
    with (repo.root / "gymkit" / "gitutil.py").open("a") as f:
        f.write("# a change to gymkit itself\n")
    repo.commit("change gymkit")
    assert _changed(repo, "touch-checks") == servers
