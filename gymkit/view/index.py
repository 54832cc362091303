"""An index of rollout files: where each row starts, and the few numbers the list filters on.

A collection of 100,000 rollouts is gigabytes of JSON; the viewer keeps a byte offset and
about 40 bytes of summary per row in flat arrays, and reads a row from disk only when a
page shows it. The one-line prompt preview is kept per task, not per row: every sample of a
task has the same prompt.
"""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from gymkit.audit.suspicious import FLAGS as SUSPICIOUS_FLAGS
from gymkit.audit.suspicious import suspicious
from gymkit.errors import UserError
from gymkit.evaluate.summary import summarise
from gymkit.profiling.grouping import prompt_key
from gymkit.profiling.table import failures_path

__all__ = ["FLAG_BITS", "RolloutIndex", "build_index"]

PREVIEW_CHARS = 160
# One bit per yes/no property of a row; the list's filters are masks over these.
FLAG_BITS: dict[str, int] = {
    "pass": 1 << 0,
    "failure": 1 << 1,  # a failed attempt from the _failures.jsonl side file: no reward, no response
    "tool_called": 1 << 2,
    "tool_error": 1 << 3,
    "truncated": 1 << 4,
    "hollow": 1 << 5,
    "no_usage": 1 << 6,
    "zero_completion": 1 << 7,
    **{f"suspicious_{name}": 1 << (8 + i) for i, name in enumerate(SUSPICIOUS_FLAGS)},
}
SUSPICIOUS_MASK = sum(bit for name, bit in FLAG_BITS.items() if name.startswith("suspicious_"))


@dataclass
class Group:
    """The samples of one prompt in one file: what a GRPO group is."""

    file: int
    task: Any
    preview: str
    rows: array = field(default_factory=lambda: array("i"))


