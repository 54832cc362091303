"""Gold cases: a server's verifier fixture in NeMo Gym's format, else its full-reward rollouts.

NeMo Gym keeps a server's scorer contract in ``tests/verifier_cases.jsonl``: one JSON
object per line with ``name``, ``kind`` (``full_reward``, ``zero_reward``, ``malformed``,
``determinism``), the whole verify ``request`` (a task row plus ``response``), and either
``expected_reward`` or, for ``malformed``, ``expected_error`` (text the rejection must
contain). gymkit reads that file as upstream does (unknown keys are an error), and sends
every case over HTTP instead of calling verify in-process.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from gymkit.errors import GymkitError, InvalidDataError
from gymkit.jsonl import iter_rows
from gymkit.nemo.detect import server_kind
from gymkit.project import ServerPaths
from gymkit.reverify import StoredInputs, match_rollouts, without_nulls

__all__ = ["FIXTURE_FILE", "KINDS", "FixtureCase", "Gold", "gold_cases", "load_fixture"]

FIXTURE_FILE = "tests/verifier_cases.jsonl"
KINDS = ("full_reward", "zero_reward", "malformed", "determinism")
Kind = Literal["full_reward", "zero_reward", "malformed", "determinism"]
_KEYS = {"name", "kind", "request", "expected_reward", "expected_error"}


@dataclass
class FixtureCase:
    name: str
    kind: Kind
    request: dict[str, Any]
    line: int
    expected_reward: float | None = None
    expected_error: str | None = None


@dataclass
class Gold:
    """A response known to deserve its reward, for one task row."""

    row: int | None  # index into data/example.jsonl, None when no row has its input
    body: dict[str, Any]  # the whole verify request
    source: str  # file:line it came from
    expected: float | None  # the reward it must get (the fixture's, or the stored one)
    stored_input: bool = True  # False for a rollout whose input no example row or materialized input holds


def _case(path: Path, line: int, raw: Any) -> FixtureCase:
    def bad(why: str) -> InvalidDataError:
        return InvalidDataError(path, line, f"not a verifier fixture case: {why}")

    if not isinstance(raw, dict):
        raise bad("expected a JSON object")
    if unknown := sorted(set(raw) - _KEYS):
        raise bad(f"unknown key {unknown[0]!r}")
    name, kind, request = raw.get("name"), raw.get("kind"), raw.get("request")
    if not isinstance(name, str) or not name.strip():
        raise bad("'name' must be a non-empty string")
    if kind not in KINDS:
        raise bad(f"'kind' must be one of {', '.join(KINDS)}")
    if not isinstance(request, dict):
        raise bad("'request' must be an object (a task row plus 'response')")
    reward, error = raw.get("expected_reward"), raw.get("expected_error")
    if kind == "malformed":
        if not isinstance(error, str) or not error.strip() or reward is not None:
            raise bad("a malformed case needs 'expected_error' and no 'expected_reward'")
    else:
        finite = isinstance(reward, int | float) and not isinstance(reward, bool) and math.isfinite(reward)
        if not finite or error is not None:
            raise bad(f"a {kind} case needs a finite 'expected_reward' and no 'expected_error'")
    return FixtureCase(name.strip(), kind, request, line, None if reward is None else float(reward), error)


def load_fixture(paths: ServerPaths) -> list[FixtureCase] | None:
    """The server's fixture cases, or None when it has no fixture file; raises on a bad file."""
    path = paths.dir / FIXTURE_FILE
    if not path.is_file():
        return None
    cases: list[FixtureCase] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeError) as exc:
        raise InvalidDataError(path, None, f"cannot read: {exc}") from None
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidDataError(path, number, f"not valid JSON: {exc.msg}") from None
        cases.append(_case(path, number, raw))
    if not cases:
        raise InvalidDataError(path, None, "has no cases")
    return cases


def _row_of(request: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in request.items() if k != "response"}


def gold_cases(paths: ServerPaths, examples: list[dict[str, Any]], fixture: list[FixtureCase] | None) -> list[Gold]:
    """Full-reward fixture cases when the server has a fixture, else rollouts stored with reward 1."""
    if fixture is not None:
        chosen = [(case.line, case.request, case.expected_reward) for case in fixture if case.kind == "full_reward"]
        where = FIXTURE_FILE
    else:
        chosen = []
        where = f"data/{paths.example_rollouts.name}"
        if paths.example_rollouts.is_file():
            try:
                rows = list(iter_rows(paths.example_rollouts))
            except GymkitError:
                rows = []  # a broken rollouts file is GYM4's finding; the audit just has no gold
            for line, rollout in rows:
                reward = rollout.get("reward")
                if isinstance(reward, int | float) and not isinstance(reward, bool) and reward >= 1.0:
                    body = {k: v for k, v in rollout.items() if k not in ("reward", "_gymkit")}
                    chosen.append((line, body, float(reward)))
    matched = match_rollouts(examples, [(line, _row_of(body)) for line, body, _ in chosen])
    if fixture is None:
        # Sent as GYM404 sends a stored rollout: what verify saw, not its extras, which are its outputs
        # (bodies() leaves out an upstream request's null fields itself).
        bodies, unpaired = StoredInputs.read(paths, examples).pair([(line, body) for line, body, _ in chosen])
        return [
            Gold(matched.get(line), bodies[line], f"{where}:{line}", expected, stored_input=line not in unpaired)
            for line, _, expected in chosen
        ]
    upstream = server_kind(paths.dir) == "nemo_gym"
    return [
        Gold(matched.get(line), without_nulls(body) if upstream else body, f"{where}:{line}", expected)
        for line, body, expected in chosen
    ]
