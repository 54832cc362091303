"""``POST /aggregate_metrics``: the summary NeMo Gym's rollout collection asks each server for at the end.

Request ``{"verify_responses": [...]}``: one verify response per rollout, stripped of its
payloads, with ``_ng_task_index`` and ``reward`` at least. Response: ``group_level_metrics``
(one dict per task, with its ``_ng_task_index``), ``agent_metrics`` and ``key_metrics`` (the
``mean/*`` entries). Each is ``mean``, ``max``, ``min``, ``median`` and ``std`` (sample standard
deviation, 0 for a single value) of every top-level numeric field (booleans as 0/1) and of
the numeric ``response.usage`` fields, keyed ``"<stat>/<field>"``, as upstream's reward
profile computes them, so ``<output>_aggregate_metrics.json`` means the same from either server.
"""

from __future__ import annotations

import math
import statistics
from typing import Any

__all__ = ["aggregate_metrics"]

_SKIP = frozenset({"_ng_task_index", "_ng_rollout_index"})


def _numbers(row: dict[str, Any]) -> dict[str, float]:
    out: dict[str, float] = {}
    for key, value in row.items():
        if key in _SKIP or key.startswith("_ng_"):
            continue
        if isinstance(value, bool) or (isinstance(value, int | float) and math.isfinite(value)):
            out[key] = float(value)
    response = row.get("response")
    usage = response.get("usage") if isinstance(response, dict) else None
    for key, value in (usage or {}).items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[key] = float(value)
    return out


def _stats(rows: list[dict[str, float]]) -> dict[str, float]:
    columns: dict[str, list[float]] = {}
    for row in rows:
        for key, value in row.items():
            columns.setdefault(key, []).append(value)
    out: dict[str, float] = {}
    for key, values in columns.items():
        out[f"mean/{key}"] = statistics.fmean(values)
        out[f"max/{key}"] = max(values)
        out[f"min/{key}"] = min(values)
        out[f"median/{key}"] = statistics.median(values)
        out[f"std/{key}"] = statistics.stdev(values) if len(values) > 1 else 0.0
    return out


def _order(task: Any) -> tuple[int, float, str]:
    return (0, float(task), "") if isinstance(task, int | float) else (1, 0.0, str(task))


def aggregate_metrics(verify_responses: list[dict[str, Any]]) -> dict[str, Any]:
    rows = [r for r in verify_responses if isinstance(r, dict)]
    if not rows:
        return {"group_level_metrics": [], "agent_metrics": {}, "key_metrics": {}}
    by_task: dict[Any, list[dict[str, float]]] = {}
    for row in rows:
        by_task.setdefault(row.get("_ng_task_index", 0), []).append(_numbers(row))
    groups = [{**_stats(by_task[task]), "_ng_task_index": task} for task in sorted(by_task, key=_order)]
    agent = _stats([numbers for task in by_task.values() for numbers in task])
    key = {k: v for k, v in agent.items() if k.startswith("mean/")}
    return {"group_level_metrics": groups, "agent_metrics": agent, "key_metrics": key}
