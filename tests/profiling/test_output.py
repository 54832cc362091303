"""Report folders change all at once or not at all; the CLI wires it together."""

from __future__ import annotations

import math
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from gymkit.cli import app
from gymkit.profiling import output, profile_files, write_profile

from .conftest import rollout


def _profile(write, reward: float):  # type: ignore[no-untyped-def]
    return profile_files([write([rollout(reward, task=0), rollout(1.0, task=0, calls=[("t", "{}", "{}")])])])


def test_a_crash_while_rendering_leaves_the_previous_report(write, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "report"
    write_profile(_profile(write, 0.0), folder)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}

    def half_written(report, data):  # type: ignore[no-untyped-def]
        raise OSError("disk full")

    monkeypatch.setattr("gymkit.profiling.plots.profile_plots", half_written)
    with pytest.raises(OSError, match="disk full"):
        write_profile(_profile(write, 1.0), folder)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before

    real_replace = output.os.replace
    moved: list[str] = []

    def replace_then_die(src, dst):  # type: ignore[no-untyped-def]
        if Path(dst).name == "reward_profile.json":
            raise KeyboardInterrupt
        moved.append(Path(dst).name)
        real_replace(src, dst)

    monkeypatch.undo()
    monkeypatch.setattr(output.os, "replace", replace_then_die)
    with pytest.raises(KeyboardInterrupt):
        write_profile(_profile(write, 1.0), folder, plots=False)
    # The JSON the checks read is the old one, and no staging folder is left behind.
    assert (folder / "reward_profile.json").read_bytes() == before["reward_profile.json"]
    assert "reward_profile.json" not in moved and moved
    assert not list(folder.glob(".staging-*"))


def test_files_the_new_report_no_longer_has_are_removed(write, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "report"
    write_profile(_profile(write, 0.0), folder)
    assert (folder / "calls_vs_reward.png").exists()
    (folder / "notes.txt").write_text("mine")
    write_profile(profile_files([write([rollout(1.0, task=0)], "plain.jsonl")]), folder, plots=False)
    assert not list(folder.glob("*.png"))  # plots of the old report, not of this one
    assert (folder / "notes.txt").read_text() == "mine"  # never ours to delete


def test_cli_analysis_mode(write, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = write([rollout(r, task=t) for t in range(4) for r in (0, 1)])
    result = CliRunner().invoke(app, ["profile", "--rollouts", str(path), "--output", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert (
        "8 rollouts, 4 prompts x 2: mean reward 0.500; pass@1 0.500, pass@2 1.000; mixed prompts 100%" in result.output
    )
    report = orjson.loads((tmp_path / "out" / "reward_profile.json").read_bytes())
    assert "reward_profile.md" in report["files"] and "reward_hist.png" in report["files"]


def test_cli_errors_are_one_line(write, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    runner = CliRunner()
    result = runner.invoke(app, ["profile", "--rollouts", str(write([rollout(1)]))])
    assert result.exit_code == 1 and "error: name a server, or pass --rollouts FILE and --output DIR" in result.output
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"reward": 1}\n{oops\n')
    result = runner.invoke(app, ["profile", "--rollouts", str(bad), "--output", str(tmp_path / "o")])
    assert result.exit_code == 1 and f"error: {bad}:2: not valid JSON" in result.output
    assert "Traceback" not in result.output


def test_cli_profiles_a_servers_rollouts_into_its_reports(write, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import shutil

    from gymkit.hashing import server_code_sha256
    from gymkit.project import ServerPaths

    server = ServerPaths(tmp_path / "answer")
    shutil.copytree(Path(__file__).parent / "servers" / "answer", server.dir)
    path = write([rollout(r, task=t) for t in range(3) for r in (0, 1)])
    runner = CliRunner()
    args = ["profile", str(server.dir), "--rollouts", str(path), "--pass-threshold", "0.5", "--no-plots"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    report = orjson.loads((server.reward_profile / "reward_profile.json").read_bytes())
    assert report["server_code_sha256"] == server_code_sha256(server.dir) and report["pass_threshold"] == 0.5
    assert not list(server.reward_profile.glob("*.png")) and "reward_profile.md" in report["files"]
    metrics = tmp_path / "log.csv"
    metrics.write_text("step,train/reward\n" + "".join(f"{s},{s / 10}\n" for s in range(8)))
    result = runner.invoke(app, ["training-report", "--metrics", str(metrics), str(server.dir)])
    assert result.exit_code == 0, result.output
    training = orjson.loads((server.training / "training.json").read_bytes())
    assert training["improved"] is True and training["train"]["p_value"] == pytest.approx(1 / math.factorial(8))
