"""`gymkit train weather --smoke` end to end: TRL's GRPOTrainer against a real server on loopback.

The server is the weather server with every seed_session, tool call and verify recorded
to a file on the server's side, so the test can tell that the rewards GRPO logged are the
ones verify returned and that the model's tool calls reached the server over HTTP. It
asserts what any correct run must show, not that the model learns: nothing can be learnt
in three steps of a 135M model.

The run is printed (wall time, CPU, peak memory and each step's rewards) with ``-s``.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.train]

ROOT = Path(__file__).resolve().parents[2]
WEATHER = ROOT / "resources_servers" / "weather"

# Appended to a copy of weather's app.py: the same server, with each handled request logged.
RECORDER = """

import json as _json
import os as _os


def _record(route, **fields):
    with open(_os.environ["GYMKIT_TEST_CALL_LOG"], "a") as _log:
        _log.write(_json.dumps({"route": route, **fields}) + "\\n")


class RecordingWeatherServer(WeatherResourcesServer):
    async def seed_session(self, body: WeatherSeedRequest) -> BaseSeedSessionResponse:
        _record("seed_session", task_id=body.model_dump().get("task_id"))
        return await super().seed_session(body)

    async def get_weather(self, body: GetWeatherRequest) -> GetWeatherResponse:
        _record("get_weather", city=body.city)
        return await super().get_weather(body)

    async def verify(self, body: WeatherVerifyRequest) -> WeatherVerifyResponse:
        result = await super().verify(body)
        _record("verify", reward=result.reward, tool_called=result.tool_called, outputs=sum(
            item.type == "function_call_output" for item in body.response.output))
        return result


