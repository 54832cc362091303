"""The command line of a server's dataset generator (``generate_data.py``).

A generator builds its splits deterministically; this writes them as ``data/SPLIT.jsonl``, or,
with ``--check``, says which committed file no longer matches, so a test catches the drift.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from gymkit.errors import CannotWriteError
from gymkit.jsonl import atomic_write_text

__all__ = ["generator_main", "jsonl_text"]

Splits = Mapping[str, Sequence[Mapping[str, Any]]]


def jsonl_text(rows: Sequence[Mapping[str, Any]]) -> str:
    """One row per line, keys sorted, so regenerating gives the same bytes and small diffs."""
    return "".join(json.dumps(row, sort_keys=True, ensure_ascii=False) + "\n" for row in rows)


def generator_main(
    build: Callable[[], Splits], script: str | Path, description: str | None, argv: list[str] | None = None
) -> int:
    """``python generate_data.py [--check] [--out DIR]`` for the splits ``build()`` returns.

    ``script`` is the generator's own file (its folder holds ``data/``); ``description`` its
    module docstring, whose first line is the help's summary.
    """
    script = Path(script).resolve()
    parser = argparse.ArgumentParser(prog=script.name, description=(description or "").strip().split("\n")[0])
    parser.add_argument("--check", action="store_true", help="compare with the files instead of writing them")
    parser.add_argument("--out", type=Path, default=script.parent / "data", help="folder for the .jsonl files")
    options = parser.parse_args(argv)
    for split, rows in build().items():
        path, text = options.out / f"{split}.jsonl", jsonl_text(rows)
        if options.check:
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                print(f"{path}: differs from the generator's output; run: python {script.name}", file=sys.stderr)
                return 1
            continue
        try:
            atomic_write_text(path, text)
        except CannotWriteError as exc:
            print(exc, file=sys.stderr)
            return 1
        print(f"wrote {len(rows)} rows to {path}")
    return 0
