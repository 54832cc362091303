"""Reward profiles read across: NeMo Gym's ng_reward_profile on a file gymkit wrote, gymkit profile on upstream's.

Both profilers must get the same figures from the same file: per task and overall, every
``<stat>/<field>`` both compute (mean reward first), and pass@k. ng_reward_profile computes no
pass@k, so it is taken from upstream's own per-rollout rewards (its ``rollout_infos``) with the
unbiased estimator and compared with gymkit's.
"""

from __future__ import annotations

import json
import subprocess
import sys
from math import comb
from pathlib import Path

import pytest

from gymkit.testing.environment import Environment
from tests.nemo.model import planned_model

pytestmark = [pytest.mark.slow, pytest.mark.nemo]

REPO = Path(__file__).parents[2]
GYMKIT = str(Path(sys.executable).parent / "gymkit")
SAMPLES = REPO.parent / "shared" / "data" / "nemo-gym-samples"
_THREE_EACH = ("--api", "chat", "-k", "3", "-q", "-o")
_LEGACY = "import sys; from nemo_gym.cli.legacy import main; sys.argv[0] = sys.argv.pop(1); main()"


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _inputs(rollouts: Path) -> Path:
    """The materialized inputs ng_reward_profile aligns on, one per rollout: its prompt and indices."""
    path = rollouts.with_name(f"{rollouts.stem}_materialized_inputs.jsonl")
    keep = ("responses_create_params", "agent_ref", "_ng_task_index", "_ng_rollout_index")
    lines = [json.dumps({k: row[k] for k in keep if k in row}) for row in _rows(rollouts)]
    path.write_text("\n".join(lines) + "\n")
    return path


def _profile_args(rollouts: Path) -> list[str]:
    return [f"+materialized_inputs_jsonl_fpath={_inputs(rollouts)}", f"+rollouts_jsonl_fpath={rollouts}"]


def _upstream_profile(env: Environment, rollouts: Path) -> tuple[list[dict], dict]:
    done = subprocess.run(
        [str(env.python), "-c", _LEGACY, "ng_reward_profile", *_profile_args(rollouts)],
        cwd=rollouts.parent,  # it leaves an outputs/ folder in its working directory
        env=env.variables(NO_COLOR="1"),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    tasks = _rows(rollouts.with_name(f"{rollouts.stem}_reward_profiling.jsonl"))
    agents = json.loads(rollouts.with_name(f"{rollouts.stem}_agent_metrics.json").read_text())
    assert len(agents) == 1
    return tasks, agents[0]


def _gymkit_profile(rollouts: Path) -> tuple[dict[int, dict], dict]:
    out = rollouts.parent / "gymkit-profile"
    done = subprocess.run(
        [GYMKIT, "profile", "--rollouts", str(rollouts), "--output", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    per_task = {row["_ng_task_index"]: row for row in _rows(out / "per_task.jsonl")}
    return per_task, json.loads((out / "reward_profile.json").read_text())


def _pass_at_k(tasks: list[dict], k: int, threshold: float) -> float:
    values = []
    for task in tasks:
        rewards = [info["reward"] for info in task["rollout_infos"]]
        n, passed = len(rewards), sum(r >= threshold for r in rewards)
        values.append(1.0 - comb(n - passed, k) / comb(n, k))
    return sum(values) / len(values)


def _same_figures(env: Environment, rollouts: Path) -> None:
    upstream_tasks, upstream_agent = _upstream_profile(env, rollouts)
    gymkit_tasks, report = _gymkit_profile(rollouts)
    assert upstream_agent["mean/reward"] == pytest.approx(report["reward"]["mean"], abs=1e-9)
    assert {t["_ng_task_index"] for t in upstream_tasks} == set(gymkit_tasks)
    compared = 0
    for task in upstream_tasks:
        ours = gymkit_tasks[task["_ng_task_index"]]
        for key, value in task.items():
            if "/" in key and isinstance(value, int | float) and key in ours:
                assert ours[key] == pytest.approx(value, abs=1e-9), (task["_ng_task_index"], key)
                compared += 1
        assert "mean/reward" in ours
    assert compared >= 5 * len(upstream_tasks)  # the five stats of reward at least
    threshold = float(report["pass_threshold"])
    for k, value in report["pass_at_k"].items():
        assert value == pytest.approx(_pass_at_k(upstream_tasks, int(k), threshold), abs=1e-9), k


def test_ng_reward_profile_reads_what_gymkit_wrote(nemo_runtime: Environment, tmp_path: Path) -> None:
    server = REPO / "resources_servers" / "weather"
    rollouts = tmp_path / "gymkit_rollouts.jsonl"
    with planned_model(server) as (_, url):
        done = subprocess.run(
            [GYMKIT, "rollouts", str(server), "--base-url", url, "--api-key", "x", *_THREE_EACH, str(rollouts)],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(_rows(rollouts)) == 15
    _same_figures(nemo_runtime, rollouts)


@pytest.mark.parametrize("name", ["blackjack", "mcqa"])
def test_gymkit_profile_reads_what_upstream_wrote(name: str, nemo_runtime: Environment, tmp_path: Path) -> None:
    source = SAMPLES / name / "example_rollouts.jsonl"
    if not source.is_file():
        pytest.skip(f"no upstream sample at {source}")
    if any("_ng_task_index" not in row for row in _rows(source)):
        pytest.skip(f"{source} predates _ng_task_index, which ng_reward_profile aligns on")
    rollouts = tmp_path / "upstream_rollouts.jsonl"
    rollouts.write_bytes(source.read_bytes())
    _same_figures(nemo_runtime, rollouts)
