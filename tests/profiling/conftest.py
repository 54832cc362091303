"""Rollout rows with known properties, built in code so every figure can be checked by hand."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest


def rollout(
    reward: float,
    *,
    task: int | None = None,
    prompt: str = "q",
    calls: list[tuple[str, str, str]] | None = None,
    model: str = "m-small",
    tokens: tuple[int, int] = (10, 5),
    **extra: Any,
) -> dict[str, Any]:
    """A rollout row; ``calls`` are (tool name, arguments, output) triples."""
    output: list[dict[str, Any]] = []
    for i, (name, arguments, result) in enumerate(calls or []):
        output.append({"type": "function_call", "call_id": f"c{i}", "name": name, "arguments": arguments})
        output.append({"type": "function_call_output", "call_id": f"c{i}", "output": result})
    output.append({"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "done"}]})
    row: dict[str, Any] = {
        "responses_create_params": {"input": [{"role": "user", "content": prompt}], "temperature": 1.0},
        "response": {
            "model": model,
            "output": output,
            "usage": {"input_tokens": tokens[0], "output_tokens": tokens[1], "total_tokens": sum(tokens)},
        },
        "reward": reward,
        **extra,
    }
    if task is not None:
        row["_ng_task_index"] = task
    return row


def write_rows(path: Path, rows: list[dict[str, Any]]) -> Path:
    """Write ``rows``, numbering each task's rollouts (``_ng_rollout_index``) as the collector does."""
    seen: dict[Any, int] = {}
    numbered = []
    for row in rows:
        if "_ng_task_index" in row and "_ng_rollout_index" not in row:
            task = row["_ng_task_index"]
            key = (task, row["response"].get("model") if isinstance(row.get("response"), dict) else None)
            row = {**row, "_ng_rollout_index": seen.get(key, 0)}
            seen[key] = row["_ng_rollout_index"] + 1
        numbered.append(row)
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in numbered))
    return path


@pytest.fixture
def write(tmp_path: Path):  # type: ignore[no-untyped-def]
    def _write(rows: list[dict[str, Any]], name: str = "rollouts.jsonl") -> Path:
        return write_rows(tmp_path / name, rows)

    return _write
