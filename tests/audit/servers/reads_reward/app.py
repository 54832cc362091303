"""Reads a "correct" flag from the first JSON object in the reply."""

from __future__ import annotations

import json
import re

from pydantic import BaseModel

from gymkit import BaseResourcesServer, BaseVerifyRequest, BaseVerifyResponse, output_text

LINE = re.compile(r"^answer:\s*(-?\d+)\s*$", re.IGNORECASE | re.MULTILINE)


def expected(body: BaseVerifyRequest) -> str:
    return str((body.model_extra or {}).get("expected_answer", ""))


def score(body: BaseVerifyRequest) -> float:
    text = output_text(body.response)
    start, end = text.find("{"), text.rfind("}")
    try:
        obj = json.loads(text[start : end + 1]) if 0 <= start < end else {}
    except ValueError:
        obj = {}
    return 1.0 if isinstance(obj, dict) and obj.get("correct") is True else 0.0


class LookupRequest(BaseModel):
    city: str


class LookupResponse(BaseModel):
    city: str
    code: int | None = None


class ReadsRewardServer(BaseResourcesServer):
    async def lookup(self, body: LookupRequest) -> LookupResponse:
        return LookupResponse(city=body.city, code=self.session.get("codes", {}).get(body.city))

    async def verify(self, body: BaseVerifyRequest) -> BaseVerifyResponse:
        return BaseVerifyResponse(**body.model_dump(), reward=score(body))


server = ReadsRewardServer()
