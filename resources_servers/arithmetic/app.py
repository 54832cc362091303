"""arithmetic: multi-step arithmetic word problems, scored on the final number.

No tools: the skill being trained is carrying a calculation through several steps in
text, which a calculator tool would hand to the server. ``verify`` finds the final
answer (the last ``Answer:`` line, else the last ``\\boxed{}``, else the last number in
the reply) and compares it with the row's ``expected_answer`` within a small tolerance.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

from gymkit import BaseResourcesServer, BaseVerifyRequest, BaseVerifyResponse, output_text

__all__ = [
    "ArithmeticResourcesServer",
    "ArithmeticVerifyRequest",
    "ArithmeticVerifyResponse",
    "extract_answer",
    "parse_number",
    "same_number",
    "server",
]

# A number as people write it: optional sign and currency, thousands commas, decimals,
# or a simple fraction such as 3/4.
_NUMBER = r"[-−]?\$?\s?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:\s?/\s?\d+)?"
_ANSWER_LINE = re.compile(rf"answer\s*(?:is)?\s*[:=]?\s*\**\s*({_NUMBER})", re.IGNORECASE)
_BOXED = re.compile(rf"\\boxed\{{\s*({_NUMBER})\s*\}}")
_ANY_NUMBER = re.compile(rf"(?<![\w.]){_NUMBER}")
# Money answers are asked to the cent; half a cent either way is still the right amount.
ABS_TOL = 0.005
REL_TOL = 1e-6


class ArithmeticVerifyRequest(BaseVerifyRequest):
    expected_answer: str


class ArithmeticVerifyResponse(BaseVerifyResponse):
    extracted_answer: str | None = None
    extraction: str | None = None


def parse_number(text: str) -> float | None:
    """``text`` as a number (``$1,250.50``, ``-3``, ``3/4``), or None."""
    cleaned = text.strip().replace("−", "-").replace("$", "").replace(",", "").replace(" ", "").rstrip(".")
    try:
        value = float(Fraction(cleaned)) if "/" in cleaned else float(cleaned)
    except (ValueError, ZeroDivisionError):
        return None
    return value if math.isfinite(value) else None


def extract_answer(text: str) -> tuple[str | None, str | None]:
    """(the final answer, how it was found): ``answer_line``, ``boxed``, ``last_number``."""
    for name, pattern in (("answer_line", _ANSWER_LINE), ("boxed", _BOXED)):
        found = pattern.findall(text)
        if found:
            return found[-1].strip(), name
    numbers = _ANY_NUMBER.findall(text)
    return (numbers[-1].strip(), "last_number") if numbers else (None, None)


def same_number(answer: str, expected: str) -> bool:
    got, want = parse_number(answer), parse_number(expected)
    if got is None or want is None:
        return False
    return math.isclose(got, want, rel_tol=REL_TOL, abs_tol=ABS_TOL)


class ArithmeticResourcesServer(BaseResourcesServer):
    async def verify(self, body: ArithmeticVerifyRequest) -> ArithmeticVerifyResponse:
        """1.0 when the final answer equals ``expected_answer`` as a number, else 0.0."""
        answer, how = extract_answer(output_text(body.response))
        reward = 1.0 if answer is not None and same_number(answer, body.expected_answer) else 0.0
        return ArithmeticVerifyResponse(**body.model_dump(), reward=reward, extracted_answer=answer, extraction=how)


server = ArithmeticResourcesServer()

if __name__ == "__main__":
    server.run()  # python app.py: how ng_run starts a server
