"""The files of a collection: the task rows it reads, the rollouts and failures files it appends to."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import orjson

from gymkit.errors import InvalidDataError
from gymkit.jsonl import atomic_write_bytes, dumps, validate_rows
from gymkit.runtime.wire import BaseRunRequest

__all__ = ["existing_rows", "failures_path_for", "finish_files", "load_tasks", "row_key"]


def failures_path_for(output_path: Path) -> Path:
    return output_path.with_name(f"{output_path.stem}_failures.jsonl")


def load_tasks(input_path: Path, limit: int | None) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for number, task in validate_rows(input_path, BaseRunRequest):
        if limit is not None and len(rows) >= limit:
            break
        row = task.model_dump(exclude_unset=True)
        row["responses_create_params"] = task.responses_create_params.model_dump(exclude_unset=True)
        row["_line"] = number
        rows.append(row)
    if not rows:
        raise InvalidDataError(input_path, None, "no task rows", hint="add rows with responses_create_params")
    return rows


def existing_rows(path: Path) -> list[dict[str, Any]]:
    """Rows already in ``path``; a partial last line (a killed write) is cut off."""
    if not path.exists():
        return []
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    if end < len(data):
        with path.open("r+b") as handle:
            handle.truncate(end)
    rows = []
    for number, line in enumerate(data[:end].splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = orjson.loads(line)
        except orjson.JSONDecodeError:
            row = None
        indices = [row.get(k, -1) for k in ("_ng_task_index", "_ng_rollout_index")] if isinstance(row, dict) else []
        if not indices or not all(isinstance(i, int) for i in indices):
            raise InvalidDataError(
                path,
                number,
                "not a rollout row (a JSON object with integer _ng_task_index and _ng_rollout_index)",
                hint="delete the line or run without --resume",
            )
        rows.append(row)
    return rows


def row_key(row: dict[str, Any]) -> tuple[int, int]:
    return int(row.get("_ng_task_index", -1)), int(row.get("_ng_rollout_index", -1))


def finish_files(output: Path, failures: Path) -> list[dict[str, Any]]:
    """Sort the output; keep in the failures file only the latest failure of each rollout still missing."""
    rows = sorted(existing_rows(output), key=row_key)
    atomic_write_bytes(output, b"".join(dumps(row) + b"\n" for row in rows))
    done = {row_key(row) for row in rows}
    latest: dict[tuple[int, int], bytes] = {}
    for line in failures.read_bytes().splitlines() if failures.exists() else []:
        with contextlib.suppress(orjson.JSONDecodeError, TypeError, ValueError, AttributeError):
            latest[row_key(orjson.loads(line))] = line
    kept = [line + b"\n" for key, line in sorted(latest.items()) if key not in done]
    atomic_write_bytes(failures, b"".join(kept))
    return rows
