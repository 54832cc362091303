"""An index of rollout files: where each row starts, and the few numbers the list filters on.

A collection of 100,000 rollouts is gigabytes of JSON; the viewer keeps a byte offset and
about 40 bytes of summary per row in flat arrays, and reads a row from disk only when a
page shows it. The one-line prompt preview is kept per task, not per row: every sample of a
task has the same prompt.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
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


class Column:
    """A numpy array that grows by doubling, so readers can slice it while rows are still added.

    A reader takes ``data[:n]`` for the row count it saw; growing copies into a new array before
    swapping it in, so that slice is never half-written.
    """

    def __init__(self, dtype: str) -> None:
        self.data = np.zeros(1024, dtype=dtype)

    def set(self, at: int, value: Any) -> None:
        if at >= len(self.data):
            grown = np.zeros(len(self.data) * 2, dtype=self.data.dtype)
            grown[: len(self.data)] = self.data
            self.data = grown
        self.data[at] = value


_COLUMNS = {"offset": "i8", "length": "i4", "file": "i1", "group": "i4", "rollout": "i4", "line": "i4",
            "reward": "f8", "calls": "i2", "tokens": "i4", "flags": "i4"}  # fmt: skip


@dataclass
class Group:
    """The samples of one prompt in one file: what a GRPO group is."""

    file: int
    task: Any
    preview: str
    rows: list[int] = field(default_factory=list)


@dataclass
class RolloutIndex:
    """Rows are added by :meth:`load` (perhaps in a thread) while the page reads ``size`` of them."""

    threshold: float = 1.0
    files: list[Path] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)  # "rollouts" or "failures", per file
    columns: dict[str, Column] = field(default_factory=lambda: {k: Column(t) for k, t in _COLUMNS.items()})
    size: int = 0  # rows fully added: what readers may look at
    groups: list[Group] = field(default_factory=list)
    failure_class: dict[int, str] = field(default_factory=dict)  # sparse: only failure rows
    total_bytes: int = 0
    read_bytes: int = 0
    done: bool = False
    error: str | None = None
    audited: float = 0.0  # share of the passing rows the audit's flags have been computed for
    _group_ids: dict[tuple[int, Any], int] = field(default_factory=dict)

    def __len__(self) -> int:
        return self.size

    def np(self, name: str, size: int | None = None) -> np.ndarray:
        return self.columns[name].data[: self.size if size is None else size]

    def at(self, name: str, row: int) -> Any:
        return self.columns[name].data[row].item()

    def read(self, row: int) -> dict[str, Any]:
        """The full row ``row``, read from its file."""
        with self.files[self.at("file", row)].open("rb") as handle:
            handle.seek(self.at("offset", row))
            parsed: dict[str, Any] = orjson.loads(handle.read(self.at("length", row)))
            return parsed

    def raw_rows(self, rows: npt.NDArray[Any]) -> Any:  # in this class body `np` names the method above
        """``(row, raw bytes)`` in file order, one open handle per file: text search reads the whole index."""
        handles: dict[int, Any] = {}
        offsets, lengths, files = self.np("offset"), self.np("length"), self.np("file")
        try:
            for row in rows.tolist():
                f = int(files[row])
                handle = handles.get(f) or handles.setdefault(f, self.files[f].open("rb"))
                handle.seek(int(offsets[row]))
                yield row, handle.read(int(lengths[row]))
        finally:
            for handle in handles.values():
                handle.close()

    def summary(self, row: int) -> dict[str, Any]:
        bits, reward, rollout, tokens = (self.at(k, row) for k in ("flags", "reward", "rollout", "tokens"))
        g = self.groups[self.at("group", row)]
        return {
            "id": row,
            "file": self.at("file", row),
            "line": self.at("line", row),
            "group": self.at("group", row),
            "task": g.task,
            "rollout": rollout if rollout >= 0 else None,
            "reward": None if math.isnan(reward) else reward,
            "calls": self.at("calls", row),
            "output_tokens": tokens if tokens >= 0 else None,
            "flags": [name for name, bit in FLAG_BITS.items() if bits & bit],
            "failure_class": self.failure_class.get(row),
        }

    def flag_suspicious(self) -> None:
        """Add the audit's flags to every passing row (they look for reward earned by a trick).

        The heuristics cost about a millisecond a row, as much as the rest of the index, so they
        run after it, while the page is already in use; ``audited`` says how far they have got.
        """
        passing = np.flatnonzero((self.np("flags") & FLAG_BITS["pass"]) != 0)
        flags = self.columns["flags"].data  # no more rows are added: this array stays the one in use
        for done, (row, raw) in enumerate(self.raw_rows(passing), 1):
            data = orjson.loads(raw)
            for name in suspicious(data, data):
                flags[row] |= FLAG_BITS[f"suspicious_{name}"]
            if done % 256 == 0:
                self.audited = done / len(passing)
        self.audited = 1.0

    def load(self, paths: list[Path], *, audit: bool = False) -> None:
        """Index ``paths`` and each one's ``_failures.jsonl`` side file (its rows join the same groups)."""
        try:
            plan: list[tuple[Path, str, int]] = []
            for path in paths:
                plan.append((path, "rollouts", len(plan)))
                side = failures_path(path)
                if side.is_file() and side.stat().st_size and side not in paths:
                    plan.append((side, "failures", plan[-1][2]))
            if len(plan) > 127:
                raise UserError("the viewer opens at most 127 files at once")
            self.total_bytes = sum(p.stat().st_size for p, _, _ in plan)
            for path, kind, group_file in plan:
                self.add_file(path, kind, group_file)
        except (UserError, OSError) as exc:
            self.error = str(exc)
            raise
        finally:
            self.done = True
        if audit:
            self.flag_suspicious()

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
                self.read_bytes += len(raw)
                if not raw.strip():
                    continue
                try:
                    row = orjson.loads(raw)
                except orjson.JSONDecodeError as exc:
                    raise UserError(f"{path}:{line_no}: not JSON ({exc})", hint="is this a rollouts file?") from None
                if not isinstance(row, dict):
                    raise UserError(f"{path}:{line_no}: expected a JSON object")
                self._add_row(row, kind, number, group_file, start, len(raw), line_no)

    def _add_row(self, row: dict[str, Any], kind: str, *where: int) -> None:
        file, group_file, start, size, line = where
        at = self.size
        gid = self._group_of(group_file, row)
        rollout = row.get("_ng_rollout_index")
        values: dict[str, Any] = {
            "offset": start, "length": size, "file": file, "group": gid, "line": line,
            "rollout": rollout if isinstance(rollout, int) and not isinstance(rollout, bool) else -1,
        }  # fmt: skip
        if kind == "failures":
            values |= {"reward": math.nan, "calls": 0, "tokens": -1, "flags": FLAG_BITS["failure"]}
            self.failure_class[at] = str(row.get("_ng_failure_class") or "failed")
        else:
            s = summarise(row)
            bits = FLAG_BITS["pass"] if s.reward is not None and s.reward >= self.threshold else 0
            bits |= FLAG_BITS["tool_called"] if s.calls else 0
            bits |= FLAG_BITS["tool_error"] if s.tool_errors else 0
            bits |= FLAG_BITS["truncated"] if s.runaway else 0
            bits |= FLAG_BITS["hollow"] if s.hollow else 0
            bits |= FLAG_BITS["no_usage"] if not s.has_usage else 0
            bits |= FLAG_BITS["zero_completion"] if s.zero_completion else 0
            values |= {
                "reward": math.nan if s.reward is None else s.reward, "calls": min(s.calls, 32767),
                "tokens": -1 if s.output_tokens is None else min(s.output_tokens, 2**31 - 1), "flags": bits,
            }  # fmt: skip
        for name, value in values.items():
            self.columns[name].set(at, value)
        self.groups[gid].rows.append(at)
        self.size = at + 1  # last: a reader never sees a row whose columns are half set


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


def build_index(paths: list[Path], *, threshold: float = 1.0, audit: bool = False) -> RolloutIndex:
    """Index rollout files here and now (``gymkit view`` runs :meth:`RolloutIndex.load` in a thread instead)."""
    index = RolloutIndex(threshold=threshold)
    index.load(paths, audit=audit)
    return index
