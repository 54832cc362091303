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
from gymkit.artifacts.io import read_artifact, write_artifact
from gymkit.artifacts.rollout import rollout_meta
from gymkit.artifacts.run import RunIdentity
from gymkit.errors import UserError

__all__ = ["check_plan", "check_resume", "identity_path", "refuse_shrink", "task_sha256", "write_identity"]


def identity_path(output: Path) -> Path:
    return output.with_name(f"{output.stem}.run.json")


def task_sha256(task: dict[str, Any]) -> str:
    body = {k: v for k, v in task.items() if k != "_line"}
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


def build_identity(**settings: Any) -> RunIdentity:
    """The run record of a collection started now; an unknown setting is a bug, refused here."""
    return RunIdentity(**settings, gymkit_version=__version__, started_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"))


def write_identity(output: Path, identity: RunIdentity) -> None:
    write_artifact(identity_path(output), identity)


def _recorded(output: Path, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The settings ``output`` was started with: its run record, or what its first row says."""
    path = identity_path(output)
    if path.exists() or path.is_symlink():
        return read_artifact(path, RunIdentity, hint="delete it to resume without the check").settings()
    # A file from before run records existed: its rows say which model and sampling made them.
    meta = rollout_meta(rows[0]) if rows else None
    return meta.model_dump(include={"model", "endpoint", "sampling"}, exclude_unset=True) if meta else {}


def _shown(value: Any) -> str:
    return orjson.dumps(value).decode()[:80]


def check_resume(output: Path, identity: RunIdentity, rows: list[dict[str, Any]]) -> None:
    """Refuse to resume ``output`` with settings other than those it was started with."""
    recorded = _recorded(output, rows)
    current = identity.settings()
    differences = [
        f"{key} {_shown(recorded[key])} (now {_shown(current.get(key))})"
        for key in sorted(recorded)
        if key in current and recorded[key] != current[key]
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
        meta = rollout_meta(row)
        recorded = meta.task_sha256 if meta else None
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
