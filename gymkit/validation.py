"""Validation of a server's data files that names every bad line, not only the first.

Used by the ``test-server`` session (``gymkit validate-data``) and by the checklist. A
problem says where (file and line) and what to do; the list per file is capped so a
file of placeholders or a wrong format does not flood the terminal.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from gymkit.errors import InvalidDataError
from gymkit.indices import RolloutIndices
from gymkit.inputs import finite_number, iter_json_rows, iter_lines, parse_json
from gymkit.jsonl import validation_problem
from gymkit.project import ServerPaths
from gymkit.runtime.wire import BaseRunRequest, RolloutRow, reward_problem

__all__ = [
    "MAX_PROBLEMS_PER_FILE",
    "MIN_EXAMPLE_ROWS",
    "REWARD_EPSILON",
    "DataProblem",
    "clamped_reward",
    "example_count",
    "example_problems",
    "rollout_problems",
    "server_data_problems",
]

MIN_EXAMPLE_ROWS = 5
MAX_PROBLEMS_PER_FILE = 20
# Upstream commits a few rollout files holding only this text; they are not rollouts.
PLACEHOLDER = b"<PLACEHOLDER ROW>"
# Float arithmetic in a verify (an average of parts, a weighted sum) lands a hair past 1.
REWARD_EPSILON = 1e-9
TASK_ROW_SHAPE = '{"responses_create_params": {"input": [{"role": "user", "content": "..."}]}, ...task fields}'


@dataclass(frozen=True)
class DataProblem:
    """Something wrong at a file (and line), with what to do about it, in one line."""

    path: Path
    line: int | None
    message: str
    # Set when the problem is one of gymkit's own rules that NeMo Gym does not have (a checklist in a
    # NeMo Gym checkout warns about it): "reward range", "empty input".
    gymkit_rule: str | None = None
    # "schema" when the row is not what its model admits (no reward included): a reader that validates
    # the row another way (upstream's stepped rows, GYM402) replaces these with its own.
    kind: str | None = None

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else str(self.path)
        return f"{where}: {self.message}"


@dataclass
class _Problems:
    """Problems of one file; past the cap only a count is kept."""

    path: Path
    limit: int
    found: list[DataProblem] = field(default_factory=list)
    hidden: int = 0

    def add(self, line: int | None, message: str, gymkit_rule: str | None = None, kind: str | None = None) -> None:
        if len(self.found) < self.limit:
            self.found.append(DataProblem(self.path, line, message, gymkit_rule, kind))
        else:
            self.hidden += 1

    def result(self) -> list[DataProblem]:
        if not self.hidden:
            return list(self.found)
        more = DataProblem(self.path, None, f"{self.hidden} more problems not shown; fix the ones above and run again")
        return [*self.found, more]


def _rows(
    path: Path, problems: _Problems, placeholder_hint: str, root: Path | None
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Rows that parse as JSON objects; every line that does not becomes a problem.

    A file that cannot be read safely at all (a FIFO, a symlink out of the repository, a line
    of more than 64 MiB) is one problem, and reading stops there.
    """
    try:
        for number, raw in iter_lines(path, root=root):
            text = raw.strip()
            if not text:
                continue
            if text == PLACEHOLDER:
                problems.add(number, f"a placeholder line, not a row: {placeholder_hint}")
                continue
            try:
                row = parse_json(path, number, raw)
            except InvalidDataError as exc:
                generic = exc.problem == "not valid JSON"
                problems.add(number, f"{exc.problem}: {_json_hint(text)}" if generic else _with_hint(exc))
                continue
            if not isinstance(row, dict):
                problems.add(number, f"expected a JSON object, got {type(row).__name__}: {_json_hint(text)}")
                continue
            yield number, row
    except InvalidDataError as exc:
        problems.add(exc.line, _with_hint(exc))


def _with_hint(exc: InvalidDataError) -> str:
    return exc.problem + (f"; {exc.hint}" if exc.hint else "")


def _json_hint(text: bytes) -> str:
    # Python's json module writes NaN and Infinity, which no JSON reader accepts.
    if b"NaN" in text or b"Infinity" in text:
        return "NaN and Infinity are not JSON, and a reward must be a finite number"
    return "write one JSON object per line"


def _unreadable(path: Path, what: str) -> list[DataProblem] | None:
    if not path.exists() and not path.is_symlink():
        return [DataProblem(path, None, f"file not found: {what}")]
    return None  # anything else that is not a regular file is refused when it is opened


def _server_name(path: Path) -> str:
    # resources_servers/NAME/data/FILE
    return path.parent.parent.name if path.parent.name == "data" else "NAME"


