"""The reward figures of a profile are numbers or null, as the profiler writes them, and nothing else."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gymkit.artifacts import RewardProfile, read_artifact
from gymkit.cards.gather import gather_card
from gymkit.cards.html import render_card
from gymkit.checks import CheckOptions, run_checks
from gymkit.errors import InvalidDataError
from gymkit.prbody import render_pr_body
from gymkit.profiling import profile_files, write_profile
from gymkit.profiling.stats import _DISCRETE_MAX
from gymkit.project import ServerPaths
from tests.checks.conftest import build_server
from tests.profiling.conftest import rollout, write_rows

PROFILE = Path("reports/reward_profile/reward_profile.json")


def _profile(folder: Path, rewards: tuple[float, ...] = (0.0, 1.0)) -> Path:
    rows = [rollout(r, task=t) for t in range(2) for r in rewards]
    write_profile(profile_files([write_rows(folder / "r.jsonl", rows)]), folder / "profile", plots=False)
    return folder / "profile" / "reward_profile.json"


def _set(path: Path, where: str, value: Any) -> Path:
    body = json.loads(path.read_text())
    *parents, key = where.split("/")  # "/": a quantile's key has a dot
    node = body
    for part in parents:
        node = node[part]
    node[key] = value
    path.write_text(json.dumps(body))
    return path


def _problem(path: Path) -> str:
    with pytest.raises(InvalidDataError) as exc:
        read_artifact(path, RewardProfile)
    text = str(exc.value)
    assert "\n" not in text and text.startswith(f"{path}: "), text
    return text.removeprefix(f"{path}: ")


@pytest.mark.parametrize(
    ("where", "value", "expected"),
    [
        ("reward/mean", "oops", "reward.mean: Input should be a valid number"),
        ("reward/std", "0.5", "reward.std: Input should be a valid number"),  # text, even if it reads as one
        ("reward/count", 2.5, "reward.count: Input should be a valid integer"),
        ("reward/binary", "yes", "reward.binary: Input should be a valid boolean"),
        ("reward/quantiles/0.5", "oops", "reward.quantiles.0.5: Input should be a valid number"),
        ("reward/histogram/counts", ["many"], "reward.histogram.counts.0: Input should be a valid integer"),
        ("reward/per_prompt/mean/max", "oops", "reward.per_prompt.mean.max: Input should be a valid number"),
        ("reward/median", 0.5, "reward.median: unknown key"),
        ("reward/histogram/bins", 10, "reward.histogram.bins: unknown key"),
    ],
)
def test_a_reward_figure_the_writer_does_not_write_is_named_by_file_and_field(
    tmp_path: Path, where: str, value: Any, expected: str
) -> None:
    path = _set(_profile(tmp_path), where, value)
    assert _problem(path).startswith(expected)


def test_what_the_writer_writes_reads_back_as_written(tmp_path: Path) -> None:
    path = _profile(tmp_path)
    written = json.loads(path.read_text())
    assert "values" in written["reward"]["histogram"]  # two distinct rewards: counted by value
    assert read_artifact(path, RewardProfile).model_dump(exclude_unset=True)["reward"] == written["reward"]
    (tmp_path / "spread").mkdir()
    spread = _profile(tmp_path / "spread", tuple(i / (_DISCRETE_MAX + 5) for i in range(_DISCRETE_MAX + 5)))
    body = json.loads(spread.read_text())
    assert "values" not in body["reward"]["histogram"]  # too many distinct values: bins only
    assert read_artifact(spread, RewardProfile).reward.histogram.values is None
    # No rollouts: the writer's null figures, and an empty histogram.
    body["reward"] |= {"count": 0, "mean": None, "std": None, "min": None, "max": None, "quantiles": {}}
    body["reward"]["histogram"] = {"edges": [], "counts": []}
    spread.write_text(json.dumps(body))
    assert read_artifact(spread, RewardProfile).reward.mean is None


def test_oops_as_the_mean_reward_reaches_no_reader_as_a_figure(tmp_path: Path) -> None:
    server = build_server(tmp_path)
    _set(server / PROFILE, "reward/mean", "oops")
    findings = run_checks(server, options=CheckOptions(verify_timeout=5), select=["GYM501"]).findings
    assert [(f.code, f.status) for f in findings] == [("GYM501", "fail")]
    assert "reward.mean: Input should be a valid number" in findings[0].message
    body = render_pr_body(ServerPaths(server))
    assert "mean reward oops" not in body
    assert "`reward_profile/reward_profile.json` cannot be read (reward.mean: Input should be a valid number" in body
    card = render_card(gather_card(ServerPaths(server)))
    assert "oops" not in card and "reward_profile.json cannot be read: reward.mean" in card


def test_a_profile_made_before_the_hack_flags_still_reads(tmp_path: Path) -> None:
    committed = Path(__file__).resolve().parents[2] / "resources_servers/weather/reports/reward_profile"
    data = json.loads((committed / "reward_profile.json").read_bytes())
    del data["suspicious"]
    older = tmp_path / "reward_profile.json"
    older.write_text(json.dumps(data))
    profile = read_artifact(older, RewardProfile)
    assert profile.suspicious is None and profile.reward.mean == data["reward"]["mean"]
