"""A sound verifier whose request declares the field it grades against, so a body without it gets a 422."""

from __future__ import annotations

import re

from fastapi import HTTPException

from gymkit import BaseResourcesServer, BaseVerifyRequest, BaseVerifyResponse, output_text

LINE = re.compile(r"^answer:\s*(-?\d+)\s*$", re.IGNORECASE | re.MULTILINE)


class CodeRequest(BaseVerifyRequest):
    expected_answer: str


class TypedRequestServer(BaseResourcesServer):
    async def verify(self, body: CodeRequest) -> BaseVerifyResponse:
        if body.expected_answer == "refuse":
            raise HTTPException(422, "this verifier refuses the task")
        found = LINE.findall(output_text(body.response))
        reward = 1.0 if found and found[-1] == body.expected_answer else 0.0
        return BaseVerifyResponse(**body.model_dump(), reward=reward)


server = TypedRequestServer()
