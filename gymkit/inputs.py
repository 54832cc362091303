"""Reading files a pull request controls: regular files, inside the repository, UTF-8, bounded.

A contributor's data, config, README and reports come from a stranger. A symlink to
``/etc/passwd``, a FIFO that never ends, ``/dev/zero``, a gigabyte on one line or JSON nested
a hundred thousand levels deep is refused here, with one line naming the file (and line),
before a parser sees it; nothing here can hang or run out of memory.
"""

from __future__ import annotations

import math
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, TypeGuard

import orjson

from gymkit.errors import InvalidDataError

__all__ = [
    "MAX_DEPTH",
    "MAX_LINE_BYTES",
    "MAX_TEXT_BYTES",
    "check_inside",
    "finite_number",
    "iter_json_rows",
    "iter_lines",
    "open_regular",
    "parse_json",
    "read_bytes",
    "read_json",
    "read_text",
    "repo_root",
]

MAX_LINE_BYTES = 64 * 1024 * 1024  # one JSONL row; upstream's largest rollouts are a few MB
MAX_TEXT_BYTES = 64 * 1024 * 1024  # a whole config, README or report
# orjson reads 1024 levels but writes only 254; rows are written again (rollouts, reports), so
# what is read must stay writable. Real rows nest a few dozen levels at most.
MAX_DEPTH = 200
BOM = b"\xef\xbb\xbf"
NUL = b"\x00"
_KINDS = {
    stat.S_IFDIR: "a directory",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


def repo_root(path: Path) -> Path | None:
    """The nearest folder at or above ``path`` holding ``resources_servers/``; None outside a gym."""
    here = Path(os.path.abspath(path))
    for folder in (here, *here.parents):
        if (folder / "resources_servers").is_dir():
            return folder
    return None


def check_inside(path: Path, root: Path) -> None:
    """Refuse ``path`` when it (or a symlink on the way) leads out of ``root``."""
    resolved = path.resolve()
    if not resolved.is_relative_to(root.resolve()):
        raise InvalidDataError(
            path,
            None,
            f"leads out of the repository (to {resolved})",
            hint="commit the file itself instead of a symlink to somewhere else",
        )


@contextmanager
def open_regular(path: Path, *, root: Path | None = None) -> Iterator[IO[bytes]]:
    """``path`` opened for reading if it is a regular file (inside ``root`` when given)."""
    if root is not None:
        check_inside(path, root)
    try:
        # O_NONBLOCK: opening a FIFO would otherwise wait for a writer that never comes.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise InvalidDataError(path, None, "file not found") from None
    except OSError as exc:
        raise InvalidDataError(path, None, f"cannot read: {exc.strerror}") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        kind = _KINDS.get(stat.S_IFMT(mode), "not a file")
        raise InvalidDataError(path, None, f"not a regular file ({kind})", hint="replace it with a regular file")
    with os.fdopen(fd, "rb") as handle:
        yield handle


def read_bytes(path: Path, *, root: Path | None = None, limit: int | None = None) -> bytes:
    limit = MAX_TEXT_BYTES if limit is None else limit
    with open_regular(path, root=root) as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise InvalidDataError(path, None, f"larger than {_size(limit)}", hint="is this the right file?")
    return data


def _utf8_problem(path: Path, data: bytes, line: int | None = None) -> InvalidDataError | None:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if line is None:
            line = data.count(b"\n", 0, exc.start) + 1
            where = exc.start
        else:
            where = exc.start  # within the line
        return InvalidDataError(path, line, f"not UTF-8 at byte {where}", hint="save the file as UTF-8")
    return None


def read_text(path: Path, *, root: Path | None = None, limit: int | None = None) -> str:
    """The file as text; a leading byte-order mark is dropped, anything not UTF-8 is refused."""
    data = read_bytes(path, root=root, limit=limit).removeprefix(BOM)
    problem = _utf8_problem(path, data)
    if problem:
        raise problem
    return data.decode("utf-8")


def iter_lines(path: Path, *, root: Path | None = None, limit: int | None = None) -> Iterator[tuple[int, bytes]]:
    """``(line number, raw line)`` for every line, each at most ``limit`` bytes (default :data:`MAX_LINE_BYTES`)."""
    limit = MAX_LINE_BYTES if limit is None else limit
    with open_regular(path, root=root) as handle:
        number = 0
        while True:
            raw = handle.readline(limit + 1)
            if not raw:
                return
            number += 1
            if len(raw) > limit:
                raise InvalidDataError(
                    path,
                    number,
                    f"line longer than {_size(limit)}",
                    hint="a JSONL file holds one JSON object per line",
                )
            yield number, raw


def _too_deep(value: Any, limit: int) -> bool:
    # Iterative: a recursive walk is what deep input is built to crash.
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(node, dict):
            stack.extend((child, depth + 1) for child in node.values() if isinstance(child, dict | list))
        elif isinstance(node, list):
            stack.extend((child, depth + 1) for child in node if isinstance(child, dict | list))
    return False


def _decode_problem(raw: bytes, exc: orjson.JSONDecodeError) -> str:
    text = str(exc)
    if raw.startswith(BOM):
        return "starts with a byte-order mark (BOM); save the file as UTF-8 without one"
    if NUL in raw:
        return f"holds a NUL byte (at byte {raw.index(NUL)}); write one JSON object per line"
    if "depth limit" in text or "recursion" in text.lower():
        return f"not valid JSON: nested deeper than {MAX_DEPTH} levels"
    if "infinity" in text:
        return "not valid JSON: a number too large for a float (such as 1e999); numbers must be finite"
    if b"NaN" in raw or b"Infinity" in raw:
        return "not valid JSON: NaN and Infinity are not JSON, and numbers must be finite"
    return "not valid JSON"


def parse_json(path: Path, line: int | None, raw: bytes) -> Any:
    """One JSON value from ``raw``: finite numbers, UTF-8, at most :data:`MAX_DEPTH` levels deep."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        utf8 = _utf8_problem(path, raw, line)
        if utf8 is not None:
            raise utf8 from None
        if line is None and exc.lineno:
            line = exc.lineno
        raise InvalidDataError(path, line, _decode_problem(raw, exc)) from None
    # Counting brackets is C-speed; only a row with enough of them can be too deep.
    if raw.count(b"[") + raw.count(b"{") > MAX_DEPTH and _too_deep(value, MAX_DEPTH):
        raise InvalidDataError(path, line, f"nested deeper than {MAX_DEPTH} levels", hint="flatten the data")
    return value


def iter_json_rows(path: Path, *, root: Path | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, row)`` of a JSONL file; blank lines skipped, every other line a JSON object."""
    for number, raw in iter_lines(path, root=root):
        if not raw.strip():
            continue
        row = parse_json(path, number, raw)
        if not isinstance(row, dict):
            raise InvalidDataError(path, number, f"expected a JSON object, got {type(row).__name__}")
        yield number, row


def read_json(path: Path, *, root: Path | None = None, limit: int | None = None) -> Any:
    """A whole-file JSON document (a report, an event payload), read under the same rules."""
    data = read_bytes(path, root=root, limit=limit)
    if not data.strip():
        raise InvalidDataError(path, None, "empty file; expected a JSON document")
    return parse_json(path, None, data)


def _size(limit: int) -> str:
    return f"{limit // (1024 * 1024)} MiB" if limit >= 1024 * 1024 else f"{limit} bytes"


def finite_number(value: object) -> TypeGuard[int | float]:
    """A JSON number that is finite; a bool is an int to Python but never a score or a reward."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
