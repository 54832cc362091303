"""Server trees for the checklist tests: the complete `good` server, and broken variants of it.

A broken server is `servers/good` with the files of `servers/broken/CASE/` copied over it
and the paths listed in that folder's `.remove` deleted. Reports are written last, with
hashes of the tree as it then is, so they are fresh unless a test changes something after.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gymkit.artifacts.profile import Dataset, Failures, FileHash, Prompts, Reward, RewardProfile, Suspicious
from gymkit.artifacts.training import Columns, Curve, Steps, TrainingReport
from gymkit.hashing import file_sha256, server_code_sha256
from gymkit.profiling.stats import histogram, summary

HERE = Path(__file__).parent
GOOD = HERE / "servers" / "good"
BROKEN = HERE / "servers" / "broken"
BROKEN_CASES = sorted(p.name for p in BROKEN.iterdir() if p.is_dir())

# The fixture servers have their own tests/test_app.py; they are run by the checks, not by this suite.
collect_ignore_glob = ["servers/*"]


_REWARDS = np.array([1.0] * 11 + [0.0] * 9)  # mean 0.55, as the profiler would summarise it
_REWARD = Reward.model_validate(
    summary(_REWARDS)
    | {
        "histogram": histogram(_REWARDS),
        "binary": True,
        "per_prompt": {"mean": summary(_REWARDS), "std": summary(np.zeros(len(_REWARDS)))},
    }
)


def write_reports(
    server: Path, *, profile: dict[str, Any] | None = None, training: dict[str, Any] | None = None
) -> None:
    """Fresh reward-profile and training reports for ``server``, built through their models.

    Keys in the dicts replace the model's after it is dumped, so a test can write a report
    the checks must refuse.
    """
    train = server / "data" / "train.jsonl"
    rows = sum(1 for line in train.read_text().splitlines() if line.strip()) if train.is_file() else 0
    prompts = {"all_fail": rows // 4, "all_pass": rows // 4, "mixed": rows - 2 * (rows // 4)}
    body = RewardProfile(
        schema_version=RewardProfile.SCHEMA_VERSION,
        gymkit_version="0.1.0",
        created_at="2026-01-01T00:00:00Z",
        server=server.name,
        models=["Qwen/Qwen3-4B"],
        sampling={"temperature": 1.0, "top_p": 1.0, "max_output_tokens": 512, "seed": None},
        dataset=Dataset(path="data/train.jsonl", sha256=file_sha256(train) if train.is_file() else "", num_rows=rows),
        server_code_sha256=server_code_sha256(server),
        rollouts_files=[],
        pass_threshold=1.0,
        num_rollouts=rows * 16,
        num_prompts=rows,
        samples_per_prompt=16,
        samples_per_prompt_range=[16, 16],
        reward=_REWARD,
        pass_at_k={},
        pass_at_k_prompts={},
        max_at_k={},
        prompts=Prompts(all_fail=0.25, all_pass=0.25, mixed=0.5, counts=prompts, verdict=None),
        tool_calls={},
        usage={},
        failures=Failures(files=[], count=0, terminal=0, rate=0.0, classes={}),
        suspicious=Suspicious(threshold=1.0, rewarded=rows * 4, read=rows * 4, flagged=0, by_flag={}, examples=[]),
        per_task=[],
        files=["reward_profile.json"],
    ).model_dump(exclude_unset=True)
    body.update(profile or {})
    folder = server / "reports" / "reward_profile"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "reward_profile.json").write_text(json.dumps(body, indent=2))

    metrics = server / "reports" / "training" / "metrics.csv"
    curve = Curve(
        column="reward", points=20, window=3, first=0.2, last=0.58, first_value=0.18, last_value=0.6,
        slope=0.02, test="mann-kendall (one-sided, increasing)", p_value=0.001,
        mann_kendall={"test": "mann-kendall", "method": "normal", "n": 20, "p_value": 0.001}, alpha=0.05, improved=True,
    )  # fmt: skip
    report = TrainingReport(
        schema_version=TrainingReport.SCHEMA_VERSION,
        gymkit_version="0.1.0",
        created_at="2026-01-01T00:00:00Z",
        metrics_file=FileHash(
            path="reports/training/metrics.csv", sha256=file_sha256(metrics) if metrics.is_file() else ""
        ),
        columns=Columns(step="step", train="reward", test_benchmark=None, other_candidates=[]),
        train=curve,
        steps=Steps(count=20, first=1, last=20),
        improved=True,
        verdict="the training metric `reward` rose significantly.",
        files=["training.json"],
    ).model_dump(exclude_unset=True)
    report.update(training or {})
    (server / "reports" / "training" / "training.json").write_text(json.dumps(report, indent=2))


def prompt_shares(all_fail: float, all_pass: float, mixed: float) -> dict[str, Any]:
    """A profile's ``prompts`` section with these shares, to pass to :func:`write_reports`."""
    return Prompts(all_fail=all_fail, all_pass=all_pass, mixed=mixed, counts={}, verdict=None).model_dump()


def build_server(root: Path, case: str | None = None, name: str | None = None) -> Path:
    """``root/resources_servers/NAME``: the good server, or the good server broken as ``case``."""
    target = root / "resources_servers" / (name or case or "good")
    shutil.copytree(GOOD, target, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    if case is not None:
        overlay = BROKEN / case
        shutil.copytree(overlay, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".remove", "__pycache__"))
        removals = overlay / ".remove"
        for rel in removals.read_text().split() if removals.is_file() else []:
            path = target / rel
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    write_reports(target)
    return target


@pytest.fixture
def make_server(tmp_path: Path) -> Callable[..., Path]:
    def make(case: str | None = None, name: str | None = None) -> Path:
        return build_server(tmp_path, case, name)

    return make
