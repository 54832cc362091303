"""What a collection was started with, so a resume can tell it is the same collection.

Resuming used to trust the file: a resume with another ``--limit`` cut the rows outside the
new plan, one with another ``--input`` kept the other dataset's rows and reported them done.
Now a collection writes ``<output stem>.run.json`` next to its output when it starts, and
``--resume`` compares: any difference is refused, naming it, before a row is touched. Each
row also carries a hash of its task (``_gymkit.task_sha256``), which catches a file whose
sidecar is gone.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

import orjson

from gymkit import __version__
from gymkit.errors import UserError
from gymkit.jsonl import atomic_write_bytes

__all__ = ["check_plan", "check_resume", "identity_path", "refuse_shrink", "task_sha256", "write_identity"]

# Recorded for the person reading the file; a difference does not change the rows.
INFO_KEYS = frozenset({"input", "gymkit_version", "started_at"})


def identity_path(output: Path) -> Path:
    return output.with_name(f"{output.stem}.run.json")


def task_sha256(task: dict[str, Any]) -> str:
    body = {k: v for k, v in task.items() if k != "_line"}
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


def build_identity(**settings: Any) -> dict[str, Any]:
    return {**settings, "gymkit_version": __version__, "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


def write_identity(output: Path, identity: dict[str, Any]) -> None:
    atomic_write_bytes(identity_path(output), orjson.dumps(identity, option=orjson.OPT_INDENT_2) + b"\n")


def _read_identity(output: Path) -> dict[str, Any] | None:
    path = identity_path(output)
    try:
        data = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, orjson.JSONDecodeError) as exc:
        raise UserError(
            f"{path}: not a readable run record ({exc})", hint="delete it to resume without the check"
        ) from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: not a run record (expected a JSON object)", hint="delete it")
    return data


def _shown(value: Any) -> str:
    return orjson.dumps(value).decode()[:80]


def check_resume(output: Path, current: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    """Refuse to resume ``output`` with settings other than those it was started with."""
    recorded = _read_identity(output)
    if recorded is None and rows:
        # A file from before run records existed: its rows say which model and sampling made them.
        meta = rows[0].get("_gymkit") or {}
        recorded = {k: meta[k] for k in ("model", "endpoint", "sampling") if k in meta}
    differences = [
        f"{key} {_shown(recorded[key])} (now {_shown(current.get(key))})"
        for key in sorted(recorded or {})
        if key not in INFO_KEYS and key in current and recorded[key] != current[key]  # type: ignore[index]
    ]
    if differences:
        raise UserError(
            f"cannot resume {output}: it was started with " + "; ".join(differences),
            hint="resume with the settings it was started with, or write to another --output",
        )


def check_plan(output: Path, rows: list[dict[str, Any]], tasks: list[dict[str, Any]], repeats: int) -> None:
    """Refuse rows this run would not have made: resume never drops them and never counts them."""
    hashes = [task_sha256(task) for task in tasks]
    for row in rows:
        task, repeat = int(row["_ng_task_index"]), int(row["_ng_rollout_index"])
        if not (0 <= task < len(tasks) and 0 <= repeat < repeats):
            raise UserError(
                f"cannot resume {output}: it holds rollout ({task}, {repeat}), outside this run's "
                f"{len(tasks)} tasks x {repeats} repeats",
                hint="resume with the --limit and --repeats it was started with, or write to another --output",
            )
        recorded = (row.get("_gymkit") or {}).get("task_sha256")
        if recorded is not None and recorded != hashes[task]:
            raise UserError(
                f"cannot resume {output}: its row for task {task} was made from another task than line "
                f"{tasks[task]['_line']} of the input",
                hint="resume with the --input it was started with, or write to another --output",
            )


def count_rows(path: Path) -> int:
    try:
        return sum(1 for line in path.read_bytes().splitlines() if line.strip())
    except FileNotFoundError:
        return 0
    except OSError:
        return 0  # unreadable: opening it for writing will say why


def refuse_shrink(output: Path, planned: int, force: bool) -> None:
    """A fresh run replaces the file; refuse when it would leave fewer rows than the file has now."""
    existing = count_rows(output)
    if existing > planned and not force:
        raise UserError(
            f"{output} has {existing} rows and this run plans {planned}: {existing - planned} rows would be lost",
            hint="add --resume to continue it, --force to replace it, or pass --output FILE",
        )
