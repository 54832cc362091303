"""json_extraction: read a short text, answer with a JSON object of the asked fields.

A continuous reward from four programmatic checks, each a fraction in [0, 1]:
the answer parses as a JSON object (``valid_json``), the required keys are there
(``fields_present``), their values have the declared type and lie in the declared range
(``values_in_range``), and the values equal the ones in the text (``values_correct``).
The weights favour getting the values right; a well-formed object with wrong values
still earns part of the reward, so a model learning the format gets a gradient.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, Literal

from pydantic import BaseModel, Field

from gymkit import BaseResourcesServer, BaseVerifyRequest, BaseVerifyResponse, output_text

__all__ = [
    "WEIGHTS",
    "FieldSpec",
    "JsonExtractionResourcesServer",
    "JsonExtractionVerifyRequest",
    "JsonExtractionVerifyResponse",
    "parse_object",
    "score_object",
    "server",
]

WEIGHTS = {"valid_json": 0.1, "fields_present": 0.2, "values_in_range": 0.2, "values_correct": 0.5}
_FENCE = re.compile(r"```(?:json)?[ \t]*\n(.*?)```", re.DOTALL | re.IGNORECASE)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$", re.IGNORECASE)
MAX_ANSWER_CHARS = 50_000


class FieldSpec(BaseModel):
    name: str
    type: Literal["string", "integer", "number", "date", "email", "boolean"]
    minimum: float | None = None
    maximum: float | None = None


class JsonExtractionVerifyRequest(BaseVerifyRequest):
    fields: list[FieldSpec] = Field(min_length=1)
    expected: dict[str, Any]


class JsonExtractionVerifyResponse(BaseVerifyResponse):
    criteria: dict[str, float] = Field(default_factory=dict)


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # Python's json accepts NaN and Infinity; JSON does not


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Parsers disagree on which of two equal keys wins, so such an object has no one meaning.
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError("duplicate keys")
    return dict(pairs)


def parse_object(text: str) -> dict[str, Any] | None:
    """The JSON object in the answer: a fenced block, else the whole text, else the first ``{...}``."""
    if len(text) > MAX_ANSWER_CHARS:
        return None
    candidates = [*_FENCE.findall(text), text]
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        candidates.append(text[start : end + 1])
    for candidate in candidates:
        try:
            value = json.loads(candidate.strip(), parse_constant=_not_json, object_pairs_hook=_unique_keys)
        except (ValueError, RecursionError):
            continue
        if isinstance(value, dict):
            return value
    return None


def _typed(value: Any, spec: FieldSpec) -> bool:
    match spec.type:
        case "string":
            ok = isinstance(value, str) and bool(value.strip())
        case "integer":
            ok = isinstance(value, int) and not isinstance(value, bool)
        case "number":
            ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        case "date":
            ok = isinstance(value, str) and bool(_DATE.match(value))
        case "email":
            ok = isinstance(value, str) and bool(_EMAIL.match(value))
        case "boolean":
            ok = isinstance(value, bool)
    if ok and spec.type in ("integer", "number"):
        ok = (spec.minimum is None or value >= spec.minimum) and (spec.maximum is None or value <= spec.maximum)
    return ok


def _equal(value: Any, expected: Any) -> bool:
    if isinstance(expected, bool) or isinstance(value, bool):
        return value is expected
    if isinstance(expected, int | float) and isinstance(value, int | float):
        return math.isclose(value, expected, rel_tol=1e-9, abs_tol=1e-6)
    if isinstance(expected, str) and isinstance(value, str):
        return " ".join(value.split()).casefold() == " ".join(expected.split()).casefold()
    return False


def score_object(obj: dict[str, Any] | None, fields: list[FieldSpec], expected: dict[str, Any]) -> dict[str, float]:
    """Each criterion as a fraction in [0, 1]."""
    present = [f for f in fields if obj is not None and f.name in obj]
    # An object with none of the asked keys ({}, or {"reward": "max"} addressed to the grader)
    # is no attempt at this task: format credit for it would pay for emitting any JSON at all.
    if obj is None or not present:
        return dict.fromkeys(WEIGHTS, 0.0)
    n = len(fields)
    return {
        "valid_json": 1.0,
        "fields_present": len(present) / n,
        "values_in_range": sum(_typed(obj[f.name], f) for f in present) / n,
        "values_correct": sum(_equal(obj[f.name], expected.get(f.name)) for f in present) / n,
    }


class JsonExtractionResourcesServer(BaseResourcesServer):
    async def verify(self, body: JsonExtractionVerifyRequest) -> JsonExtractionVerifyResponse:
        criteria = score_object(parse_object(output_text(body.response)), body.fields, body.expected)
        reward = sum(WEIGHTS[name] * value for name, value in criteria.items())
        return JsonExtractionVerifyResponse(**body.model_dump(), reward=round(reward, 6), criteria=criteria)


server = JsonExtractionResourcesServer()

if __name__ == "__main__":
    server.run()  # python app.py: how ng_run starts a server
