"""A server's task rows as the dataset TRL's GRPOTrainer samples prompts from."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from gymkit.errors import UserError
from gymkit.jsonl import iter_rows
from gymkit.rollouts.convert import responses_to_chat

__all__ = ["read_tasks", "to_dataset"]


def read_tasks(path: Path, limit: int | None = None, seed: int = 0) -> list[dict[str, Any]]:
    """The task rows of ``path`` (``limit`` of them, drawn with ``seed``), each tagged with its line's index."""
    if not path.is_file():
        raise UserError(f"{path} is missing: gymkit train samples its prompts from it")
    rows = []
    for index, (_, row) in enumerate(iter_rows(path)):
        if not isinstance(row.get("responses_create_params"), dict):
            raise UserError(f"{path}: row {index + 1} has no responses_create_params object")
        rows.append({**row, "_ng_task_index": index})
    if not rows:
        raise UserError(f"{path} has no task rows")
    if limit is not None and limit < len(rows):
        rows = random.Random(seed).sample(rows, limit)
    return rows


def to_dataset(rows: list[dict[str, Any]]) -> Any:
    """``prompt`` (chat messages, what the model sees) and ``gymkit_row`` (the row as JSON, what the server gets).

    The row travels as one JSON string: task rows carry fields of any shape (a weather table
    keyed by city, say) that a columnar dataset would force into one schema.
    """
    from datasets import Dataset

    records = []
    for row in rows:
        messages = responses_to_chat(row["responses_create_params"], None)["messages"]
        # TRL's conversational prompts are role/content pairs; content must be text.
        prompt = [{"role": m["role"], "content": m.get("content") or ""} for m in messages]
        records.append({"prompt": prompt, "gymkit_row": json.dumps(row)})
    return Dataset.from_list(records)
