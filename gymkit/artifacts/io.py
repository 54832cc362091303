"""The one reader and writer of gymkit's JSON artifacts: versioned, validated, written atomically.

Every file gymkit writes and later reads back (a reward profile, a training report, a test
stamp, a run record) is a model here. Reading checks the version before the fields, so a file
from a newer gymkit says to upgrade rather than listing fields this version has never heard of;
a file without ``schema_version`` predates the field and reads as version 1.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, TypeVar

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gymkit.errors import InvalidDataError
from gymkit.inputs import read_json
from gymkit.jsonl import atomic_write_bytes

__all__ = [
    "Artifact",
    "artifact_bytes",
    "check_version",
    "field_problem",
    "read_artifact",
    "read_optional",
    "write_artifact",
]

A = TypeVar("A", bound="Artifact")

_JSON_OPTIONS = orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


class Artifact(BaseModel):
    """A whole-file JSON document with a schema version; unknown keys are refused."""

    model_config = ConfigDict(extra="forbid")

    SCHEMA_VERSION: ClassVar[int] = 1
    # The name the schema is published under (docs/schemas/NAME.schema.json).
    SCHEMA_NAME: ClassVar[str] = ""

    schema_version: int = Field(default=1, ge=1, strict=True, description="Absent in files from before it existed: 1.")


def field_problem(exc: ValidationError) -> str:
    """The first field error as ``a.b.c: message``, plus how many more there are."""
    errors = exc.errors()
    err = errors[0]
    where = ".".join(str(part) for part in err["loc"]) or "(document)"
    message = {"extra_forbidden": "unknown key", "missing": "required field is missing"}.get(err["type"], err["msg"])
    more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {message}{more}"


def check_version(path: Path, line: int | None, model: type[Artifact], data: dict[str, Any]) -> None:
    """Refuse a document from a newer gymkit before its fields are judged by this one's rules."""
    version = data.get("schema_version", 1)
    if isinstance(version, int) and not isinstance(version, bool) and version > model.SCHEMA_VERSION:
        raise InvalidDataError(
            path,
            line,
            f"schema_version {version} is newer than this gymkit reads ({model.SCHEMA_VERSION}): upgrade gymkit",
            hint="pip install --upgrade gymkit",
        )


def _validate(path: Path, model: type[A], data: Any, hint: str | None) -> A:
    if not isinstance(data, dict):
        raise InvalidDataError(path, None, f"expected a JSON object, got {type(data).__name__}")
    check_version(path, None, model, data)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidDataError(path, None, field_problem(exc), hint=hint) from None


def read_artifact(path: Path, model: type[A], *, root: Path | None = None, hint: str | None = None) -> A:
    """``path`` as ``model``; an :class:`InvalidDataError` naming the file and the field otherwise.

    The bytes go through :func:`gymkit.inputs.read_json`: artifacts are committed with a pull
    request, so the same bounds hold as for any file a stranger controls. ``hint`` is the next
    step shown under a field error (how to make the file again).
    """
    return _validate(path, model, read_json(path, root=root), hint)


def read_optional(path: Path, model: type[A], *, root: Path | None = None) -> A | str | None:
    """The artifact, the one-line reason it cannot be used, or None when there is no such file."""
    if not (path.exists() or path.is_symlink()):  # a dangling symlink is there, and unreadable
        return None
    try:
        return read_artifact(path, model, root=root)
    except InvalidDataError as exc:
        return exc.problem if exc.line is None else f"line {exc.line}: {exc.problem}"


def artifact_bytes(artifact: Artifact) -> bytes:
    """The file's bytes: the keys the writer set, in the model's order, ``schema_version`` first."""
    body = artifact.model_dump(exclude_unset=True)
    body.pop("schema_version", None)
    return orjson.dumps({"schema_version": artifact.schema_version, **body}, option=_JSON_OPTIONS) + b"\n"


def write_artifact(path: Path, artifact: Artifact) -> Path:
    atomic_write_bytes(path, artifact_bytes(artifact))
    return path
