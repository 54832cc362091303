"""Code licences: SPDX parsing and compatibility with the repository's own licence.

A server's code ships inside the gym repository (Apache-2.0), so its licence must let it
be distributed under those terms. Strong copyleft (GPL, AGPL, ...) cannot; weak copyleft
(LGPL, MPL, EPL) can with conditions a maintainer should look at, so it is a warning.
"""

from __future__ import annotations

import contextlib
import re
import threading
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from license_expression import ExpressionError, Licensing, get_license_index, get_spdx_licensing

__all__ = ["Verdict", "compatibility", "licence_by_name", "parse_spdx", "repository_license"]

Verdict = Literal["ok", "weak-copyleft", "copyleft"]

_STRONG = ("GPL-", "AGPL-", "SSPL-", "EUPL-", "OSL-", "RPL-", "CECILL-2", "CPAL-", "Sleepycat", "QPL-")
_WEAK = ("LGPL-", "MPL-", "EPL-", "CDDL-", "CECILL-C", "MS-RL", "CPL-", "Artistic-1")
_ORDER: dict[Verdict, int] = {"ok": 0, "weak-copyleft": 1, "copyleft": 2}


# license_expression's reader keeps parse state on the shared Licensing object: two threads
# parsing at once (`gymkit check -j`) corrupt it, and every later parse of that text then fails.
_PARSE_LOCK = threading.Lock()


@lru_cache(maxsize=1)
def _licensing() -> Licensing:
    return get_spdx_licensing()


@lru_cache(maxsize=1)
def _by_key() -> dict[str, str]:
    """SPDX identifier by every lower-case key the licence database knows it by (ScanCode's and SPDX's)."""
    keys: dict[str, str] = {}
    for entry in get_license_index():
        spdx = entry.get("spdx_license_key")
        if not spdx or entry.get("is_exception") or entry.get("is_deprecated"):
            continue
        for key in (entry["license_key"], spdx, *(entry.get("other_spdx_license_keys") or ())):
            keys.setdefault(key.lower(), spdx)
    return keys


def licence_by_name(text: str) -> str | None:
    """The SPDX identifier of a licence written by its name, as NeMo Gym's README template writes it
    (``Apache 2.0`` is ``Apache-2.0``); None unless the name is that of exactly one licence."""
    name = re.sub(r"<[^>]*>", " ", text).strip().strip(".").lower()
    name = re.sub(r"\b(?:the|licen[cs]e|version|v(?=\d))\b", " ", name)
    key = re.sub(r"[\s_]+", "-", name.strip()).strip("-")
    return _by_key().get(key) if key else None


def parse_spdx(text: str) -> tuple[Any | None, str | None]:
    """``(expression, None)`` for a valid SPDX expression, else ``(None, why)``."""
    if not text.strip():
        return None, "empty"
    try:
        with _PARSE_LOCK:
            return _licensing().parse(text, validate=True, strict=True), None
    except ExpressionError as exc:
        return None, str(exc)


def _symbol_verdict(key: str) -> Verdict:
    if key.startswith("LGPL-") or key.startswith(_WEAK):
        return "weak-copyleft"
    if key.startswith(_STRONG):
        return "copyleft"
    return "ok"


def compatibility(expression: Any) -> tuple[Verdict, list[str]]:
    """The best verdict a licensee can choose: OR takes the kindest branch, AND the worst part."""
    licensing = _licensing()
    if isinstance(expression, licensing.OR):
        results = [compatibility(arg) for arg in expression.args]
        return min(results, key=lambda r: _ORDER[r[0]])
    if isinstance(expression, licensing.AND):
        results = [compatibility(arg) for arg in expression.args]
        verdict = max((r[0] for r in results), key=lambda v: _ORDER[v])
        return verdict, [k for r in results for k in r[1]]
    # A symbol, or "X WITH exception": the exception does not lift the copyleft.
    key = getattr(getattr(expression, "license_symbol", expression), "key", str(expression))
    verdict = _symbol_verdict(key)
    return verdict, [key] if verdict != "ok" else []


_LICENSE_FILE_HEADS = {"Apache License": "Apache-2.0", "MIT License": "MIT"}


def repository_license(start: Path) -> str:
    """The gym repository's licence: pyproject's ``license``, else its LICENSE file, else Apache-2.0."""
    for folder in (start, *start.parents):
        if not (folder / "resources_servers").is_dir():
            continue
        with contextlib.suppress(OSError, tomllib.TOMLDecodeError):
            text = (folder / "pyproject.toml").read_text(encoding="utf-8")
            value = tomllib.loads(text).get("project", {}).get("license")
            if isinstance(value, str) and value:
                return value
        with contextlib.suppress(OSError, UnicodeDecodeError):
            head = (folder / "LICENSE").read_text(encoding="utf-8")[:200].strip()
            for start_text, spdx in _LICENSE_FILE_HEADS.items():
                if head.startswith(start_text):
                    return spdx
        break
    return "Apache-2.0"