server = RecordingWeatherServer()
"""


# `gymkit train DIR --smoke --output REPORT`, plus the folder the confined server may write its log to.
SMOKE_RUN = """
import sys
from pathlib import Path
from gymkit.project import resolve_server
from gymkit.train.run import SMOKE, train
folder = train(resolve_server(sys.argv[1]), SMOKE, Path(sys.argv[2]), server_writable=(Path(sys.argv[3]),))
print("wrote", folder)
"""


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> dict:
    pytest.importorskip("trl")
    pytest.importorskip("torch")
    from gymkit.rollouts.embedded import EmbeddedModelMissingError, find_model_file

    try:
        find_model_file()
    except EmbeddedModelMissingError as exc:
        pytest.skip(exc.message)
    base = tmp_path_factory.mktemp("train")
    server_dir = base / "resources_servers" / "weather"
    shutil.copytree(WEATHER, server_dir, ignore=shutil.ignore_patterns("reports", "tests", "__pycache__"))
    (server_dir / "app.py").write_text((WEATHER / "app.py").read_text() + RECORDER)
    # The server is confined to its own temp folder; the call log is a folder it is given.
    (base / "log").mkdir()
    calls = base / "log" / "calls.jsonl"
    report = base / "report"
    env = {**os.environ, "GYMKIT_TEST_CALL_LOG": str(calls), "NO_COLOR": "1"}
    started = time.monotonic()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(
        [sys.executable, "-c", SMOKE_RUN, str(server_dir), str(report), str(calls.parent)],
        cwd=base,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert proc.returncode == 0, proc.stderr[-4000:]
    training = json.loads((report / "training.json").read_text())
    record, *steps = [json.loads(line) for line in (report / "metrics.jsonl").read_text().splitlines()]
    log = [json.loads(line) for line in calls.read_text().splitlines()]
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    print(f"smoke: {time.monotonic() - started:.0f} s wall, {cpu:.0f} s CPU, peak {after.ru_maxrss // 1024} MiB")
    for step in steps:
        print(f"step {step['step']}: reward {step['reward']:.3f}, mixed groups {step['groups/mixed_share']:.2f}")
    return {
        "training": training,
        "record": record,
        "steps": steps,
        "calls": log,
        "stdout": proc.stdout,
        "report": report,
    }


def test_report_says_smoke_and_comes_from_the_run(smoke: dict) -> None:
    training = smoke["training"]
    assert training["kind"] == "smoke"
    assert smoke["record"]["_gymkit"]["kind"] == "smoke"  # the log's first line, which any report of it reads
    assert training["verdict"].startswith("Smoke run")
    assert training["columns"]["train"] == "reward"
    assert training["metrics_file"]["path"].endswith("metrics.jsonl")
    assert {"training.json", "training.md", "training_curves.png"} <= set(training["files"])


def test_every_rollout_was_seeded_and_verified_by_the_server(smoke: dict) -> None:
    routes = [c["route"] for c in smoke["calls"]]
    settings = smoke["training"]["run"]["settings"]
    rollouts = settings["steps"] * settings["prompts_per_step"] * settings["num_generations"]
    assert routes.count("verify") == rollouts
    assert routes.count("seed_session") == rollouts
    assert sum(s["server/verifies"] for s in smoke["steps"]) == rollouts


def test_logged_rewards_are_the_servers_verify_rewards(smoke: dict) -> None:
    rewards = [c["reward"] for c in smoke["calls"] if c["route"] == "verify"]
    per_step = len(rewards) // len(smoke["steps"])
    for i, step in enumerate(smoke["steps"]):
        batch = rewards[i * per_step : (i + 1) * per_step]
        assert step["reward"] == pytest.approx(sum(batch) / len(batch), abs=1e-6)
        assert step["rewards/verify/mean"] == pytest.approx(step["reward"], abs=1e-6)


def test_tool_calls_reached_the_server(smoke: dict) -> None:
    served = [c for c in smoke["calls"] if c["route"] == "get_weather"]
    assert served, "no get_weather call reached the server"
    assert sum(s["server/tool_calls"] for s in smoke["steps"]) == len(served)


def test_verify_saw_tool_calls_with_their_outputs(smoke: dict) -> None:
    # A call whose result TRL dropped (the turn ran on past the token limit) reaches verify
    # without its output, and weather's verify pays nothing for it: every reward was 0 so.
    verified = [c for c in smoke["calls"] if c["route"] == "verify"]
    assert any(c["tool_called"] for c in verified), "no rollout reached verify with a call and its output"
    assert sum(c["outputs"] for c in verified) > 0


def test_advantages_are_nonzero_exactly_on_mixed_groups(smoke: dict) -> None:
    for step in smoke["steps"]:
        assert step["groups/uniform_advantage_abs_max"] == pytest.approx(0.0, abs=1e-6)
        if step["groups/mixed_share"] > 0:
            assert step["groups/mixed_with_nonzero_advantage"] == 1.0
            assert step["grad_norm"] > 0


def test_the_metrics_file_makes_a_training_report(smoke: dict, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from gymkit.cli import build_app

    metrics = smoke["report"] / "metrics.jsonl"
    args = ["training-report", "--metrics", str(metrics), "--output", str(tmp_path)]
    result = CliRunner().invoke(build_app(["training_report"]), [*args, "--step-col", "step", "--train-col", "reward"])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "training.json").read_text())
    assert report["columns"]["train"] == "reward" and report["kind"] == "smoke"
    assert report["steps"]["count"] == len(smoke["steps"])
    assert (tmp_path / "training_curves.png").stat().st_size > 0


def test_the_weights_change_when_some_group_was_mixed(smoke: dict) -> None:
    # GRPO's gradient is zero when every group's rewards are equal (the smoke has no KL
    # term), so the weights must move exactly when a group was mixed.
    change = smoke["training"]["run"]["parameter_change"]
    mixed = any(step["groups/mixed_share"] > 0 for step in smoke["steps"])
    assert (change["tensors_changed"] > 0) == mixed
    assert (change["max_abs_change"] > 0) == mixed


def test_some_group_was_mixed_so_parameters_changed(smoke: dict) -> None:
    # With seed 0 the model earns a reward in some rollouts of the first step's groups and
    # not in others; a run where no group ever differed would have trained nothing.
    rewards = [c["reward"] for c in smoke["calls"] if c["route"] == "verify"]
    assert max(rewards) > 0, "every verify answered 0: the rollouts carried no signal"
    assert smoke["training"]["run"]["parameter_change"]["tensors_changed"] > 0
