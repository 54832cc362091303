"""arithmetic: Multi-step arithmetic word problems; the final number is compared with the
expected answer.

Make it yours: put your task's fields on TaskVerifyRequest, replace the example and the scoring
in verify(), and keep tests/test_app.py in step with them.
"""

from __future__ import annotations

import math
import re

from gymkit import BaseResourcesServer, BaseVerifyRequest, BaseVerifyResponse, output_text

# The prompt asks for a last line "Answer: <number>"; the last such line is the answer,
# so a model that corrects itself is scored on its correction.
ANSWER_LINE = re.compile(r"answer\s*:\s*(\S+)", re.IGNORECASE)


class TaskVerifyRequest(BaseVerifyRequest):
    # Every field of a data row besides responses_create_params arrives here.
    expected_answer: str


class TaskVerifyResponse(BaseVerifyResponse):
    # Extra fields end up in the rollouts file next to the reward; handy when profiling.
    extracted_answer: str | None = None


def extract_answer(text: str) -> str | None:
    """The value after the last "Answer:" in ``text``, or None when there is none."""
    found = ANSWER_LINE.findall(text)
    return found[-1].strip().rstrip(".").replace(",", "") if found else None


def same_number(answer: str, expected: str) -> bool:
    try:
        got, want = float(answer), float(expected)
    except ValueError:
        return False
    return math.isfinite(got) and math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-9)


class ArithmeticResourcesServer(BaseResourcesServer):
    """Per-rollout state, if your task needs any, goes in ``self.session`` (a dict):
    fill it in seed_session(), change it in tools, read it in verify().
    """

    async def verify(self, body: TaskVerifyRequest) -> TaskVerifyResponse:
        """1.0 when the final answer equals the row's expected_answer as a number, else 0.0."""
        answer = extract_answer(output_text(body.response))
        reward = 1.0 if answer is not None and same_number(answer, body.expected_answer) else 0.0
        return TaskVerifyResponse(**body.model_dump(), reward=reward, extracted_answer=answer)


server = ArithmeticResourcesServer()
