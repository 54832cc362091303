"""python_sandbox: write a Python function; hidden unit tests run it in a sandbox.

The model sees a function specification and answers with code. ``verify`` pulls the code
out of the answer, runs it in a separate, resource-limited process (``sandbox_runner.py``) and
calls the entry point on each hidden test's arguments. The expected values stay in this
server; the reward is the fraction of tests whose returned value matches.
"""

from __future__ import annotations

import asyncio
import math
import os
import re
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, Field, field_validator
from sandbox_runner import SandboxLimits, SandboxUnavailableError, probe, run_sandboxed

from gymkit import BaseResourcesServer, BaseVerifyRequest, BaseVerifyResponse, output_text
from gymkit.errors import ServerLoadError

__all__ = ["PythonSandboxServer", "SandboxVerifyRequest", "UnitTest", "extract_code", "same_value", "server"]

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)```", re.DOTALL)
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MAX_CODE_CHARS = 20_000


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


def extract_code(text: str, entry_point: str) -> str | None:
    """The submitted code: the last fenced block defining ``entry_point``, else a bare ``def``."""
    blocks = [body for lang, body in _FENCE.findall(text) if lang.lower() in ("", "python", "py", "python3")]
    defining = [b for b in blocks if re.search(rf"\bdef\s+{re.escape(entry_point)}\s*\(", b)]
    if defining:
        return defining[-1]
    # An unfenced (or unclosed) answer: take the definition and what follows; prose after
    # it is the model's problem (a SyntaxError), not something to guess around.
    rest = _FENCE.sub("", text)
    match = re.search(rf"^def\s+{re.escape(entry_point)}\s*\(", rest, re.MULTILINE)
    if match:
        return rest[match.start() :]
    return None


def same_value(got: Any, expected: Any) -> bool:
    """JSON-value equality, strict about bool vs int, tolerant on float rounding."""
    if isinstance(expected, bool) or isinstance(got, bool):
        return type(got) is type(expected) and got == expected
    if isinstance(expected, int | float) and isinstance(got, int | float):
        if isinstance(expected, float) or isinstance(got, float):
            return math.isclose(got, expected, rel_tol=1e-9, abs_tol=1e-9)
        return got == expected
    if isinstance(expected, list) and isinstance(got, list):
        return len(got) == len(expected) and all(same_value(g, e) for g, e in zip(got, expected, strict=True))
    if isinstance(expected, dict) and isinstance(got, dict):
        return got.keys() == expected.keys() and all(same_value(got[k], expected[k]) for k in expected)
    return type(got) is type(expected) and got == expected


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
        text = output_text(body.response)
        code = extract_code(text, body.entry_point)
        total = len(body.tests)
        if code is None or len(code) > MAX_CODE_CHARS:
            reason = "no_code" if code is None else "code_too_long"
            return BaseVerifyResponse(
                **body.model_dump(), reward=0.0, tests_passed=0, tests_total=total, sandbox={"status": reason}
            )
        async with self._semaphore():
            run = await run_sandboxed(code, body.entry_point, [t.args for t in body.tests], self.limits())
        passed = sum(
            1 for i, test in enumerate(body.tests) if i in run.values and same_value(run.values[i], test.expected)
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
