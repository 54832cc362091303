"""``reports/reward_profile/reward_profile.json``: what ``gymkit profile`` measured, and from what.

The reward figures are typed as the profiler writes them: numbers, or null where there were no
rollouts, because ``gymkit pr-body`` and the card print them as they are. The other figure
groups (``tool_calls``, ``usage``) are open dicts: the profiler adds figures as it learns to
measure them, and readers look them up by name. What the checks decide on (provenance, sizes, prompt shares, failures,
suspicious rewards) is typed.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from gymkit.artifacts.io import Artifact

__all__ = [
    "Dataset",
    "Failures",
    "FileHash",
    "Histogram",
    "ModelSection",
    "PerPrompt",
    "PerTaskFile",
    "Prompts",
    "Reward",
    "RewardComponent",
    "RewardProfile",
    "Section",
    "Summary",
    "Suspicious",
]


class _Figures(BaseModel):
    # Strict: a figure written as "0.5" or true is not the writer's, and would be printed as it is.
    model_config = ConfigDict(extra="forbid", strict=True)


# Fields in the writer's order (gymkit.profiling.stats, .sections), which is the file's order.
class Summary(_Figures):
    """count, mean, sample std, min, max and quantiles; null figures when there were no values."""

    count: int
    mean: float | None
    std: float | None
    min: float | None
    max: float | None
    quantiles: dict[str, float]


class Histogram(_Figures):
    """Equal-width bins; ``values`` (rollouts per distinct value) only when there are few values."""

    edges: list[float]
    counts: list[int]
    values: dict[str, int] | None = None


class PerPrompt(_Figures):
    """The spread across prompts of each prompt's mean reward and of its reward std."""

    mean: Summary
    std: Summary


class Reward(Summary):
    histogram: Histogram
    binary: bool
    per_prompt: PerPrompt


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FileHash(_Strict):
    path: str
    sha256: str


class Dataset(_Strict):
    """The task file the rollouts came from; all None when the profile was made without one."""

    path: str | None
    sha256: str | None
    num_rows: int | None


class Prompts(_Strict):
    """Shares of prompts whose samples all fail, all pass, or differ (None without rollouts)."""

    all_fail: float | None
    all_pass: float | None
    mixed: float | None
    counts: dict[str, int]
    verdict: str | None


class PerTaskFile(_Strict):
    """Per-task rows too many to inline, kept in a JSONL file next to the report."""

    file: str
    num_tasks: int


PerTask = list[dict[str, Any]] | PerTaskFile


class RewardComponent(_Strict):
    """One objective of a multi-reward server (``reward_components`` in its verify responses)."""

    num_rollouts: int
    num_prompts: int
    mean: float | None
    # The share of its prompts where the objective is not the same in every sample.
    mixed: float | None


class Section(_Strict):
    """The figures of one set of rollouts: every model's, or one model's."""

    num_rollouts: int
    num_prompts: int
    samples_per_prompt: int
    samples_per_prompt_range: list[int]
    reward: Reward
    pass_at_k: dict[str, float | None]
    pass_at_k_prompts: dict[str, int]
    max_at_k: dict[str, float | None]
    prompts: Prompts
    tool_calls: dict[str, Any]
    usage: dict[str, Any]
    # Only for rollouts that carry reward_components; absent, the file reads as it did before.
    reward_components: dict[str, RewardComponent] | None = None


class ModelSection(Section):
    sampling: dict[str, Any] | list[dict[str, Any]] | None
    per_task: PerTask


class Failures(_Strict):
    """Failed attempts read from the ``<stem>_failures.jsonl`` side files."""

    files: list[str]
    count: int
    terminal: int
    rate: float | None
    classes: dict[str, int]


class Suspicious(_Strict):
    """Rewarded rollouts whose answer looks like a verifier was fooled."""

    threshold: float
    rewarded: int
    read: int
    flagged: int
    by_flag: dict[str, int]
    examples: list[dict[str, Any]]


class _Provenance(_Strict):
    gymkit_version: str
    created_at: str
    server: str | None
    models: list[str]
    # One setting, or the list of them when the rollouts were sampled differently.
    sampling: dict[str, Any] | list[dict[str, Any]] | None
    dataset: Dataset
    server_code_sha256: str | None
    rollouts_files: list[FileHash]
    pass_threshold: float
    # How `gymkit profile` collected the rollouts; absent when it profiled existing files.
    collection: dict[str, Any] | None = None


# Bases in this order so the file reads as it always has: version, provenance, figures.
class RewardProfile(Section, _Provenance, Artifact):
    """The reward profile of a server's rollouts, with hashes of what it was computed from."""

    SCHEMA_NAME: ClassVar[str] = "reward_profile"

    failures: Failures
    # Absent in profiles made before the hack flags existed; they still read (GYM506 skips them).
    suspicious: Suspicious | None = None
    # Present when the rollouts come from more than one model.
    by_model: dict[str, ModelSection] | None = None
    per_task: PerTask
    files: list[str] = []
