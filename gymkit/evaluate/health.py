"""Rollouts that teach a policy nothing, or the wrong thing, counted over a file.

A GRPO step learns from the reward differences within a group; a rollout that was cut at
the token limit, never answered, or never reached its tool scores 0 for a reason that has
nothing to do with the task. Such rows are cheap to spot and expensive to train on, so the
counts come with the worst examples and a rate each is judged against.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gymkit.evaluate.summary import RowSummary, summarise
from gymkit.inputs import iter_json_rows
from gymkit.profiling.table import failures_path

__all__ = ["CATEGORIES", "DEFAULT_MAX_RATE", "HealthReport", "health_of_files", "health_of_rows"]

DEFAULT_MAX_RATE = 0.05
EXAMPLES = 5
# What each category means, as the report and `gymkit health --help` print it.
CATEGORIES: dict[str, str] = {
    "hollow": "no final answer, or an assistant turn with no text",
    "runaway": "cut at the token or turn limit (status incomplete, incomplete_details, or tools last at max_steps)",
    "zero_completion": "usage says the model produced 0 output tokens",
    "tool_errors": "a tool call that failed or was refused",
    "no_usage": "no usage figures (output_tokens) in the response",
    "failures": "attempts in the <stem>_failures.jsonl side file (no rollout row at all)",
    "index_gaps": "missing, repeated or absent _ng_task_index/_ng_rollout_index pairs",
}


@dataclass
class _Worst:
    """The ``EXAMPLES`` highest-scored examples seen, without keeping the rest."""

    heap: list[tuple[float, int, dict[str, Any]]] = field(default_factory=list)
    count: int = 0

    def add(self, score: float, example: dict[str, Any]) -> None:
        self.count += 1
        item = (score, -self.count, example)  # ties: the earliest row wins
        if len(self.heap) < EXAMPLES:
            heapq.heappush(self.heap, item)
        elif item > self.heap[0]:
            heapq.heapreplace(self.heap, item)

    def examples(self) -> list[dict[str, Any]]:
        return [e for _, _, e in sorted(self.heap, reverse=True)]


@dataclass
class HealthReport:
    rows: int = 0
    tasks: int = 0
    max_rate: float = DEFAULT_MAX_RATE
    categories: dict[str, _Worst] = field(default_factory=lambda: {name: _Worst() for name in CATEGORIES})
    attempts: int = 0  # rows plus failed attempts: what a failure rate is out of
    files: list[str] = field(default_factory=list)

    def rate(self, name: str) -> float:
        total = self.tasks if name == "index_gaps" else (self.attempts if name == "failures" else self.rows)
        return self.categories[name].count / total if total else 0.0

    def flagged(self, name: str) -> bool:
        # Broken indices mis-group a whole file (a sample counted twice, a task invented): any is too many.
        limit = 0.0 if name == "index_gaps" else self.max_rate
        return self.categories[name].count > 0 and self.rate(name) > limit

    @property
    def failed(self) -> bool:
        return any(self.flagged(name) for name in CATEGORIES)

    def to_json(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "rows": self.rows,
            "tasks": self.tasks,
            "max_rate": self.max_rate,
            "flagged": [n for n in CATEGORIES if self.flagged(n)],
            "categories": {
                name: {
                    "meaning": CATEGORIES[name],
                    "count": worst.count,
                    "rate": round(self.rate(name), 6),
                    "flagged": self.flagged(name),
                    "examples": worst.examples(),
                }
                for name, worst in self.categories.items()
            },
        }


def _where(source: str, line: int, row: dict[str, Any]) -> dict[str, Any]:
    return {
        "file": source,
        "line": line,
        "task": row.get("_ng_task_index"),
        "rollout": row.get("_ng_rollout_index"),
        "reward": row.get("reward"),
    }


def _judge(report: HealthReport, s: RowSummary, where: dict[str, Any]) -> None:
    tokens = s.output_tokens or 0
    c = report.categories
    if s.hollow:
        reason = "no final answer" if not s.final.strip() else f"{s.empty_turns} empty assistant turn(s)"
        c["hollow"].add(tokens, where | {"why": reason})  # the costliest hollow rows first
    if s.runaway:
        c["runaway"].add(tokens, where | {"why": s.incomplete, "output_tokens": s.output_tokens})
    if s.zero_completion:
        c["zero_completion"].add(0, where)
    if s.tool_errors:
        c["tool_errors"].add(s.tool_errors, where | {"why": f"{s.tool_errors} of {s.calls} call(s) failed"})
    if not s.has_usage:
        c["no_usage"].add(0, where)


def _indices(report: HealthReport, pairs: dict[str, dict[Any, list[int]]], unindexed: dict[str, int]) -> None:
    gaps = report.categories["index_gaps"]
    for source, tasks in pairs.items():
        if unindexed.get(source):
            gaps.add(unindexed[source], {"file": source, "why": f"{unindexed[source]} row(s) without indices"})
        ints = sorted(t for t in tasks if isinstance(t, int))
        samples = max((max(r) + 1 for r in tasks.values() if r), default=0)
        for task in range(ints[-1] + 1 if ints else 0):
            seen = tasks.get(task)
            if seen is None:
                gaps.add(samples, {"file": source, "task": task, "why": "no rollouts of this task"})
                continue
            missing = sorted(set(range(samples)) - set(seen))
            repeated = len(seen) - len(set(seen))
            if missing or repeated:
                why = ", ".join(
                    part
                    for part in (
                        f"rollouts {missing[:8]} missing" if missing else "",
                        f"{repeated} repeated rollout index(es)" if repeated else "",
                    )
                    if part
                )
                gaps.add(len(missing) + repeated, {"file": source, "task": task, "why": why})


def health_of_rows(
    rows: Iterable[tuple[str, int, dict[str, Any]]], *, failures: int = 0, max_rate: float = DEFAULT_MAX_RATE
) -> HealthReport:
    """Judge ``(source, line, row)`` triples; ``failures`` counts failed attempts that left no row."""
    report = HealthReport(max_rate=max_rate)
    pairs: dict[str, dict[Any, list[int]]] = {}
    unindexed: dict[str, int] = {}
    for source, line, row in rows:
        report.rows += 1
        _judge(report, summarise(row), _where(source, line, row))
        task, rollout = row.get("_ng_task_index"), row.get("_ng_rollout_index")
        tasks = pairs.setdefault(source, {})
        if isinstance(task, int) and isinstance(rollout, int):
            tasks.setdefault(task, []).append(rollout)
        else:
            unindexed[source] = unindexed.get(source, 0) + 1
    report.tasks = sum(max(len(t), 1) for t in pairs.values())
    _indices(report, pairs, unindexed)
    for _ in range(failures):
        report.categories["failures"].count += 1
    report.attempts = report.rows + failures
    return report


def health_of_files(paths: list[Path], *, max_rate: float = DEFAULT_MAX_RATE) -> HealthReport:
    """Judge rollout files; each one's ``<stem>_failures.jsonl`` side file is counted when present."""

    def rows() -> Iterable[tuple[str, int, dict[str, Any]]]:
        for path in paths:
            for line, row in iter_json_rows(path):
                yield str(path), line, row

    failed: list[dict[str, Any]] = []
    for path in paths:
        side = failures_path(path)
        if side.is_file():
            failed += [
                {"file": str(side), "line": line, "task": row.get("_ng_task_index"),
                 "rollout": row.get("_ng_rollout_index"), "why": row.get("_ng_failure_class")}
                for line, row in iter_json_rows(side)
            ]  # fmt: skip
    report = health_of_rows(rows(), failures=len(failed), max_rate=max_rate)
    report.categories["failures"].heap = [(0, -i, e) for i, e in enumerate(failed[:EXAMPLES])]
    report.files = [str(p) for p in paths]
    return report
