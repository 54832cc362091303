"""Training evidence (checklist step 6): read a GRPO log, plot its curves, test for improvement.

Logs come as CSV (a W&B "export CSV" of a panel works as is: ``Step``, ``run - train/reward``,
``run - train/reward__MIN``...) or JSONL with nested objects flattened to ``a/b`` names.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from gymkit import __version__
from gymkit.artifacts.io import artifact_bytes, field_problem
from gymkit.artifacts.training import RECORD_KEY, MetricsRecord, TrainingReport
from gymkit.errors import InvalidDataError, UserError
from gymkit.hashing import file_sha256
from gymkit.inputs import iter_json_rows, read_text
from gymkit.profiling.markdown import fmt, table
from gymkit.profiling.output import write_report_folder
from gymkit.profiling.report import shown_path
from gymkit.profiling.table import MAX_MAGNITUDE
from gymkit.profiling.trend import trend

__all__ = [
    "REPORT_FILES",
    "TRAINING_JSON",
    "Training",
    "detect_columns",
    "read_metrics",
    "training_from_file",
    "write_training",
]

TRAINING_JSON = "training.json"
_MARKDOWN, _CURVES = "training.md", "training_curves.png"
REPORT_FILES = (TRAINING_JSON, _MARKDOWN, _CURVES)  # what write_training writes
_STEP_NAMES = ("step", "_step", "global_step", "trainer/global_step", "train/global_step", "iteration", "iter")
_METRIC_WORDS = (("acc",), ("pass",), ("reward",), ("score",))  # in order of preference
_HELD_OUT = ("val", "test", "eval", "bench", "heldout")
_EMPTY = {"", "nan", "null", "none"}


def _base(name: str) -> str:
    """A column's metric name: W&B's ``run name - `` prefix dropped, lower case."""
    return name.rsplit(" - ", 1)[-1].strip().lower()


def read_metrics(path: Path) -> tuple[list[str], list[tuple[int, dict[str, Any]]]]:
    """Column names in file order and ``(line, row)`` pairs (gymkit's record line left out)."""
    names, rows, _ = _read_log(path)
    return names, rows


def _read_log(path: Path) -> tuple[list[str], list[tuple[int, dict[str, Any]]], MetricsRecord | None]:
    if path.suffix.lower() in (".jsonl", ".json", ".ndjson"):
        raw = list(iter_json_rows(path))
        record = _record(path, raw)
        rows = [(line, _flatten(row)) for line, row in raw[record is not None :]]
        names: dict[str, None] = {}
        for _, row in rows:
            names.update(dict.fromkeys(row))
        return list(names), rows, record
    text = read_text(path)  # a regular file, bounded and UTF-8: a FIFO or /dev/zero would never end
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        rows = [(i, row) for i, row in enumerate(reader, start=2)]
        return list(reader.fieldnames or []), rows, None
    except csv.Error as exc:
        raise InvalidDataError(path, None, f"cannot read as CSV: {exc}") from None


def _record(path: Path, rows: list[tuple[int, dict[str, Any]]]) -> MetricsRecord | None:
    """gymkit's record of the run, which only the first line may hold."""
    for i, (line, row) in enumerate(rows):
        if RECORD_KEY not in row:
            continue
        if i:
            raise InvalidDataError(
                path, line, f"{RECORD_KEY} belongs on the first line only (gymkit train writes it there)"
            )
        try:
            return MetricsRecord.model_validate(row[RECORD_KEY])
        except ValidationError as exc:
            raise InvalidDataError(path, line, f"{RECORD_KEY}.{field_problem(exc)}") from None
    return None


def _flatten(row: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out |= _flatten(value, f"{name}/")
        else:
            out[name] = value
    return out


def detect_columns(names: list[str]) -> tuple[str | None, str | None, str | None, list[str]]:
    """(step, train, test, other candidates) by name; min/max band columns of W&B are skipped."""
    usable = [n for n in names if not re.search(r"__(min|max|step)$", n, re.IGNORECASE)]
    step = next((n for wanted in _STEP_NAMES for n in usable if _base(n) == wanted), None)
    step = step or next((n for n in usable if _base(n).endswith("step")), None)

    def pick(held_out: bool) -> list[str]:
        found = []
        for words in _METRIC_WORDS:
            for n in usable:
                base = _base(n)
                if n == step or not any(w in base for w in words) or n in found:
                    continue
                if any(h in base for h in _HELD_OUT) == held_out:
                    found.append(n)
        return found

    train, test = pick(False), pick(True)
    # A bare "reward" is a training metric; prefer columns that say "train" when there are several.
    train.sort(key=lambda n: "train" not in _base(n))
    others = train[1:] + test[1:]
    return step, train[0] if train else None, test[0] if test else None, others


def _number(value: Any, path: Path, line: int, column: str) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    else:
        text = str(value).strip()
        if text.lower() in _EMPTY:
            return None
        try:
            number = float(text)
        except ValueError:
            raise InvalidDataError(path, line, f"column {column!r}: {text[:40]!r} is not a number") from None
    if not math.isfinite(number):
        return None
    if abs(number) > MAX_MAGNITUDE:  # window means of such numbers overflow to infinity
        raise InvalidDataError(path, line, f"column {column!r}: {number:g} is out of range (at most {MAX_MAGNITUDE:g})")
    return number


def _series(path: Path, rows: list[tuple[int, dict[str, Any]]], step: str, column: str) -> tuple[np.ndarray, ...]:
    """Steps ascending and the column's values; rows without a value are skipped, repeated steps averaged."""
    by_step: dict[float, list[float]] = {}
    for line, row in rows:
        x, y = _number(row.get(step), path, line, step), _number(row.get(column), path, line, column)
        if x is not None and y is not None:
            by_step.setdefault(x, []).append(y)
    steps = np.array(sorted(by_step))
    return steps, np.array([float(np.mean(by_step[s])) for s in steps])


@dataclass
class Training:
    report: dict[str, Any]
    curves: dict[str, tuple[np.ndarray, np.ndarray]]


def training_from_file(
    path: Path,
    *,
    step_col: str | None = None,
    train_col: str | None = None,
    test_col: str | None = None,
    alpha: float = 0.05,
    server_dir: Path | None = None,
) -> Training:
    """The report of one training log; ``server_dir`` is the server whose report this becomes."""
    names, rows, record = _read_log(path)
    step, train, test, others = detect_columns(names)
    step, train, test = step_col or step, train_col or train, test_col or test
    for flag, value in (("--step-col", step), ("--train-col", train)):
        if value is None:
            raise UserError(f"{path}: no {flag[2:-4]} column found among {names}", hint=f"name it with {flag}")
    for flag, value in (("--step-col", step), ("--train-col", train), ("--test-col", test)):
        if value is not None and value not in names:
            raise UserError(f"{path}: no column {value!r}", hint=f"{flag} takes one of: {', '.join(names)}")
    assert step is not None and train is not None
    curves: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    report: dict[str, Any] = {
        "schema_version": TrainingReport.SCHEMA_VERSION,
        "gymkit_version": __version__,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        # Committed with the server: a path that only exists on this machine would fail GYM602 elsewhere.
        "metrics_file": {"path": shown_path(path, server_dir), "sha256": file_sha256(path)},
        "columns": {"step": step, "train": train, "test_benchmark": test, "other_candidates": others},
        # From the log, never from an earlier report: a smoke's log stays a smoke whoever reports it.
        "kind": record.kind if record else "external",
    }
    if record is not None:
        report["run"] = {"settings": record.settings, "gymkit_version": record.gymkit_version}
    for key, column in (("train", train), ("test_benchmark", test)):
        if column is None:
            continue
        steps, values = _series(path, rows, step, column)
        if key == "train" and len(values) < 3:
            raise UserError(f"{path}: column {column!r} has {len(values)} numeric values; a trend needs 3 or more")
        if not len(values):
            continue
        report[key] = {"column": column} | trend(steps, values, alpha)
        curves[column] = (steps, values)
    all_steps = np.concatenate([s for s, _ in curves.values()])
    report["steps"] = {
        "count": len(np.unique(all_steps)),
        "first": float(all_steps.min()),
        "last": float(all_steps.max()),
    }
    # A benchmark evaluated fewer than 3 times cannot be tested; it then neither helps nor hurts.
    test_part = report.get("test_benchmark")
    testable = test_part is not None and test_part["p_value"] is not None
    report["improved"] = report["train"]["improved"] and (
        test_part["improved"] if testable and test_part is not None else True
    )
    report["verdict"] = _verdict(report)
    if report["kind"] == "smoke":
        report["verdict"] = "Smoke run: it shows the plumbing works, not that the model learns. " + report["verdict"]
    return Training(report, curves)


def _verdict(report: dict[str, Any]) -> str:
    parts = []
    for key, label in (("train", "training metric"), ("test_benchmark", "test benchmark")):
        part = report.get(key)
        if part:
            if part["p_value"] is None:
                parts.append(f"the {label} `{part['column']}` has {part['points']} points, too few to test")
                continue
            did = "rose significantly" if part["improved"] else "did not rise significantly"
            parts.append(
                f"the {label} `{part['column']}` {did} (mean of first {part['window']} points "
                f"{part['first']:.4g}, of last {part['window']} {part['last']:.4g}; {part['test']}, "
                f"p = {part['p_value']:.3g}, alpha {part['alpha']:g})"
            )
    return "; ".join(parts) + "."


def training_markdown(report: dict[str, Any]) -> str:
    out = [
        "# Training report",
        "",
        f"**{'Improved' if report['improved'] else 'Not shown to improve'}:** {report['verdict']}",
    ]
    out += ["", f"Metrics: `{report['metrics_file']['path']}` (sha256 {report['metrics_file']['sha256'][:12]}),"]
    out += [f"steps {fmt(report['steps']['first'])} to {fmt(report['steps']['last'])}.", ""]
    rows = []
    for key in ("train", "test_benchmark"):
        p = report.get(key)
        if p:
            rows.append([key, p["column"], p["points"], p["first"], p["last"], p["slope"], p["p_value"], p["improved"]])
    out += table(["curve", "column", "points", "first window", "last window", "slope/step", "p (MK)", "improved"], rows)
    out += ["![training curves](training_curves.png)", ""]
    out += ["The trend test is Mann-Kendall (one-sided: the metric increases with step), exact for up to 10",
            "points without ties, normal approximation with tie correction otherwise. A curve counts as",
            "improved when p < alpha and the mean of the last window exceeds that of the first.", ""]  # fmt: skip
    return "\n".join(out)


def write_training(result: Training, folder: Path) -> None:
    from gymkit.profiling.plots import training_plot

    files = {
        _CURVES: training_plot(result.curves),
        _MARKDOWN: training_markdown(result.report).encode(),
    }
    report = TrainingReport.model_validate(result.report | {"files": sorted([*files, TRAINING_JSON])})
    files[TRAINING_JSON] = artifact_bytes(report)
    write_report_folder(folder, files, TRAINING_JSON)
