"""Code licences: SPDX parsing and compatibility with the repository's own licence.

A server's code ships inside the gym repository (Apache-2.0), so its licence must let it
be distributed under those terms. Strong copyleft (GPL, AGPL, ...) cannot, nor can licences that
forbid commercial use or derivatives; weak copyleft (LGPL, MPL, EPL) can with conditions a maintainer
should look at, as must a licence the database does not classify. The classes are ScanCode's, shipped
with license-expression's licence index.
"""

from __future__ import annotations

import contextlib
import re
import threading
import tomllib
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from license_expression import ExpressionError, Licensing, get_license_index, get_spdx_licensing

__all__ = ["Verdict", "compatibility", "licence_by_name", "parse_spdx", "repository_license"]

Verdict = Literal["ok", "unclear", "weak-copyleft", "copyleft", "restricted"]

# ScanCode's licence categories, which the licence index carries for every licence it knows.
_BY_CATEGORY: dict[str, Verdict] = {
    "Permissive": "ok",
    "Public Domain": "ok",
    "Copyleft Limited": "weak-copyleft",
    "Copyleft": "copyleft",
    "Source-available": "restricted",  # non-commercial, no-derivatives, BUSL: not open source
    "Commercial": "restricted",
}
# Where gymkit judges more strictly than ScanCode: these share the GPL's reach over a combined work.
_STRONG = ("GPL-", "AGPL-", "SSPL-", "EUPL-", "OSL-", "RPL-", "CECILL-2", "CPAL-", "Sleepycat", "QPL-")
_ORDER: dict[Verdict, int] = {"ok": 0, "unclear": 1, "weak-copyleft": 2, "copyleft": 3, "restricted": 4}


# license_expression's reader keeps parse state on the shared Licensing object: two threads
# parsing at once (`gymkit check -j`) corrupt it, and every later parse of that text then fails.
_PARSE_LOCK = threading.Lock()


@lru_cache(maxsize=1)
def _licensing() -> Licensing:
    return get_spdx_licensing()


def _entries() -> Iterator[tuple[dict[str, Any], str]]:
    for entry in get_license_index():
        spdx = entry.get("spdx_license_key")
        if spdx and not entry.get("is_exception") and not entry.get("is_deprecated"):
            yield entry, spdx


@lru_cache(maxsize=1)
def _category() -> dict[str, str]:
    """ScanCode's category of each licence, by SPDX identifier."""
    return {spdx: entry.get("category") or "" for entry, spdx in _entries()}


@lru_cache(maxsize=1)
def _by_key() -> dict[str, set[str]]:
    """SPDX identifiers by every lower-case key the licence database knows a licence by (ScanCode's and SPDX's)."""
    keys: dict[str, set[str]] = {}
    for entry, spdx in _entries():
        for key in (entry["license_key"], spdx, *(entry.get("other_spdx_license_keys") or ())):
            keys.setdefault(key.lower(), set()).add(spdx)
    return keys


# How licence names are spoken, to the words of the database's keys: 'GNU General Public License v3' is gpl-3.
_SPOKEN = (
    (r"<[^<>]*>", " "),  # HTML a README may wrap the name in; [^<>] keeps this linear on unclosed tags
    (r"[,;]|\bgnu\b", " "),
    (r"\b(?:lesser|library) general public\b", "lgpl"),
    (r"\baffero general public\b", "agpl"),
    (r"\bgeneral public\b", "gpl"),
    (r"\b(?:the|licen[cs]e|version)\b", " "),
    (r"\bv(?=\d)", " "),
)
# Tried only when the name as written is no key, since keys such as cc0-1.0 and x11 run letters into digits.
_RUN_TOGETHER = r"(?<=[a-z])v?(?=\d)"  # GPLv3 and gpl3 are gpl 3


def licence_by_name(text: str) -> str | None:
    """The SPDX identifier of a licence written by its name, as NeMo Gym's README template writes it
    (``Apache 2.0`` is ``Apache-2.0``, ``GPLv3`` is ``GPL-3.0-only``); None unless the name is that of
    exactly one licence."""
    name = text.strip().strip(".").lower()
    for pattern, replacement in _SPOKEN:
        name = re.sub(pattern, replacement, name)
    for spelling in (name, re.sub(_RUN_TOGETHER, " ", name)):
        key = re.sub(r"\s+", "-", spelling.strip().replace("_", " ")).strip("-")
        # A bare major version names its .0: 'Apache 2' and 'GPL 3' are 2.0 and 3.0.
        for candidate in (key, re.sub(r"(?<=-)(\d+)$", r"\1.0", key)):
            if found := _by_key().get(candidate):
                return next(iter(found)) if len(found) == 1 else None
    return None


def parse_spdx(text: str) -> tuple[Any | None, str | None]:
    """``(expression, None)`` for a valid SPDX expression, else ``(None, why)``."""
    if not text.strip():
        return None, "empty"
    try:
        with _PARSE_LOCK:
            return _licensing().parse(text, validate=True, strict=True), None
    except ExpressionError as exc:
        return None, str(exc)


@lru_cache(maxsize=1)
def _exception_category() -> dict[str, str]:
    """ScanCode's category of each licence exception, by SPDX identifier."""
    return {
        entry["spdx_license_key"]: entry.get("category") or ""
        for entry in get_license_index()
        if entry.get("is_exception") and entry.get("spdx_license_key")
    }


def _symbol_verdict(key: str) -> Verdict:
    verdict = _BY_CATEGORY.get(_category().get(key, ""), "unclear")
    if key.startswith(_STRONG) and _ORDER[verdict] < _ORDER["copyleft"]:
        return "copyleft"
    if verdict == "ok" and key.startswith("LicenseRef-"):
        # Known to ScanCode only ('NVIDIA License', 'Other Permissive'): a name too loose to call permissive.
        return "unclear"
    return verdict


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
    # A symbol, or "X WITH exception": the exception does not lift the copyleft, and one that adds a
    # restriction (the Commons Clause forbids selling) makes the whole restricted.
    key = getattr(getattr(expression, "license_symbol", expression), "key", str(expression))
    verdict = _symbol_verdict(key)
    exception = getattr(getattr(expression, "exception_symbol", None), "key", None)
    if exception and _BY_CATEGORY.get(_exception_category().get(exception, "")) == "restricted":
        return "restricted", [f"{key} WITH {exception}"]
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
