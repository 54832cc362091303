"""The ``_gymkit`` key of a rollout row: which model, endpoint and sampling made it.

Rows are read by tools that must show a broken row rather than refuse it (``gymkit view``,
``gymkit health``), so :func:`rollout_meta` returns None for a row without usable metadata
and :func:`read_rollout_meta` is the strict reader that names the line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from pydantic import ValidationError

from gymkit.artifacts.io import Artifact, check_version, field_problem
from gymkit.errors import InvalidDataError

__all__ = ["KEY", "RolloutMeta", "read_rollout_meta", "rollout_meta"]

KEY = "_gymkit"


class RolloutMeta(Artifact):
    """Failed attempts (the ``_failures.jsonl`` side file) carry only what was known before the rollout ended."""

    SCHEMA_NAME: ClassVar[str] = "rollout_meta"

    model: str | None = None
    endpoint: str | None = None
    sampling: dict[str, Any] | None = None
    gymkit_version: str | None = None
    forced_tool_call: bool | None = None
    tool_calls: int | None = None
    # Includes calls refused before the server answered, which the output does not show.
    tool_errors: int | None = None
    task_sha256: str | None = None
    model_calls_by_replica: dict[str, int] | None = None  # only with several replicas


def read_rollout_meta(row: dict[str, Any], path: Path, line: int) -> RolloutMeta | None:
    """The row's metadata; None when it has none (an upstream row), an error naming ``path:line`` when invalid."""
    if KEY not in row:
        return None
    if isinstance(row[KEY], dict):
        check_version(path, line, RolloutMeta, row[KEY])
    try:
        return RolloutMeta.model_validate(row[KEY])
    except ValidationError as exc:
        raise InvalidDataError(path, line, f"{KEY}.{field_problem(exc)}") from None


def rollout_meta(row: dict[str, Any]) -> RolloutMeta | None:
    """The row's metadata, or None when it has none or it does not validate."""
    try:
        return RolloutMeta.model_validate(row[KEY]) if KEY in row else None
    except ValidationError:
        return None
