"""JSONL in and out: rows with their line numbers, one-line errors, atomic writes."""

from __future__ import annotations

import os
import re
import socket
import tempfile
import time
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError

from gymkit.errors import CannotWriteError, InvalidDataError
from gymkit.inputs import iter_json_rows, parse_json

__all__ = [
    "atomic_write_bytes",
    "atomic_write_jsonl",
    "atomic_write_text",
    "dumps",
    "iter_rows",
    "parse_line",
    "read_rows",
    "validate_rows",
    "validation_problem",
]

M = TypeVar("M", bound=BaseModel)


def dumps(obj: Any) -> bytes:
    """Compact JSON, the way rollouts files are written (non-str keys and numpy scalars allowed)."""
    return orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY)


def iter_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, row)``; blank lines are skipped, anything else must be a JSON object.

    Every JSONL file gymkit reads may come from a pull request, so this is the bounded reader
    of :mod:`gymkit.inputs` (regular files only, lines and nesting capped, UTF-8, finite numbers).
    """
    return iter_json_rows(path)


def parse_line(path: Path, number: int, raw: bytes) -> dict[str, Any]:
    """One non-blank line as a JSON object; :class:`InvalidDataError` names ``path:number`` otherwise."""
    row = parse_json(path, number, raw)
    if not isinstance(row, dict):
        raise InvalidDataError(path, number, f"expected a JSON object, got {type(row).__name__}")
    return row


def read_rows(path: Path) -> list[dict[str, Any]]:
    return [row for _, row in iter_rows(path)]


def validation_problem(exc: ValidationError) -> str:
    """The first field error of ``exc`` as ``field.path: message``."""
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"]) or "row"
    message = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        message = "unknown key (not part of the Responses API request)"
    elif err["type"] == "missing":
        message = "required field is missing"
    more = len(exc.errors()) - 1
    return f"{loc}: {message}" + (f" (+{more} more)" if more > 0 else "")


def validate_rows(path: Path, model: type[M]) -> Iterator[tuple[int, M]]:
    """Yield ``(line_number, model)`` for every row, raising on the first that does not validate."""
    for number, row in iter_rows(path):
        try:
            yield number, model.model_validate(row)
        except ValidationError as exc:
            raise InvalidDataError(path, number, validation_problem(exc)) from None


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# Read once, at import: os.umask can only be read by setting it, which would race other threads.
_UMASK = _read_umask()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so a reader sees the old file or the new one, never half of one.

    A failure is a ``CannotWriteError`` naming ``path``: one line for the person who chose it.
    """
    try:
        _replace(path, data)
    except OSError as exc:
        raise CannotWriteError(path, exc) from None


# Temporary files are named after their target, this host and the writing process,
# ``.NAME.gymkit-tmp-HOST-PID-XXXXXXXX``, so the next write to NAME can tell a leftover of a
# killed writer from a write still in flight. A temp file is removed when its writer was on this
# host and that process is gone (kill -9, power loss), or, whoever wrote it, once it is older
# than STALE_AFTER: no write takes that long, and the pid may have been reused, or belong to
# another machine sharing the folder.
STALE_AFTER = 600.0
_TMP_MARK = ".gymkit-tmp-"
_HOST = f"{zlib.crc32(socket.gethostname().encode()) & 0xFFFFFF:06x}"


def _remove_stale_temporaries(path: Path) -> None:
    ours = re.compile(rf"\.{re.escape(path.name)}{re.escape(_TMP_MARK)}([0-9a-f]{{6}})-(\d+)-\w{{8}}")
    # What mkstemp made before temp files carried their writer: age alone tells.
    legacy = re.compile(rf"\.{re.escape(path.name)}\.\w{{8}}\.tmp")
    now = time.time()
    try:
        entries = [e for e in os.scandir(path.parent) if e.name.startswith(f".{path.name}.")]
    except OSError:
        return
    for entry in entries:
        match = ours.fullmatch(entry.name)
        if not match and not legacy.fullmatch(entry.name):
            continue
        try:
            old = now - entry.stat(follow_symlinks=False).st_mtime > STALE_AFTER
            if old or (match and match.group(1) == _HOST and not _alive(int(match.group(2)))):
                os.unlink(entry.path)
        except OSError:
            continue  # gone already (another writer cleaned it), or not ours to remove


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True  # another thread of ours may be writing the same target right now
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def _replace(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(path)
    prefix = f".{path.name}{_TMP_MARK}{_HOST}-{os.getpid()}-"
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=prefix, suffix="")
    try:
        # mkstemp makes the file private (0600); the result should look like any file the user
        # writes: the old file's mode when replacing one, else what the umask allows.
        os.fchmod(fd, path.stat().st_mode & 0o7777 if path.exists() else 0o666 & ~_UMASK)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_jsonl(path: Path, rows: Iterable[Any]) -> None:
    atomic_write_bytes(path, b"".join(dumps(row) + b"\n" for row in rows))
