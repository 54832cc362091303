"""Raises on a long reply instead of scoring it: an HTTP 500."""

from __future__ import annotations

import re

from pydantic import BaseModel

from gymkit import BaseResourcesServer, BaseVerifyRequest, BaseVerifyResponse, output_text

LINE = re.compile(r"^answer:\s*(-?\d+)\s*$", re.IGNORECASE | re.MULTILINE)


def expected(body: BaseVerifyRequest) -> str:
    return str((body.model_extra or {}).get("expected_answer", ""))


def score(body: BaseVerifyRequest) -> float:
    text = output_text(body.response)
    if len(text) > 10_000:
        raise ValueError("reply too long")
    found = LINE.findall(text)
    return 1.0 if found and found[-1] == expected(body) else 0.0


class LookupRequest(BaseModel):
    city: str


class LookupResponse(BaseModel):
    city: str
    code: int | None = None


class RaisesLongServer(BaseResourcesServer):
    async def lookup(self, body: LookupRequest) -> LookupResponse:
        return LookupResponse(city=body.city, code=self.session.get("codes", {}).get(body.city))

    async def verify(self, body: BaseVerifyRequest) -> BaseVerifyResponse:
        return BaseVerifyResponse(**body.model_dump(), reward=score(body))


server = RaisesLongServer()
