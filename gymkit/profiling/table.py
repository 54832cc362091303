"""A compact column store of the numbers the profile needs, filled one rollout row at a time.

Rollout bodies are dropped as soon as a row is read; what stays is about a hundred bytes per
rollout (task, model, reward, usage, call counts), which is what exact medians, quantiles and
pass@k need. A million rollouts take well under 100 MB.
"""

from __future__ import annotations

from array import array
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from gymkit.artifacts import RolloutMeta, rollout_meta
from gymkit.errors import InvalidDataError
from gymkit.indices import RolloutIndices
from gymkit.inputs import finite_number, iter_json_rows
from gymkit.profiling.grouping import NO_TOOLS, model_name, numeric_fields, task_key, tool_use
from gymkit.profiling.hacks import HackFlags

__all__ = ["MAX_MAGNITUDE", "Column", "RolloutTable", "failures_path"]

# Sums and squares of a million numbers this size stay far below the float maximum (1.8e308), so
# means, variances and correlations stay finite; no real reward or count comes near it.
MAX_MAGNITUDE = 1e100
_MAGNITUDE_HINT = f"the profile takes numbers of at most {MAX_MAGNITUDE:g} in size; is verify returning this?"
_RECOLLECT = "collect the rollouts again (gymkit rollouts NAME) instead of editing or concatenating files"


@dataclass
class Column:
    """One numeric field: the rows that have it and their values.

    Most fields are in every row from their first on; their row numbers are implied
    (``start`` onwards) and only stored once a row goes without the field.
    """

    start: int
    values: array[float] = field(default_factory=lambda: array("d"))
    _rows: array[int] | None = None

    def append(self, row: int, value: float) -> None:
        if self._rows is None and row != self.start + len(self.values):
            self._rows = array("i", range(self.start, self.start + len(self.values)))
        if self._rows is not None:
            self._rows.append(row)
        self.values.append(value)

    def rows(self) -> np.ndarray:
        if self._rows is None:
            return np.arange(self.start, self.start + len(self.values), dtype=np.int32)
        return np.frombuffer(self._rows, dtype=np.int32) if self._rows else np.zeros(0, np.int32)


@dataclass
class RolloutTable:
    tasks: dict[int | str, int] = field(default_factory=dict)
    models: dict[str, int] = field(default_factory=dict)
    tools: dict[str, int] = field(default_factory=dict)
    task: array[int] = field(default_factory=lambda: array("i"))
    model: array[int] = field(default_factory=lambda: array("i"))
    reward: array[float] = field(default_factory=lambda: array("d"))
    calls: array[int] = field(default_factory=lambda: array("i"))
    invalid: array[int] = field(default_factory=lambda: array("i"))
    errors: array[int] = field(default_factory=lambda: array("i"))
    # Sparse (rollout, tool) -> counts: most rollouts call few of the tools.
    tool_row: array[int] = field(default_factory=lambda: array("i"))
    tool_id: array[int] = field(default_factory=lambda: array("i"))
    tool_calls: array[int] = field(default_factory=lambda: array("i"))
    tool_invalid: array[int] = field(default_factory=lambda: array("i"))
    tool_errors: array[int] = field(default_factory=lambda: array("i"))
    numeric: dict[str, Column] = field(default_factory=dict)
    # A multi-reward verify response's objectives, by name (kept apart: upstream's per-task
    # statistics, which ``numeric`` mirrors, do not descend into the mapping).
    components: dict[str, Column] = field(default_factory=dict)
    # Sampling settings seen, per model (a handful of distinct JSON blobs).
    sampling: dict[str, Counter[bytes]] = field(default_factory=dict)
    sources: list[Path] = field(default_factory=list)
    hacks: HackFlags = field(default_factory=HackFlags)

    def __len__(self) -> int:
        return len(self.reward)

    def add_file(self, path: Path, *, num_tasks: int | None = None, samples: int | None = None) -> None:
        """Every row of ``path``, its indices checked (``num_tasks`` task rows, ``samples`` per task, when known)."""
        self.sources.append(path)
        indices = RolloutIndices(num_tasks=num_tasks, samples=samples)
        for number, row in iter_json_rows(path):
            problem = indices.problem(row, number)
            if problem:
                raise InvalidDataError(path, number, problem, hint=_RECOLLECT)
            self.add_row(row, path, number)
        for number, problem in indices.duplicates()[:1]:
            raise InvalidDataError(path, number, problem, hint=_RECOLLECT)

    def add_row(self, row: dict[str, Any], path: Path | str = "<rows>", line: int | None = None) -> None:
        reward = row.get("reward")
        if not finite_number(reward):
            raise InvalidDataError(
                path, line, f"reward must be a finite number, got {reward!r}", hint="is this a rollouts file?"
            )
        if abs(reward) > MAX_MAGNITUDE:
            raise InvalidDataError(path, line, f"reward {reward:g} is out of range", hint=_MAGNITUDE_HINT)
        numbers = numeric_fields(row)
        for key, value in numbers.items():
            if abs(value) > MAX_MAGNITUDE:
                raise InvalidDataError(path, line, f"{key} {value:g} is out of range", hint=_MAGNITUDE_HINT)
        components = _components(row, path, line)
        index = len(self.reward)
        # Validated once per row: the profiler reads up to millions of them.
        meta = rollout_meta(row)
        model = model_name(row, meta)
        self.task.append(self.tasks.setdefault(task_key(row), len(self.tasks)))
        self.model.append(self.models.setdefault(model, len(self.models)))
        self.reward.append(float(reward))
        for key, value in numbers.items():
            column = self.numeric.get(key) or self.numeric.setdefault(key, Column(index))
            column.append(index, value)
        for key, value in components.items():
            column = self.components.get(key) or self.components.setdefault(key, Column(index))
            column.append(index, value)
        use = tool_use(row)
        if use is NO_TOOLS:
            self.calls.append(0)
            self.invalid.append(0)
            self.errors.append(0)
        else:
            self.calls.append(use.total)
            self.invalid.append(sum(use.invalid.values()))
            self.errors.append(sum(use.errors.values()))
        for name, count in use.calls.items():
            self.tool_row.append(index)
            self.tool_id.append(self.tools.setdefault(name, len(self.tools)))
            self.tool_calls.append(count)
            self.tool_invalid.append(use.invalid.get(name, 0))
            self.tool_errors.append(use.errors.get(name, 0))
        self.sampling.setdefault(model, Counter())[_sampling_blob(row, meta)] += 1
        self.hacks.add(row, float(reward), path, line)

    def view(self, model: str | None = None) -> TableView:
        """Arrays for all rollouts, or for one model's."""
        task = np.frombuffer(self.task, dtype=np.int32) if self.task else np.zeros(0, np.int32)
        mask = None
        if model is not None:
            mask = np.frombuffer(self.model, dtype=np.int32) == self.models[model]
        return TableView(self, mask, task)