@dataclass
class RolloutIndex:
    files: list[Path] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)  # "rollouts" or "failures", per file
    threshold: float = 1.0
    offset: array = field(default_factory=lambda: array("q"))
    length: array = field(default_factory=lambda: array("i"))
    file: array = field(default_factory=lambda: array("b"))
    group: array = field(default_factory=lambda: array("i"))
    rollout: array = field(default_factory=lambda: array("i"))
    line: array = field(default_factory=lambda: array("i"))
    reward: array = field(default_factory=lambda: array("d"))
    calls: array = field(default_factory=lambda: array("h"))
    tokens: array = field(default_factory=lambda: array("i"))
    flags: array = field(default_factory=lambda: array("i"))
    groups: list[Group] = field(default_factory=list)
    failure_class: dict[int, str] = field(default_factory=dict)  # sparse: only failure rows
    _group_ids: dict[tuple[int, Any], int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.offset)

    def np(self, name: str) -> np.ndarray:
        data = getattr(self, name)
        return np.frombuffer(data, dtype=data.typecode) if len(data) else np.zeros(0, dtype=data.typecode)

    def read(self, row: int) -> dict[str, Any]:
        """The full row ``row``, read from its file."""
        with self.files[self.file[row]].open("rb") as handle:
            handle.seek(self.offset[row])
            return orjson.loads(handle.read(self.length[row]))

    def raw_rows(self, rows: np.ndarray) -> Any:
        """``(row, raw bytes)`` in file order, one open handle per file: text search reads the whole index."""
        handles: dict[int, Any] = {}
        try:
            for row in rows.tolist():
                f = self.file[row]
                handle = handles.get(f) or handles.setdefault(f, self.files[f].open("rb"))
                handle.seek(self.offset[row])
                yield row, handle.read(self.length[row])
        finally:
            for handle in handles.values():
                handle.close()

    def summary(self, row: int) -> dict[str, Any]:
        bits = self.flags[row]
        reward = self.reward[row]
        g = self.groups[self.group[row]]
        return {
            "id": row,
            "file": self.file[row],
            "line": self.line[row],
            "group": self.group[row],
            "task": g.task,
            "rollout": self.rollout[row] if self.rollout[row] >= 0 else None,
            "reward": None if math.isnan(reward) else reward,
            "calls": self.calls[row],
            "output_tokens": self.tokens[row] if self.tokens[row] >= 0 else None,
            "flags": [name for name, bit in FLAG_BITS.items() if bits & bit],
            "failure_class": self.failure_class.get(row),
        }

    # -- building ---------------------------------------------------------------------------------

    def _group_of(self, file: int, row: dict[str, Any]) -> int:
        index = row.get("_ng_task_index")
        task: Any = index if isinstance(index, int) and not isinstance(index, bool) else None
        if task is None:
            task = f"prompt:{prompt_key(row)}" if "responses_create_params" in row else "?"
        key = (file, task)
        found = self._group_ids.get(key)
        if found is None:
            found = self._group_ids[key] = len(self.groups)
            self.groups.append(Group(file, task, _preview(row)))
        elif not self.groups[found].preview:
            self.groups[found].preview = _preview(row)  # a failure row came first and had no prompt
        return found

    def add_file(self, path: Path, kind: str, group_file: int) -> None:
        number = len(self.files)
        self.files.append(path)
        self.kinds.append(kind)
        with path.open("rb") as handle:
            offset = 0
            for line_no, raw in enumerate(handle, 1):
                start, offset = offset, offset + len(raw)
                if not raw.strip():
                    continue
                try:
                    row = orjson.loads(raw)
                except orjson.JSONDecodeError as exc:
                    raise UserError(f"{path}:{line_no}: not JSON ({exc})", hint="is this a rollouts file?") from None
                if not isinstance(row, dict):
                    raise UserError(f"{path}:{line_no}: expected a JSON object")
                self._add_row(row, number, group_file, start, len(raw), line_no, kind)

    def _add_row(self, row: dict[str, Any], file: int, group_file: int, start: int, size: int, line: int,
                 kind: str) -> None:  # fmt: skip
        at = len(self.offset)
        gid = self._group_of(group_file, row)
        self.groups[gid].rows.append(at)
        self.offset.append(start)
        self.length.append(size)
        self.file.append(file)
        self.group.append(gid)
        self.line.append(line)
        rollout = row.get("_ng_rollout_index")
        self.rollout.append(rollout if isinstance(rollout, int) and not isinstance(rollout, bool) else -1)
        if kind == "failures":
            self.reward.append(math.nan)
            self.calls.append(0)
            self.tokens.append(-1)
            self.flags.append(FLAG_BITS["failure"])
            self.failure_class[at] = str(row.get("_ng_failure_class") or "failed")
            return
        s = summarise(row)
        reward = math.nan if s.reward is None else s.reward
        bits = 0
        if s.reward is not None and reward >= self.threshold:
            bits |= FLAG_BITS["pass"]
            # The audit's heuristics look for reward earned by a trick, so only rewarded rows need them.
            for name in suspicious(row, row):
                bits |= FLAG_BITS[f"suspicious_{name}"]
        bits |= FLAG_BITS["tool_called"] if s.calls else 0
        bits |= FLAG_BITS["tool_error"] if s.tool_errors else 0
        bits |= FLAG_BITS["truncated"] if s.runaway else 0
        bits |= FLAG_BITS["hollow"] if s.hollow else 0
        bits |= FLAG_BITS["no_usage"] if not s.has_usage else 0
        bits |= FLAG_BITS["zero_completion"] if s.zero_completion else 0
        self.reward.append(reward)
        self.calls.append(min(s.calls, 32767))
        self.tokens.append(-1 if s.output_tokens is None else min(s.output_tokens, 2**31 - 1))
        self.flags.append(bits)


def _preview(row: dict[str, Any]) -> str:
    params = row.get("responses_create_params")
    items = params.get("input") if isinstance(params, dict) else None
    if isinstance(items, str):
        return items[:PREVIEW_CHARS]
    for item in reversed(items if isinstance(items, list) else []):
        if isinstance(item, dict) and item.get("role") == "user":
            content = item.get("content")
            if isinstance(content, list):
                content = " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
            return " ".join(str(content).split())[:PREVIEW_CHARS]
    return ""


def build_index(paths: list[Path], *, threshold: float = 1.0) -> RolloutIndex:
    """Index rollout files and each one's ``_failures.jsonl`` side file (its rows join the same groups)."""
    index = RolloutIndex(threshold=threshold)
    for path in paths:
        if len(index.files) >= 127:
            raise UserError("the viewer opens at most 127 files at once")
        group_file = len(index.files)
        index.add_file(path, "rollouts", group_file)
        side = failures_path(path)
        if side.is_file() and side.stat().st_size and side not in paths:
            index.add_file(side, "failures", group_file)
    return index
