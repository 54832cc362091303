"""`gymkit training-report NAME --metrics FILE` with FILE outside the repository, as a W&B export in ~/Downloads is."""

from __future__ import annotations

import subprocess
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from gymkit.cli import app


def _git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


def test_a_log_from_outside_is_copied_next_to_the_report_and_checks_on_a_clone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gymkit.checks import CheckOptions, run_checks
    from tests.checks.conftest import build_server

    gym = tmp_path / "gym"
    server = build_server(gym)
    _git(gym, "init", "-q", "-b", "main")
    downloads = tmp_path / "Downloads"
    downloads.mkdir()
    export = downloads / "wandb_export.csv"
    export.write_text("step,train/reward\n" + "".join(f"{s},{s / 10}\n" for s in range(8)))

    monkeypatch.chdir(gym)
    result = CliRunner().invoke(app, ["training-report", "good", "--metrics", str(export)])
    assert result.exit_code == 0, result.output
    copy = server / "reports" / "training" / "wandb_export.csv"
    assert f"copied {export} to reports/training/wandb_export.csv" in result.output
    assert copy.read_bytes() == export.read_bytes()
    report = orjson.loads((server / "reports" / "training" / "training.json").read_bytes())
    assert report["metrics_file"]["path"] == "reports/training/wandb_export.csv"

    # The reviewer clones the pull request; the contributor's Downloads folder is not there.
    _git(gym, "add", "-A")
    _git(gym, "commit", "-q", "-m", "training evidence")
    export.unlink()
    clone = tmp_path / "review"
    _git(tmp_path, "clone", "-q", str(gym), str(clone))
    checked = run_checks(clone / "resources_servers" / "good", options=CheckOptions(reverify=False), select=["GYM602"])
    assert [(f.code, f.status) for f in checked.findings] == [("GYM602", "pass")], checked.findings


def test_a_log_inside_the_repository_is_used_where_it_is(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.checks.conftest import build_server

    server = build_server(tmp_path / "gym")
    log = tmp_path / "gym" / "logs" / "run.csv"
    log.parent.mkdir()
    log.write_text("step,train/reward\n" + "".join(f"{s},{s / 10}\n" for s in range(8)))
    monkeypatch.chdir(tmp_path / "gym")
    result = CliRunner().invoke(app, ["training-report", "good", "--metrics", str(log)])
    assert result.exit_code == 0, result.output
    assert "copied" not in result.output
    assert not (server / "reports" / "training" / "run.csv").exists()


def _outside_log(tmp_path: Path, name: str, body: str) -> Path:
    downloads = tmp_path / "Downloads"
    downloads.mkdir(exist_ok=True)
    log = downloads / name
    log.write_text(body)
    return log


GOOD_LOG = "step,train/reward\n" + "".join(f"{s},{s / 10}\n" for s in range(8))


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The good server in a gym checkout, the working directory."""
    from tests.checks.conftest import build_server

    server = build_server(tmp_path / "gym")
    monkeypatch.chdir(tmp_path / "gym")
    return server


def _report_on(log: Path) -> tuple[int, str]:
    """`gymkit training-report good --metrics LOG`: exit code and output on one line."""
    result = CliRunner().invoke(app, ["training-report", "good", "--metrics", str(log)])
    return result.exit_code, " ".join(result.output.split())


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def test_a_bad_log_from_outside_is_named_as_given_and_leaves_no_copy(tmp_path: Path, server: Path) -> None:
    before = _files(server / "reports" / "training")
    export = _outside_log(tmp_path, "export.csv", "step,train/reward\n1,0.1\n2,lots\n3,0.3\n")
    code, output = _report_on(export)
    assert code == 1
    assert f"{export}:3: column 'train/reward': 'lots' is not a number" in output
    assert "Traceback" not in output
    assert _files(server / "reports" / "training") == before


@pytest.mark.parametrize("name", ["training.json", "training.md", "training_curves.png"])
def test_a_log_named_like_the_reports_own_files_is_refused(tmp_path: Path, server: Path, name: str) -> None:
    before = _files(server / "reports" / "training")
    log = _outside_log(tmp_path, name, '{"step": 1, "reward": 0.1}\n' if name.endswith(".json") else GOOD_LOG)
    code, output = _report_on(log)
    assert code == 1
    assert f"{log}: a log named {name} would be copied over the report's own files" in output
    assert "rename it" in output
    assert _files(server / "reports" / "training") == before


def test_a_different_file_of_the_same_name_is_not_replaced(tmp_path: Path, server: Path) -> None:
    committed = server / "reports" / "training" / "metrics.csv"
    kept = committed.read_bytes()
    log = _outside_log(tmp_path, "metrics.csv", GOOD_LOG)
    assert log.read_bytes() != kept
    code, output = _report_on(log)
    assert code == 1
    assert f"{committed}: a different file of that name is already there; {log} would replace it" in output
    assert "rename metrics.csv, or delete reports/training/metrics.csv" in output
    assert committed.read_bytes() == kept

    # The same bytes already there are the copy: the report names it and nothing is rewritten.
    committed.write_bytes(log.read_bytes())
    code, output = _report_on(log)
    assert code == 0, output
    assert "reports/training/metrics.csv already holds" in output
    report = orjson.loads((server / "reports" / "training" / "training.json").read_bytes())
    assert report["metrics_file"]["path"] == "reports/training/metrics.csv"
