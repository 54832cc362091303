"""A report's kind comes from its log: a smoke's metrics.jsonl stays a smoke whoever makes the report."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from gymkit.checks import CheckOptions, run_checks
from gymkit.cli import app
from gymkit.errors import InvalidDataError
from gymkit.profiling.training import read_metrics, training_from_file
from gymkit.train.run import METRICS_FILE, SMOKE, TrainSettings, metrics_record
from gymkit.train.trainer import MetricsFile
from tests.checks.conftest import build_server

OPTIONS = CheckOptions(verify_timeout=5)


def _log(path: Path, settings: TrainSettings) -> Path:
    """A metrics log as `gymkit train` writes it: the run's record, then one line per logged step."""
    metrics = MetricsFile(path, metrics_record(settings))
    metrics.start()
    for step in range(1, settings.steps + 1):
        metrics.write({"step": step, "loss": 0.01, "reward": 0.1 * step, "reward_std": 0.2, "kl": float("nan")})
    assert metrics.rows == settings.steps
    return path


def _report(server: Path) -> dict:
    return orjson.loads((server / "reports" / "training" / "training.json").read_bytes())


def test_a_smoke_log_reported_again_is_still_a_smoke(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    server = build_server(tmp_path / "gym")
    log = _log(server / "reports" / "training" / METRICS_FILE, SMOKE)
    monkeypatch.chdir(tmp_path / "gym")
    result = CliRunner().invoke(app, ["training-report", "good", "--metrics", str(log)])
    assert result.exit_code == 0, result.output
    report = _report(server)
    assert report["kind"] == "smoke"
    assert report["metrics_file"]["path"] == f"reports/training/{METRICS_FILE}"
    assert (report["run"]["settings"]["model"], report["run"]["settings"]["steps"]) == (SMOKE.model, SMOKE.steps)
    assert report["verdict"].startswith("Smoke run:")
    assert report["columns"]["step"] == "step" and report["steps"]["count"] == SMOKE.steps
    finding = run_checks(server, options=OPTIONS, select=["GYM601"]).findings[0]
    assert (finding.code, finding.status) == ("GYM601", "fail")
    assert finding.message.startswith("only a smoke is committed:")


def test_a_training_run_log_is_training_and_a_foreign_log_is_external(tmp_path: Path) -> None:
    training = replace(SMOKE, kind="training", model="Qwen/Qwen3-4B", steps=5, threads=None)
    report = training_from_file(_log(tmp_path / "run.jsonl", training)).report
    assert (report["kind"], report["run"]["settings"]["model"]) == ("training", "Qwen/Qwen3-4B")
    assert not report["verdict"].startswith("Smoke")

    trl = tmp_path / "trl.jsonl"  # TRL's own log lines: no record of gymkit's
    trl.write_text("".join(json.dumps({"step": s, "reward": s / 10}) + "\n" for s in range(6)))
    external = training_from_file(trl).report
    assert external["kind"] == "external" and "run" not in external
    wandb = tmp_path / "export.csv"
    wandb.write_text("Step,run - train/reward\n" + "".join(f"{s},{s / 10}\n" for s in range(6)))
    assert training_from_file(wandb).report["kind"] == "external"


def test_the_record_is_not_a_column(tmp_path: Path) -> None:
    names, rows = read_metrics(_log(tmp_path / METRICS_FILE, SMOKE))
    assert names == ["step", "loss", "reward", "reward_std", "kl"]
    assert [line for line, _ in rows] == [2, 3, 4]


def test_a_record_that_is_not_first_or_not_valid_names_the_line(tmp_path: Path) -> None:
    log = _log(tmp_path / METRICS_FILE, SMOKE)
    first, *steps = log.read_text().splitlines(keepends=True)
    moved = tmp_path / "moved.jsonl"
    moved.write_text("".join([*steps, first]))
    with pytest.raises(InvalidDataError, match=r"moved\.jsonl:4: _gymkit belongs on the first line only"):
        training_from_file(moved)
    forged = tmp_path / "forged.jsonl"
    forged.write_text(first.replace('"smoke"', '"Training"') + "".join(steps))
    with pytest.raises(InvalidDataError, match=r"forged\.jsonl:1: _gymkit\.kind: Input should be 'smoke' or"):
        training_from_file(forged)
