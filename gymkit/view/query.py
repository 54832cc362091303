"""What the page asks of the index: filtered pages of rows, groups, figures and a comparison.

Every answer is computed from the index's arrays with numpy; rows are read from disk only for
the page being shown (and for text search, which has to look at the text).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from gymkit.errors import UserError
from gymkit.evaluate.compare import compare_rewards
from gymkit.evaluate.summary import final_answer
from gymkit.view.index import FLAG_BITS, SUSPICIOUS_MASK, RolloutIndex

__all__ = ["Filters", "Query"]

MAX_PAGE = 200
SEARCHES_KEPT = 8
ANSWER_PREVIEW = 200
HIST_BINS = 10


@dataclass
class Filters:
    file: int | None = None
    task: str | None = None
    group: int | None = None
    rmin: float | None = None
    rmax: float | None = None
    outcome: str | None = None  # pass, fail, failure
    tool: str | None = None  # called, none
    calls: int | None = None
    flag: str | None = None  # a FLAG_BITS name, or "suspicious" for any of the audit's flags
    q: str | None = None

    @classmethod
    def parse(cls, params: dict[str, str]) -> Filters:
        def num(key: str, kind: type) -> Any:
            value = params.get(key, "")
            if value == "":
                return None
            try:
                return kind(value)
            except ValueError:
                raise UserError(f"{key}={value!r} is not a number") from None

        flag = params.get("flag") or None
        if flag and flag != "suspicious" and flag not in FLAG_BITS:
            raise UserError(f"unknown flag {flag!r}")
        return cls(
            file=num("file", int), task=params.get("task") or None, group=num("group", int),
            rmin=num("rmin", float), rmax=num("rmax", float), outcome=params.get("outcome") or None,
            tool=params.get("tool") or None, calls=num("calls", int), flag=flag, q=params.get("q") or None,
        )  # fmt: skip


@dataclass
class _Snapshot:
    """The index's columns as far as it has got: rows may still be added while a request runs."""

    reward: np.ndarray
    flags: np.ndarray
    calls: np.ndarray
    group_id: np.ndarray
    group_file: np.ndarray
    is_failure: np.ndarray


