"""`gymkit profile` on rollouts of a multi-reward server: per objective, its mean and its share of mixed prompts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gymkit.artifacts.io import read_artifact
from gymkit.artifacts.profile import RewardProfile
from gymkit.errors import InvalidDataError
from gymkit.profiling import profile_files, write_profile

from .conftest import rollout


def _rows() -> list[dict[str, object]]:
    # Task 0: correctness varies, format never does; task 1: both constant; task 2 has no "format".
    rows = [rollout(c, task=0, reward_components={"correctness": c, "format": 1.0}) for c in (1.0, 0.0, 1.0, 0.0)]
    rows += [rollout(1.0, task=1, reward_components={"correctness": 1.0, "format": 0.0}) for _ in range(4)]
    rows += [rollout(0.5, task=2, reward_components={"correctness": 0.5}) for _ in range(4)]
    return rows


def test_each_component_has_its_mean_and_share_of_mixed_prompts(write, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    profile = profile_files([write(_rows())])
    components = profile.report["reward_components"]
    assert components == {
        "correctness": {
            "num_rollouts": 12,
            "num_prompts": 3,
            "mean": pytest.approx(2 / 3),
            "mixed": pytest.approx(1 / 3),
        },
        "format": {"num_rollouts": 8, "num_prompts": 2, "mean": pytest.approx(0.5), "mixed": 0.0},
    }
    # Upstream's per-task statistics (mean/<field>) do not descend into the mapping; neither do gymkit's.
    assert not any("correctness" in key for row in profile.per_task[0] for key in row)
    write_profile(profile, tmp_path / "out", plots=False)
    report = read_artifact(tmp_path / "out" / "reward_profile.json", RewardProfile)
    assert report.reward_components is not None and report.reward_components["format"].mixed == 0.0
    markdown = (tmp_path / "out" / "reward_profile.md").read_text()
    assert "## Reward components" in markdown
    assert "| correctness | 0.667 | 33.3% | 12 | 3 |" in markdown and "| format | 0.500 | 0.0% | 8 | 2 |" in markdown


def test_single_reward_rollouts_have_no_components_field(write, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    profile = profile_files([write([rollout(r, task=0) for r in (0, 1)])])
    assert "reward_components" not in profile.report
    write_profile(profile, tmp_path / "out", plots=False)
    assert "reward_components" not in json.loads((tmp_path / "out" / "reward_profile.json").read_text())
    assert "Reward components" not in (tmp_path / "out" / "reward_profile.md").read_text()


def test_each_model_section_has_its_own_components(write) -> None:  # type: ignore[no-untyped-def]
    x = write([rollout(1.0, task=0, model="x", reward_components={"a": v}) for v in (1.0, 0.0)], "x.jsonl")
    y = write([rollout(1.0, task=0, model="y", reward_components={"a": 1.0})], "y.jsonl")
    by_model = profile_files([x, y]).report["by_model"]
    assert by_model["x"]["reward_components"]["a"]["mixed"] == 1.0
    assert by_model["y"]["reward_components"]["a"] == {"num_rollouts": 1, "num_prompts": 1, "mean": 1.0, "mixed": 0.0}


@pytest.mark.parametrize(
    ("components", "message"),
    [
        ({"a": "1"}, r"rollouts.jsonl:2: reward_components.a must be a finite number, got '1'"),
        ({"a": True}, r"rollouts.jsonl:2: reward_components.a must be a finite number, got True"),
        ([1.0], r"rollouts.jsonl:2: reward_components must be a mapping"),
        ({"a": 1e300}, r"rollouts.jsonl:2: reward_components.a 1e\+300 is out of range"),
    ],
)
def test_a_component_that_is_not_a_number_names_the_file_and_line(write, components: object, message: str) -> None:  # type: ignore[no-untyped-def]
    path = write([rollout(1.0, task=0), rollout(1.0, task=0, reward_components=components)])
    with pytest.raises(InvalidDataError, match=message):
        profile_files([path])