class TableView:
    """Numpy views over the table, restricted to one model when a mask is given."""

    def __init__(self, table: RolloutTable, mask: np.ndarray | None, task: np.ndarray) -> None:
        self.table = table
        self.mask = mask
        self.task = self._pick(task)

    def _pick(self, values: np.ndarray) -> np.ndarray:
        return values if self.mask is None else values[self.mask]

    def ints(self, name: str) -> np.ndarray:
        data = getattr(self.table, name)
        return self._pick(np.frombuffer(data, dtype=np.int32) if data else np.zeros(0, np.int32))

    @property
    def reward(self) -> np.ndarray:
        data = self.table.reward
        return self._pick(np.frombuffer(data, dtype=np.float64) if data else np.zeros(0))

    def column(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """``(task ids, values)`` of the rollouts that have the numeric field ``name``."""
        return self._values(self.table.numeric[name])

    def component(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """``(task ids, values)`` of the rollouts whose ``reward_components`` has ``name``."""
        return self._values(self.table.components[name])

    def _values(self, column: Column) -> tuple[np.ndarray, np.ndarray]:
        rows = column.rows()
        values = np.frombuffer(column.values, dtype=np.float64) if column.values else np.zeros(0)
        task = np.frombuffer(self.table.task, dtype=np.int32)[rows] if len(rows) else np.zeros(0, np.int32)
        if self.mask is not None:
            keep = self.mask[rows]
            task, values = task[keep], values[keep]
        return task, values

    def tool_rows(self) -> dict[str, np.ndarray]:
        """The sparse per-tool arrays, restricted to this view's rollouts."""
        t = self.table
        rows = np.frombuffer(t.tool_row, dtype=np.int32) if t.tool_row else np.zeros(0, np.int32)
        out = {"row": rows}
        for name in ("tool_id", "tool_calls", "tool_invalid", "tool_errors"):
            data = getattr(t, name)
            out[name] = np.frombuffer(data, dtype=np.int32) if data else np.zeros(0, np.int32)
        if self.mask is not None:
            keep = self.mask[rows]
            out = {k: v[keep] for k, v in out.items()}
            # Re-number rows to positions within this view so they index the view's arrays.
            out["row"] = np.cumsum(self.mask)[out["row"]] - 1
        return out


def _components(row: dict[str, Any], path: Path | str, line: int | None) -> dict[str, float]:
    """The row's ``reward_components``, each a finite number of a size the sums can hold."""
    components = row.get("reward_components")
    if components is None:
        return {}
    if not isinstance(components, dict):
        raise InvalidDataError(path, line, f"reward_components must be a mapping, got {components!r}")
    out = {}
    for key, value in components.items():
        if not finite_number(value):
            raise InvalidDataError(path, line, f"reward_components.{key} must be a finite number, got {value!r}")
        if abs(value) > MAX_MAGNITUDE:
            raise InvalidDataError(
                path, line, f"reward_components.{key} {value:g} is out of range", hint=_MAGNITUDE_HINT
            )
        out[str(key)] = float(value)
    return out


def _sampling_blob(row: dict[str, Any], meta: RolloutMeta | None) -> bytes:
    if meta is not None and meta.sampling is not None:
        return orjson.dumps(meta.sampling, option=orjson.OPT_SORT_KEYS)
    params = row.get("responses_create_params")
    params = params if isinstance(params, dict) else {}
    keys = ("temperature", "top_p", "max_output_tokens")
    return orjson.dumps({k: params.get(k) for k in keys}, option=orjson.OPT_SORT_KEYS)


def failures_path(rollouts: Path) -> Path:
    """The ``<stem>_failures.jsonl`` side file that rollout collection writes next to its output."""
    return rollouts.with_name(f"{rollouts.stem}_failures.jsonl")
