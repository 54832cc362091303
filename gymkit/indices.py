"""``_ng_task_index`` and ``_ng_rollout_index`` of a rollouts file: one rule for every reader.

``gymkit validate-data``, the checklist and ``gymkit profile`` group rollouts by these keys, so a
duplicate would count one sample twice and a stray index would invent a task. Upstream's
``ng_reward_profile`` refuses repeated keys as well.
"""

from __future__ import annotations

from array import array
from typing import Any

import numpy as np

__all__ = ["ROLLOUT_INDEX", "TASK_INDEX", "RolloutIndices"]

TASK_INDEX = "_ng_task_index"
ROLLOUT_INDEX = "_ng_rollout_index"
# Both indices are packed into one int64 per row, which is what keeps a million rows at 12 bytes each.
_MAX_INDEX = 2**31 - 1


class RolloutIndices:
    """The index pairs of one rollouts file, checked as its rows stream by.

    Each row carries both keys as integers (not bools, not floats), ``0 <= _ng_task_index <
    num_tasks`` and ``0 <= _ng_rollout_index < samples`` when those are known, and no pair repeats.
    Older upstream files carry neither key in any row; they are read as they are (grouped by
    prompt). A file where some rows carry them and others do not is refused.
    """

    def __init__(self, *, num_tasks: int | None = None, samples: int | None = None) -> None:
        self.num_tasks = num_tasks
        self.samples = samples
        self._keys = array("q")
        self._lines = array("i")
        self._indexed: bool | None = None
        self._first_line = 0

    def problem(self, row: dict[str, Any], line: int) -> str | None:
        """What is wrong with this row's indices, or None."""
        indexed = TASK_INDEX in row or ROLLOUT_INDEX in row
        if self._indexed is None:
            self._indexed, self._first_line = indexed, line
        if indexed != self._indexed:
            has, lacks = ("this row", f"line {self._first_line}") if indexed else (f"line {self._first_line}", "this")
            return (
                f"{has} has {TASK_INDEX}/{ROLLOUT_INDEX} and {lacks} has none; "
                "every row of a rollouts file carries both or neither"
            )
        if not indexed:
            return None
        values = []
        for key, bound, what in (
            (TASK_INDEX, self.num_tasks, "task rows"),
            (ROLLOUT_INDEX, self.samples, "samples per task"),
        ):
            if key not in row:
                return f"{key} is missing (every row with indices needs {TASK_INDEX} and {ROLLOUT_INDEX})"
            value = row[key]
            if type(value) is not int:  # bool is an int subclass, and 1.0 is not an index
                return f"{key} must be an integer, got {_short(value)}"
            if value < 0:
                return f"{key} must be 0 or more, got {value}"
            if bound is not None and value >= bound:
                allowed = f"0 to {bound - 1}" if bound else "so none is valid"
                return f"{key} {value} is out of range: there are {bound} {what} ({allowed})"
            if value > _MAX_INDEX:
                return f"{key} {value} is out of range (at most {_MAX_INDEX})"
            values.append(value)
        self._keys.append(values[0] << 32 | values[1])
        self._lines.append(line)
        return None

    def duplicates(self) -> list[tuple[int, str]]:
        """``(line, problem)`` for every row whose pair an earlier row already has, in line order."""
        if len(self._keys) < 2:
            return []
        keys = np.frombuffer(self._keys, dtype=np.int64)
        lines = np.frombuffer(self._lines, dtype=np.int32)
        order = np.argsort(keys, kind="stable")  # stable: the first of equal keys is the earliest line
        ordered = keys[order]
        repeats = np.nonzero(ordered[1:] == ordered[:-1])[0] + 1
        found = []
        for position in repeats:
            first = int(lines[order[np.searchsorted(ordered, ordered[position])]])
            key = int(ordered[position])
            task, rollout = key >> 32, key & 0xFFFFFFFF
            found.append(
                (
                    int(lines[order[position]]),
                    f"{TASK_INDEX} {task} with {ROLLOUT_INDEX} {rollout} repeats line {first}; "
                    "each (task, rollout) pair appears once, or it counts as two samples",
                )
            )
        return sorted(found)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
