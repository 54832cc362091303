"""A report that cannot be written is one `error:` line naming the path, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from gymkit.cli import app
from tests.checks.conftest import build_server


def _fails_cleanly(args: list[str], path: Path) -> None:
    result = CliRunner().invoke(app, args)
    # CliRunner keeps an uncaught exception instead of printing its traceback.
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.exception
    assert f"error: {path}: cannot write" in result.output, result.output


def test_check_report_and_pr_body_outputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    build_server(tmp_path)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "taken").mkdir()  # a folder where the file should go
    _fails_cleanly(["check", "good", "--select", "GYM1", "--report", "json:taken"], Path("taken"))
    _fails_cleanly(["pr-body", "good", "--output", "taken"], Path("taken"))


def test_profile_and_training_report_folders(tmp_path: Path) -> None:
    rollouts = tmp_path / "r.jsonl"
    rollouts.write_text('{"reward": 1.0}\n')
    metrics = tmp_path / "m.csv"
    metrics.write_text("step,reward\n0,0.1\n1,0.2\n2,0.3\n")
    blocker = tmp_path / "file"
    blocker.write_text("a file, not a folder")
    folder = blocker / "report"
    _fails_cleanly(["profile", "--rollouts", str(rollouts), "--output", str(folder), "--no-plots"], folder)
    _fails_cleanly(["training-report", "--metrics", str(metrics), "--output", str(folder)], folder)
