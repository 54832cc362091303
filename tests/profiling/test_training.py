"""Training logs: column detection, trend tests against hand calculations, the report."""

from __future__ import annotations

import math
from pathlib import Path
from statistics import NormalDist

import numpy as np
import orjson
import pytest
from typer.testing import CliRunner

from gymkit.cli import app
from gymkit.errors import InvalidDataError, UserError
from gymkit.profiling.training import detect_columns, training_from_file, write_training
from gymkit.profiling.trend import mann_kendall, mann_whitney_greater, trend


def test_mann_kendall_exact_small_cases() -> None:
    rising = mann_kendall(np.array([1.0, 2, 3, 4]))
    assert (rising["S"], rising["method"]) == (6, "exact")
    assert rising["p_value"] == pytest.approx(1 / 24)  # only the sorted order has S = 6
    one_swap = mann_kendall(np.array([1.0, 3, 2, 4]))
    # S = 5 - 1 = 4; permutations of 4 with at most one inversion: 1 + 3 of 24.
    assert one_swap["S"] == 4 and one_swap["p_value"] == pytest.approx(4 / 24)
    assert mann_kendall(np.array([4.0, 3, 2, 1]))["p_value"] == pytest.approx(1.0)


def test_mann_kendall_normal_approximation_with_ties() -> None:
    result = mann_kendall(np.array([1.0, 2, 2, 3, 3]))
    # S = 8; var = (5*4*15 - 2 * 2*1*9) / 18 = 264/18; z = (8 - 1) / sqrt(var).
    z = 7 / math.sqrt(264 / 18)
    assert (result["S"], result["method"]) == (8, "normal")
    assert result["z"] == pytest.approx(z)
    assert result["p_value"] == pytest.approx(1 - NormalDist().cdf(z))
    assert result["p_value"] == pytest.approx(0.0338, abs=1e-4)


def test_mann_whitney_by_hand() -> None:
    result = mann_whitney_greater(np.array([1.0, 2, 3]), np.array([4.0, 5, 6]))
    # U = (4+5+6) - 3*4/2 = 9; mean 4.5; var = 9/12 * 7 = 5.25.
    assert result["U"] == 9
    assert result["p_value"] == pytest.approx(1 - NormalDist().cdf(4 / math.sqrt(5.25)))


@pytest.mark.parametrize(
    ("values", "improved"),
    [
        (0.3 + 0.01 * np.arange(40) + 0.03 * np.sin(np.arange(40)), True),  # rising with noise
        (0.5 + 0.03 * np.sin(np.arange(40)), False),  # flat with noise
        (np.full(40, 0.5), False),  # constant
        (0.9 - 0.01 * np.arange(40), False),  # falling
    ],
)
def test_trend_verdicts(values: np.ndarray, improved: bool) -> None:
    result = trend(np.arange(len(values), dtype=float), values)
    assert result["improved"] is improved
    assert result["window"] == 4 and result["first"] == pytest.approx(values[:4].mean())
    if improved:
        assert result["p_value"] < 1e-6 and result["slope"] == pytest.approx(0.01, abs=0.002)
    else:
        assert result["p_value"] > 0.05


def test_wandb_export_columns_are_detected() -> None:
    names = ["Step", "run-a - train/reward", "run-a - train/reward__MIN", "run-a - train/reward__MAX",
             "run-a - val/accuracy", "run-a - val/accuracy__MIN", "run-a - train/loss"]  # fmt: skip
    step, train, test, others = detect_columns(names)
    assert (step, train, test, others) == ("Step", "run-a - train/reward", "run-a - val/accuracy", [])
    assert detect_columns(["global_step", "reward", "test/pass@1"])[:3] == ("global_step", "reward", "test/pass@1")