class Query:
    def __init__(self, index: RolloutIndex) -> None:
        self.index = index
        self._searches: OrderedDict[str, np.ndarray] = OrderedDict()

    def _snap(self) -> _Snapshot:
        n = self.index.size
        group_id = self.index.np("group", n)
        files = np.array([g.file for g in self.index.groups[: int(group_id.max()) + 1 if n else 0]], dtype=np.int16)
        flags = self.index.np("flags", n)
        return _Snapshot(
            reward=self.index.np("reward", n), flags=flags, calls=self.index.np("calls", n), group_id=group_id,
            group_file=files[group_id] if n else np.zeros(0, np.int16), is_failure=(flags & FLAG_BITS["failure"]) != 0,
        )  # fmt: skip

    # -- rows ---------------------------------------------------------------------------------------

    def mask(self, f: Filters, c: _Snapshot | None = None) -> np.ndarray:
        c = c or self._snap()
        m = np.ones(len(c.reward), dtype=bool)
        if f.file is not None:
            m &= c.group_file == f.file
        if f.group is not None:
            m &= c.group_id == f.group
        if f.task is not None:
            wanted = [i for i, g in enumerate(self.index.groups) if str(g.task) == f.task]
            m &= np.isin(c.group_id, wanted)
        with np.errstate(invalid="ignore"):  # failure rows have a NaN reward: never in a range
            if f.rmin is not None:
                m &= c.reward >= f.rmin
            if f.rmax is not None:
                m &= c.reward <= f.rmax
        if f.outcome == "pass":
            m &= (c.flags & FLAG_BITS["pass"]) != 0
        elif f.outcome == "fail":
            m &= ((c.flags & FLAG_BITS["pass"]) == 0) & ~c.is_failure
        elif f.outcome == "failure":
            m &= c.is_failure
        if f.tool == "called":
            m &= (c.flags & FLAG_BITS["tool_called"]) != 0
        elif f.tool == "none":
            m &= ((c.flags & FLAG_BITS["tool_called"]) == 0) & ~c.is_failure
        if f.calls is not None:
            m &= (c.calls == f.calls) & ~c.is_failure
        if f.flag:
            bit = SUSPICIOUS_MASK if f.flag == "suspicious" else FLAG_BITS[f.flag]
            m &= (c.flags & bit) != 0
        if f.q:
            m &= self._search(f.q, m, len(c.reward))
        return m

    def _search(self, q: str, within: np.ndarray, n: int) -> np.ndarray:
        # Rows are searched as stored: the needle is JSON-escaped the way the text sits in the line.
        key = q.casefold()
        found = self._searches.get(key)
        if found is None or len(found) != n:
            needle = orjson.dumps(q)[1:-1].lower()
            found = np.zeros(n, dtype=bool)
            for row, raw in self.index.raw_rows(np.arange(n)):
                found[row] = needle in raw.lower()
            if self.index.done:  # a search made while rows still arrive would miss the later ones
                self._searches[key] = found
                if len(self._searches) > SEARCHES_KEPT:
                    self._searches.popitem(last=False)
        if key in self._searches:
            self._searches.move_to_end(key)
        matches: np.ndarray = found & within
        return matches

    def rows(self, f: Filters, offset: int = 0, limit: int = 50, sort: str = "") -> dict[str, Any]:
        c = self._snap()
        picked = np.flatnonzero(self.mask(f, c))
        if sort in ("reward", "-reward"):
            keys = np.where(np.isnan(c.reward[picked]), -np.inf, c.reward[picked])
            order = np.argsort(keys if sort == "reward" else -keys, kind="stable")
            picked = picked[order]
        limit = max(1, min(limit, MAX_PAGE))
        page = picked[offset : offset + limit].tolist()
        return {"total": len(picked), "offset": offset, "rows": [self.preview(r) for r in page]}

    def preview(self, row: int) -> dict[str, Any]:
        out = self.index.summary(row)
        out["prompt"] = self.index.groups[out["group"]].preview
        if self.index.kinds[self.index.at("file", row)] == "failures":
            out["answer"] = ""
        else:
            out["answer"] = final_answer(self.index.read(row).get("response"))[:ANSWER_PREVIEW]
        return out

    def row(self, row: int) -> dict[str, Any]:
        if not 0 <= row < self.index.size:
            raise UserError(f"no row {row}")
        g = self.index.groups[self.index.at("group", row)]
        siblings = [r for r in g.rows if r != row]
        return {"summary": self.preview(row), "row": self.index.read(row), "siblings": siblings,
                "path": str(self.index.files[self.index.at("file", row)])}  # fmt: skip

    # -- groups -------------------------------------------------------------------------------------

    def _group_stats(self, gid: int) -> dict[str, Any]:
        g = self.index.groups[gid]
        rows = np.array([r for r in g.rows if r < self.index.size], dtype=np.int64)
        rewards = self.index.columns["reward"].data[rows]
        scored = rewards[~np.isnan(rewards)]
        passes = int(((self.index.columns["flags"].data[rows] & FLAG_BITS["pass"]) != 0).sum())
        kind = "mixed" if len(scored) and scored.min() != scored.max() else ("empty" if not len(scored) else "uniform")
        return {
            "id": gid, "file": g.file, "task": g.task, "prompt": g.preview, "n": len(rows), "scored": len(scored),
            "passes": passes, "mean": float(scored.mean()) if len(scored) else None,
            "std": float(scored.std()) if len(scored) else None, "kind": kind,
            "rewards": [None if math.isnan(x) else x for x in rewards.tolist()], "rows": rows.tolist(),
        }  # fmt: skip

    def group_table(self, c: _Snapshot) -> dict[str, np.ndarray]:
        """Per-group counts, mean, spread and kind for every group at once (one pass of bincount)."""
        size = len(self.index.groups)
        g, ok = c.group_id, ~np.isnan(c.reward)
        r = c.reward[ok]
        scored = np.bincount(g[ok], minlength=size)
        s1 = np.bincount(g[ok], weights=r, minlength=size)
        s2 = np.bincount(g[ok], weights=r * r, minlength=size)
        lo, hi = np.full(size, np.inf), np.full(size, -np.inf)
        np.minimum.at(lo, g[ok], r)
        np.maximum.at(hi, g[ok], r)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = s1 / scored
            std = np.sqrt(np.maximum(s2 / scored - mean * mean, 0))
        # 0 mixed, 1 uniform, 2 empty: mixed first, they are the prompts GRPO gets a gradient from.
        kind = np.where(scored == 0, 2, np.where(lo < hi, 0, 1))
        return {
            "scored": scored, "mean": mean, "std": np.nan_to_num(std), "kind": kind,
            "passes": np.bincount(g, weights=(c.flags & FLAG_BITS["pass"]) != 0, minlength=size).astype(np.int64),
            "file": np.array([x.file for x in self.index.groups], dtype=np.int16),
        }  # fmt: skip

    def groups(self, file: int | None, kind: str, offset: int, limit: int, below_k: int | None) -> dict[str, Any]:
        t = self.group_table(self._snap())
        keep = np.ones(len(t["kind"]), dtype=bool)
        if file is not None:
            keep &= t["file"] == file
        if kind:
            keep &= t["kind"] == {"mixed": 0, "uniform": 1, "empty": 2}.get(kind, -1)
        if below_k:
            below = [n >= below_k and _pass_at_k(n, p, below_k) < 1 for n, p in zip(t["scored"].tolist(),
                     t["passes"].tolist(), strict=True)]  # fmt: skip
            keep &= np.array(below, dtype=bool)
        ids = np.flatnonzero(keep)
        order = np.lexsort((ids, -t["std"][ids], t["kind"][ids]))  # last key sorts first
        limit = max(1, min(limit, MAX_PAGE))
        page = ids[order][offset : offset + limit].tolist()
        return {"total": len(ids), "offset": offset, "groups": [self._group_stats(i) for i in page]}

    def group(self, gid: int) -> dict[str, Any]:
        if not 0 <= gid < len(self.index.groups):
            raise UserError(f"no group {gid}")
        out = dict(self._group_stats(gid))
        out["samples"] = [self.preview(r) for r in out["rows"]]
        return out

    # -- figures and comparison ---------------------------------------------------------------------

    def figures(self, file: int | None) -> dict[str, Any]:
        c = self._snap()
        m = ~c.is_failure if file is None else (~c.is_failure & (c.group_file == file))
        rewards, calls = c.reward[m], c.calls[m]
        rewards_ok = ~np.isnan(rewards)
        rewards, calls = rewards[rewards_ok], calls[rewards_ok]
        lo, hi = (float(rewards.min()), float(rewards.max())) if len(rewards) else (0.0, 1.0)
        hi = hi if hi > lo else lo + 1.0
        edges = np.linspace(lo, hi, HIST_BINS + 1)
        counts, _ = np.histogram(rewards, bins=edges)
        bins = np.clip(np.searchsorted(edges, rewards, side="right") - 1, 0, HIST_BINS - 1)
        top = int(min(calls.max(), 8)) if len(calls) else 0
        cells = [
            {"calls": c, "bin": b, "count": int(((np.minimum(calls, 8) == c) & (bins == b)).sum())}
            for c in range(top + 1)
            for b in range(HIST_BINS)
        ]
        t = self.group_table(c)
        mine = (t["scored"] > 0) & (t["file"] == file if file is not None else True)
        pairs = list(zip(t["scored"][mine].tolist(), t["passes"][mine].tolist(), strict=True))
        ks = [k for k in (1, 2, 4, 8, 16, 32, 64) if pairs and k <= min(n for n, _ in pairs)]
        passk = [{"k": k, "value": float(np.mean([_pass_at_k(n, p, k) for n, p in pairs]))} for k in ks]
        return {
            "histogram": {"edges": edges.tolist(), "counts": counts.tolist()},
            "calls_vs_reward": {"max_calls": top, "cells": cells, "edges": edges.tolist()},
            "pass_at_k": passk,
            "rollouts": len(rewards),
        }

    def compare(self, a: int, b: int) -> dict[str, Any]:
        if a == b or not all(0 <= f < len(self.index.files) and self.index.kinds[f] == "rollouts" for f in (a, b)):
            raise UserError("compare two different rollout files")
        sides: list[dict[Any, dict[Any, float]]] = [{}, {}]
        where: dict[tuple[int, Any, Any], int] = {}
        c = self._snap()
        files, rollouts, lines = self.index.np("file", len(c.reward)), self.index.np("rollout"), self.index.np("line")
        for side, f in enumerate((a, b)):
            for row in np.flatnonzero((files == f) & ~np.isnan(c.reward)).tolist():
                task = self.index.groups[c.group_id[row]].task
                key = int(rollouts[row]) if rollouts[row] >= 0 else f"line:{lines[row]}"
                sides[side].setdefault(task, {})[key] = float(c.reward[row])
                where[(side, task, key)] = row
        result = compare_rewards(sides[0], sides[1], threshold=self.index.threshold, resamples=2000)
        for flip in result["flips"]["pass_to_fail"] + result["flips"]["fail_to_pass"]:
            flip["row_a"] = where[(0, flip["task"], flip["rollout"])]
            flip["row_b"] = where[(1, flip["task"], flip["rollout"])]
        return result


def _pass_at_k(n: int, c: int, k: int) -> float:
    """The unbiased estimate of P(at least one of k samples passes) from c passes in n."""
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)
