"""python_sandbox: write a Python function; hidden unit tests run it in a sandbox.

The model sees a function specification and answers with code. ``verify`` pulls the code
out of the answer, runs it in a separate, resource-limited process (``sandbox_runner.py``) and
calls the entry point on each hidden test's arguments. The expected values stay in this
server; the reward is the fraction of tests whose returned value matches.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import re
from fractions import Fraction
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, Field, field_validator
from sandbox_runner import SandboxLimits, SandboxUnavailableError, probe, run_sandboxed

from gymkit import BaseResourcesServer, BaseVerifyRequest, BaseVerifyResponse, output_text
from gymkit.errors import ServerLoadError

__all__ = ["PythonSandboxServer", "SandboxVerifyRequest", "UnitTest", "extract_code", "same_value", "server"]

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_FENCE_LANG = re.compile(r"[ \t]*([A-Za-z0-9_+-]*)")
_PYTHON_LANGS = frozenset({"", "python", "py", "python3"})
MAX_CODE_CHARS = 20_000
# Longer than any real answer to these tasks (the code itself may be 20,000 characters);
# the cap bounds the work one request can cost before anything is parsed.
MAX_RESPONSE_CHARS = 200_000
_TOLERANCE = Fraction(1, 10**9)

log = logging.getLogger("gymkit.python_sandbox")


class UnitTest(BaseModel):
    args: list[Any]
    expected: Any


class SandboxVerifyRequest(BaseVerifyRequest):
    entry_point: str
    tests: list[UnitTest] = Field(min_length=1)

    @field_validator("entry_point")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not _IDENTIFIER.match(value):
            raise ValueError(f"entry_point must be a Python identifier, got {value!r}")
        return value


def _fenced_blocks(text: str) -> tuple[list[tuple[str, str]], str]:
    """The closed fenced blocks as (language, body), and the text outside them.

    One pass over the lines, so the cost is linear in the text whatever it holds (a
    backtracking pattern took seconds on a run of backticks). A line starting with ```
    opens a block, and the next such line closes it; a block's last line may also end
    with the closing ```. An unclosed block stays in the outside text, where the
    unfenced fallback can still find a definition cut off by the token limit.
    """
    blocks: list[tuple[str, str]] = []
    outside: list[str] = []
    lang: str | None = None  # None: not inside a block
    opener = 0
    lines = text.split("\n")
    for number, line in enumerate(lines):
        if line.startswith("```"):
            if lang is None:
                lang = _FENCE_LANG.match(line, 3).group(1).lower()  # type: ignore[union-attr] - it matches ""
                opener = number
            else:
                blocks.append((lang, "\n".join(lines[opener + 1 : number]) + "\n"))
                lang = None
        elif lang is None:
            outside.append(line)
        elif line.endswith("```") or line.rstrip().endswith("```"):
            blocks.append((lang, "\n".join([*lines[opener + 1 : number], line.rstrip()[:-3]])))
            lang = None
    if lang is not None:
        outside.extend(lines[opener:])
    return blocks, "\n".join(outside)


def extract_code(text: str, entry_point: str) -> str | None:
    """The submitted code: the last fenced block defining ``entry_point``, else a bare ``def``.

    ``None`` when there is none, or when ``text`` is longer than ``MAX_RESPONSE_CHARS``
    (nothing is parsed then).
    """
    if len(text) > MAX_RESPONSE_CHARS:
        return None
    blocks, rest = _fenced_blocks(text)
    definition = re.compile(rf"\bdef\s+{re.escape(entry_point)}\s*\(")
    defining = [body for lang, body in blocks if lang in _PYTHON_LANGS and definition.search(body)]
    if defining:
        return defining[-1]
    # An unfenced (or unclosed) answer: take the definition and what follows; prose after
    # it is the model's problem (a SyntaxError), not something to guess around.
    match = re.search(rf"^def\s+{re.escape(entry_point)}\s*\(", rest, re.MULTILINE)
    if match:
        return rest[match.start() :]
    return None


def _close_to(got: Fraction, expected: Fraction) -> bool:
    # math.isclose's rule (rel 1e-9, abs 1e-9), in exact arithmetic: an int of any size
    # against a float neither overflows nor rounds.
    tolerance = max(_TOLERANCE * max(abs(got), abs(expected)), _TOLERANCE)
    return abs(got - expected) <= tolerance


def same_value(got: Any, expected: Any) -> bool:
    """JSON-value equality: exact for ints, strict about types, tolerant on float rounding only.

    An int is expected exactly (a float is never equal to it, however close, and True
    never equals 1); a float expectation accepts a float or an int within 1e-9 relative
    or absolute. Never raises on numbers: a value that cannot be compared does not match.
    """
    if isinstance(expected, bool) or isinstance(got, bool):
        return type(got) is type(expected) and got == expected
    if isinstance(expected, int):
        return type(got) is int and got == expected
    if isinstance(expected, float):
        if isinstance(got, float):
            return math.isclose(got, expected, rel_tol=1e-9, abs_tol=1e-9)
        if type(got) is int and math.isfinite(expected):
            return _close_to(Fraction(got), Fraction(expected))
        return False
    if isinstance(expected, list) and isinstance(got, list):
        return len(got) == len(expected) and all(same_value(g, e) for g, e in zip(got, expected, strict=True))
    if isinstance(expected, dict) and isinstance(got, dict):
        return got.keys() == expected.keys() and all(same_value(got[k], expected[k]) for k in expected)
    return type(got) is type(expected) and got == expected


def _matches(got: Any, expected: Any) -> bool:
    # A returned value nested deeper than the comparison can recurse is not the expected one.
    try:
        return same_value(got, expected)
    except RecursionError:
        return False


class PythonSandboxServer(BaseResourcesServer):
    reverify_mode = "stateless"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._slots: asyncio.Semaphore | None = None

    @property
    def app(self) -> FastAPI:
        # Refuse to serve rather than score submissions in a sandbox that does not hold:
        # the one-line reason names the missing kernel mechanism and the fix.
        if self._app is None:
            try:
                probe(self.limits())
            except SandboxUnavailableError as exc:
                raise ServerLoadError(str(exc)) from None
        return super().app

    def limits(self) -> SandboxLimits:
        """Limits from the server config (``cpu_seconds``, ``wall_seconds``, ``memory_mb``), else defaults."""
        extra = (self.config.model_extra or {}) if self.config else {}
        fields = SandboxLimits.__dataclass_fields__
        return SandboxLimits(**{k: v for k, v in extra.items() if k in fields})

    def _semaphore(self) -> asyncio.Semaphore:
        # One child per core: more would only make each one slower against its CPU limit.
        if self._slots is None:
            extra = (self.config.model_extra or {}) if self.config else {}
            self._slots = asyncio.Semaphore(int(extra.get("max_concurrent_sandboxes", os.cpu_count() or 1)))
        return self._slots

    async def verify(self, body: SandboxVerifyRequest) -> BaseVerifyResponse:
        try:
            return await self._verify(body)
        except SandboxUnavailableError:
            raise  # never a score from a weaker sandbox: the verify fails with the reason
        except Exception as exc:  # an answer must never turn into an HTTP 500
            log.exception("python_sandbox: verify failed")
            detail = f"{type(exc).__name__}: {exc}"[:500]
            return self._zero(body, {"status": "grader_error", "detail": detail})

    @staticmethod
    def _zero(body: SandboxVerifyRequest, sandbox: dict[str, Any]) -> BaseVerifyResponse:
        return BaseVerifyResponse(
            **body.model_dump(), reward=0.0, tests_passed=0, tests_total=len(body.tests), sandbox=sandbox
        )

    async def _verify(self, body: SandboxVerifyRequest) -> BaseVerifyResponse:
        text = output_text(body.response)
        total = len(body.tests)
        if len(text) > MAX_RESPONSE_CHARS:
            return self._zero(body, {"status": "response_too_long"})
        # A worker thread for anything whose cost grows with the answer: the event loop
        # keeps serving other verifies meanwhile.
        code = await asyncio.to_thread(extract_code, text, body.entry_point)
        if code is None or len(code) > MAX_CODE_CHARS:
            return self._zero(body, {"status": "no_code" if code is None else "code_too_long"})
        async with self._semaphore():
            run = await run_sandboxed(code, body.entry_point, [t.args for t in body.tests], self.limits())
        expected = [t.expected for t in body.tests]
        passed = await asyncio.to_thread(
            lambda: sum(1 for i, e in enumerate(expected) if i in run.values and _matches(run.values[i], e))
        )
        # Only a run that ended on its own counts: a killed child may have printed some
        # results before the limit struck, and a reward for those would pay for the hog.
        if run.status != "finished":
            passed = 0
        sandbox = {
            "status": run.status,
            "detail": run.detail,
            "layers": run.layers,
            "elapsed_seconds": run.elapsed_seconds,
            "errors": {str(k): v for k, v in sorted(run.errors.items())[:3]},
        }
        return BaseVerifyResponse(
            **body.model_dump(),
            reward=passed / total,
            tests_passed=passed,
            tests_total=total,
            extracted_code=code,
            sandbox=sandbox,
        )


server = PythonSandboxServer()
