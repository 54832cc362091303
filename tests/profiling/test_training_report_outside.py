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
