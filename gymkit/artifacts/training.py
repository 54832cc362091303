"""``reports/training/training.json``: the trend test of a training log (checklist step 6)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from gymkit.artifacts.io import Artifact
from gymkit.artifacts.profile import FileHash

__all__ = ["RECORD_KEY", "Columns", "Curve", "MetricsRecord", "Steps", "TrainingReport"]

# The key of the first line of a metrics log written by `gymkit train`; any other log lacks it.
RECORD_KEY = "_gymkit"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Columns(_Strict):
    """The log's columns the report used, and the other metric columns it could have."""

    step: str
    train: str
    test_benchmark: str | None
    other_candidates: list[str]


class Curve(_Strict):
    """One metric over steps: first and last windows, slope, and the one-sided trend test."""

    column: str
    points: int
    window: int
    first: float | None
    last: float | None
    first_value: float | None
    last_value: float | None
    slope: float | None
    test: str
    p_value: float | None  # None: too few points to test
    mann_kendall: dict[str, Any]
    window_test: dict[str, Any] | None = None  # absent below 2 points
    alpha: float
    improved: bool


class MetricsRecord(_Strict):
    """The first line of ``gymkit train``'s metrics.jsonl: what kind of run wrote the log, and how.

    The report's ``kind`` comes from here, so remaking the report from the log cannot turn a
    smoke into training evidence.
    """

    kind: Literal["smoke", "training"]
    settings: dict[str, Any]  # TrainSettings as written, model and steps among them
    gymkit_version: str


class Steps(_Strict):
    count: int
    first: float
    last: float


class TrainingReport(Artifact):
    """What ``gymkit training-report`` (or ``gymkit train``) concluded from a metrics file."""

    SCHEMA_NAME: ClassVar[str] = "training"

    gymkit_version: str
    created_at: str
    metrics_file: FileHash
    columns: Columns
    train: Curve
    test_benchmark: Curve | None = None  # absent when the log has no held-out metric
    steps: Steps
    improved: bool
    verdict: str
    # From the log's MetricsRecord: "smoke" shows the plumbing only, "training" is evidence;
    # "external" for a log gymkit did not write (TRL, W&B). Absent in reports from before.
    kind: Literal["smoke", "training", "external"] | None = None
    run: dict[str, Any] | None = None
    files: list[str] = []