def example_problems(
    path: Path, *, min_rows: int = MIN_EXAMPLE_ROWS, limit: int = MAX_PROBLEMS_PER_FILE, root: Path | None = None
) -> list[DataProblem]:
    """Problems of a task file such as ``data/example.jsonl``; an empty list means it is fine.

    Every line must parse and validate as a run request, there must be at least
    ``min_rows`` rows, and no row may repeat another. The file may not lead out of ``root``.
    """
    missing = _unreadable(path, f"add at least {min_rows} example tasks, one JSON object per line")
    if missing:
        return missing
    problems = _Problems(path, limit)
    seen: dict[bytes, int] = {}
    count = 0
    for number, row in _rows(path, problems, f"write a real task, {TASK_ROW_SHAPE}", root):
        count += 1
        try:
            BaseRunRequest.model_validate(row)
        except ValidationError as exc:
            problems.add(number, f"{validation_problem(exc)}; a task row is {TASK_ROW_SHAPE}")
        key = orjson.dumps(row, option=orjson.OPT_SORT_KEYS)
        first = seen.setdefault(key, number)
        if first != number:
            problems.add(number, f"same row as line {first}; make every example a different task or delete it")
    found = problems.result()
    if count < min_rows:
        have = "no rows" if count == 0 else f"only {count} row{'s' if count != 1 else ''}"
        found.append(DataProblem(path, None, f"{have}; add example tasks until there are at least {min_rows}"))
    return found


def rollout_problems(
    path: Path, *, limit: int = MAX_PROBLEMS_PER_FILE, num_tasks: int | None = None, root: Path | None = None
) -> list[DataProblem]:
    """Problems of a rollouts file such as ``data/example_rollouts.jsonl``; empty means it is fine.

    Every line must be a verify response (a :class:`~gymkit.runtime.wire.RolloutRow`) whose
    ``reward`` is a finite number in [0, 1] (within :data:`REWARD_EPSILON`), with valid, unique indices
    (:class:`~gymkit.indices.RolloutIndices`; ``num_tasks`` is the number of example rows when known).
    """
    collect = f"collect real rollouts with `gymkit rollouts {_server_name(path)}`"
    missing = _unreadable(path, collect)
    if missing:
        return missing
    problems = _Problems(path, limit)
    indices = RolloutIndices(num_tasks=num_tasks)
    count = 0
    for number, row in _rows(path, problems, collect, root):
        count += 1
        index_problem = indices.problem(row, number)
        if index_problem:
            problems.add(number, f"{index_problem}; {collect}")
        if "reward" not in row:
            problems.add(
                number, f"no reward: a rollout row is a verify response with a reward; {collect}", kind="schema"
            )
            continue
        try:
            RolloutRow.model_validate(row)
        except ValidationError as exc:
            rule = "empty input" if _only_empty_input(exc) else None
            message = f"{validation_problem(exc)}; a rollout row is a verify response, {collect}"
            problems.add(number, message, rule, kind="schema")
            continue
        problem = None if clamped_reward(row["reward"]) is not None else reward_problem(row["reward"])
        if problem:
            # RolloutRow holds the reward finite; what is left is gymkit's [0, 1] range.
            problems.add(number, f"{problem}; verify must return a reward between 0 and 1", "reward range")
    for number, duplicate in indices.duplicates():
        problems.add(number, f"{duplicate}; {collect}")
    found = problems.result()
    if count == 0:
        found.append(DataProblem(path, None, f"no rollouts in the file; {collect}"))
    return found


def _only_empty_input(exc: ValidationError) -> bool:
    # An environment that builds the prompt itself (aviary, gdpval) stores an empty input.
    errors = exc.errors()
    return len(errors) == 1 and errors[0]["loc"] == ("responses_create_params", "input") and "empty" in errors[0]["msg"]


def clamped_reward(value: object) -> float | None:
    """The bound 0 or 1 that ``value`` is read as when it lies within :data:`REWARD_EPSILON` outside [0, 1]."""
    if not finite_number(value):
        return None
    for bound in (0.0, 1.0):
        if value != bound and abs(value - bound) <= REWARD_EPSILON and not 0.0 <= value <= 1.0:
            return bound
    return None


def server_data_problems(paths: ServerPaths, *, min_rows: int = MIN_EXAMPLE_ROWS) -> list[DataProblem]:
    """The example tasks, and the example rollouts when the server has them."""
    found = example_problems(paths.example, min_rows=min_rows, root=paths.root)
    if paths.example_rollouts.exists() or paths.example_rollouts.is_symlink():
        found += rollout_problems(paths.example_rollouts, num_tasks=example_count(paths), root=paths.root)
    return found


def example_count(paths: ServerPaths) -> int | None:
    """How many task rows data/example.jsonl has, when it reads cleanly (the bound of ``_ng_task_index``)."""
    try:
        return sum(1 for _ in iter_json_rows(paths.example, root=paths.root))
    except InvalidDataError:
        return None