def _wandb_csv(path: Path, rows: int = 30) -> Path:
    lines = ["Step,grpo - train/accuracy,grpo - train/accuracy__MIN,grpo - train/accuracy__MAX,grpo - val/accuracy"]
    for s in range(rows):
        acc = 0.2 + 0.01 * s + (0.02 if s % 2 else -0.02)
        val = f"{0.1 + 0.005 * s:.3f}" if s % 5 == 0 else ""  # validation runs every 5 steps
        lines.append(f"{s},{acc:.4f},{acc - 0.1:.4f},{acc + 0.1:.4f},{val}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_wandb_csv_report(tmp_path: Path) -> None:
    result = training_from_file(_wandb_csv(tmp_path / "export.csv"))
    report = result.report
    assert report["train"]["column"] == "grpo - train/accuracy" and report["train"]["points"] == 30
    assert report["test_benchmark"]["points"] == 6 and report["test_benchmark"]["mann_kendall"]["method"] == "exact"
    assert report["test_benchmark"]["p_value"] == pytest.approx(1 / math.factorial(6))
    assert report["improved"] is True and report["steps"] == {"count": 30, "first": 0.0, "last": 29.0}
    write_training(result, tmp_path / "out")
    saved = orjson.loads((tmp_path / "out" / "training.json").read_bytes())
    assert saved["schema_version"] == 1 and saved["metrics_file"]["sha256"]
    assert {"training.md", "training_curves.png"} <= set(saved["files"])
    assert "Mann-Kendall" in (tmp_path / "out" / "training.md").read_text()


def test_jsonl_logs_with_nested_metrics_and_overrides(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    rows = [{"step": s, "metrics": {"mean_reward": 0.5 - 0.01 * s}} for s in range(12)]
    path.write_bytes(b"\n".join(orjson.dumps(r) for r in rows))
    report = training_from_file(path, train_col="metrics/mean_reward").report
    assert report["improved"] is False and report["train"]["last"] < report["train"]["first"]
    with pytest.raises(UserError, match="no column 'nope'"):
        training_from_file(path, train_col="nope")


def test_bad_cells_and_missing_columns(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("step,train/reward\n0,0.1\n1,high\n2,0.3\n")
    with pytest.raises(InvalidDataError, match=r"bad.csv:3: column 'train/reward': 'high' is not a number"):
        training_from_file(bad)
    none = tmp_path / "none.csv"
    none.write_text("step,loss\n0,1\n")
    with pytest.raises(UserError, match="no train column"):
        training_from_file(none)


def test_training_report_cli(tmp_path: Path) -> None:
    metrics = _wandb_csv(tmp_path / "export.csv")
    result = CliRunner().invoke(app, ["training-report", "--metrics", str(metrics), "--output", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    assert "train (grpo - train/accuracy)" in result.output and ": improved" in result.output
    assert (tmp_path / "o" / "training_curves.png").exists()


def test_a_benchmark_with_too_few_evaluations_is_reported_but_not_tested(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    rows = [f"{s},{0.1 * s:.1f},{'0.3' if s in (0, 9) else ''}" for s in range(10)]
    path.write_text("step,train/reward,val/accuracy\n" + "\n".join(rows) + "\n")
    report = training_from_file(path).report
    assert report["test_benchmark"]["points"] == 2 and report["test_benchmark"]["p_value"] is None
    assert report["improved"] is True and "too few to test" in report["verdict"]
    write_training(training_from_file(path), tmp_path / "out")
    assert "too few to test" in (tmp_path / "out" / "training.md").read_text()


def test_the_metrics_path_is_recorded_relative_to_the_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    from gymkit.checks import CheckOptions, run_checks
    from tests.checks.conftest import build_server

    server = build_server(tmp_path / "laptop")
    metrics = server / "reports" / "training" / "metrics.csv"
    metrics.write_text("step,train/reward\n" + "".join(f"{s},{s / 10}\n" for s in range(8)))
    monkeypatch.chdir(tmp_path)  # outside the repository, as when the log is given by absolute path
    result = CliRunner().invoke(app, ["training-report", "--metrics", str(metrics), str(server)])
    assert result.exit_code == 0, result.output
    saved = orjson.loads((server / "reports" / "training" / "training.json").read_bytes())
    assert saved["metrics_file"]["path"] == "reports/training/metrics.csv"
    # On the reviewer's machine the checkout lives elsewhere; the committed report must still check.
    moved = shutil.move(tmp_path / "laptop", tmp_path / "reviewer")
    elsewhere = Path(moved) / "resources_servers" / "good"
    report = run_checks(elsewhere, options=CheckOptions(reverify=False), select=["GYM602"])
    assert [(f.code, f.status) for f in report.findings] == [("GYM602", "pass")], report.findings
