"""What a task row and its gold response say about the answer, without knowing the server.

The probes need to know which of a row's values is "the answer" so they can swap it or
hide it among distractors. A server does not declare that, so it is inferred: a scalar
of the row (at any depth) whose text appears in the gold response's final message and
either is not given away by the prompt or sits under a key that names an answer
(``expected_answer``, ``expected.title``, ``label`` ...). Distractors are the values other
rows (and other entries of the same row) hold under the same key name, so a hedge over
temperatures lists temperatures, not task ids.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "AnswerField",
    "Pool",
    "answer_fields",
    "final_text",
    "is_answer_key",
    "leaves",
    "mentions",
    "prompt_text",
    "scaffold",
    "token",
]

# Keys that never hold the answer: the request itself, bookkeeping, ids.
_SKIP_KEYS = {"responses_create_params", "response", "reward", "agent_ref", "_gymkit"}
_HINTS = ("answer", "expected", "target", "label", "solution", "gold", "truth", "reference", "correct")
_NUMERIC = re.compile(r"^[-−]?\d+(?:\.\d+)?$")
MAX_FIELDS = 2
MAX_CANDIDATES = 4


def _skipped(key: str) -> bool:
    return key in _SKIP_KEYS or key.startswith("_ng_") or key == "id" or key.endswith("_id")


def leaves(value: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    """(path, scalar) for every string or number below ``value``; booleans are not answers worth hiding."""
    if isinstance(value, dict):
        for key, item in value.items():
            if not path and _skipped(str(key)):
                continue
            yield from leaves(item, (*path, str(key)))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from leaves(item, (*path, i))
    elif isinstance(value, str | int | float) and not isinstance(value, bool):
        yield path, value


def _leaf_key(path: tuple[str | int, ...]) -> str:
    return next((p for p in reversed(path) if isinstance(p, str)), "")


def token(value: Any) -> str:
    """The value as it would be written in an answer."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _kind(value: Any) -> str:
    return "number" if isinstance(value, int | float) or _NUMERIC.match(str(value).strip()) else "text"


def _pattern(text: str) -> re.Pattern[str]:
    # Boundaries that keep 13 from matching inside 130 or 1.3, and "Lima" inside "Limassol".
    return re.compile(rf"(?<![\w.]){re.escape(text)}(?![\w]|\.\d)")


def mentions(text: str, value: Any) -> bool:
    tok = token(value)
    return bool(tok) and bool(_pattern(tok).search(text))


def replace_value(text: str, value: Any, new: str) -> str:
    return _pattern(token(value)).sub(lambda _m: new, text)


def prompt_text(row: dict[str, Any]) -> str:
    """Everything the model was shown: instructions and every input message's text."""
    params = row.get("responses_create_params") or {}
    parts = [params.get("instructions") or ""]
    items = params.get("input")
    if isinstance(items, str):
        parts.append(items)
    for item in items if isinstance(items, list) else []:
        content = item.get("content") if isinstance(item, dict) else None
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts += [str(c.get("text", "")) for c in content if isinstance(c, dict)]
    return "\n\n".join(p for p in parts if p)


def _is_message(item: Any) -> bool:
    return isinstance(item, dict) and (item.get("type") == "message" or ("role" in item and "type" not in item))


def final_text(response: dict[str, Any] | None) -> str:
    """The text of the last assistant message in a raw response dict."""
    for item in reversed((response or {}).get("output") or []):
        if _is_message(item) and item.get("role", "assistant") == "assistant":
            content = item.get("content")
            if isinstance(content, str):
                return content
            return "".join(str(c.get("text", "")) for c in content or [] if isinstance(c, dict))
    return ""


def scaffold(response: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The gold's work before its final message (tool calls and their outputs), so a probe
    replaces only the answer: a verifier that needs the tool call then judges the text alone."""
    output = list((response or {}).get("output") or [])
    last = max((i for i, item in enumerate(output) if _is_message(item)), default=len(output))
    return [item for item in output[:last] if not _is_message(item)]


@dataclass
class AnswerField:
    path: tuple[str | int, ...]
    value: Any
    candidates: list[str] = field(default_factory=list)
    hinted: bool = False  # under a key that names an answer, not merely found in the gold text

    @property
    def name(self) -> str:
        return ".".join(str(p) for p in self.path)


class Pool:
    """Values seen under each key name across a server's rows: the distractors."""

    def __init__(self, rows: Iterable[dict[str, Any]]) -> None:
        self.by_key: dict[tuple[str, str], list[str]] = {}
        for row in rows:
            for path, value in leaves(row):
                tok = token(value)
                if not tok or len(tok) > 200:
                    continue
                values = self.by_key.setdefault((_leaf_key(path), _kind(value)), [])
                if tok not in values:
                    values.append(tok)

    def candidates(self, path: tuple[str | int, ...], value: Any, row: dict[str, Any], avoid: str) -> list[str]:
        """Other values of the same key, the row's own first (the distractors a model sees), none
        already in ``avoid`` (the gold text), none equal to the true value as text or number."""
        key = (_leaf_key(path), _kind(value))
        own = [token(v) for p, v in leaves(row) if (_leaf_key(p), _kind(v)) == key]
        truth = token(value)
        found: list[str] = []
        for tok in [*own, *self.by_key.get(key, [])]:
            if tok in found or _same(tok, truth) or mentions(avoid, tok) or '"' in tok or "\\" in tok:
                continue
            found.append(tok)
            if len(found) == MAX_CANDIDATES:
                break
        return found


def _same(a: str, b: str) -> bool:
    if a.casefold() == b.casefold():
        return True
    try:
        return float(a.replace("−", "-")) == float(b.replace("−", "-"))
    except ValueError:
        return False


def is_answer_key(key: str) -> bool:
    return any(h in key.lower() for h in _HINTS)


def _hinted(path: tuple[str | int, ...]) -> bool:
    return any(isinstance(p, str) and is_answer_key(p) for p in path)


def answer_fields(row: dict[str, Any], gold_text: str | None, pool: Pool) -> list[AnswerField]:
    """The row's answer values (see the module docstring), most telling first, with distractors.

    Without a gold text only keys that name an answer qualify: there is nothing to find them in.
    """
    prompt = prompt_text(row)
    best: dict[str, tuple[tuple[int, int, int], AnswerField]] = {}
    for path, value in leaves(row):
        tok = token(value)
        if not tok or (isinstance(value, str) and len(tok) > 200):
            continue
        hinted = _hinted(path)
        if gold_text is None:
            if not hinted:
                continue
        elif not mentions(gold_text, value) or not (hinted or not mentions(prompt, value)):
            continue
        # One value can sit at several paths (2 degrees in Oslo, 2 in Lisbon); the path the
        # prompt points at (its city, its id) is the one the answer is about.
        pointed = sum(1 for p in path if isinstance(p, str) and mentions(prompt, p))
        score = (int(hinted), pointed, len(tok))
        if tok in best and best[tok][0] >= score:
            continue
        candidates = pool.candidates(path, value, row, gold_text or "")
        if len(candidates) >= 2:
            best[tok] = (score, AnswerField(path, value, candidates, hinted))
    ranked = sorted(best.values(), key=lambda pair: pair[0], reverse=True)
    return [f for _, f in ranked[:MAX_FIELDS]]


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
