"""Needs the tool call, then checks that the reply mentions the "city" field: presence, not values."""

from __future__ import annotations

import re

from pydantic import BaseModel

from gymkit import BaseResourcesServer, BaseVerifyRequest, BaseVerifyResponse, function_calls, output_text

LINE = re.compile(r"^answer:\s*(-?\d+)\s*$", re.IGNORECASE | re.MULTILINE)


def expected(body: BaseVerifyRequest) -> str:
    return str((body.model_extra or {}).get("expected_answer", ""))


def score(body: BaseVerifyRequest) -> float:
    called = any(c.name == "lookup" for c in function_calls(body.response))
    return 1.0 if called and '"city"' in output_text(body.response) else 0.0


class LookupRequest(BaseModel):
    city: str


class LookupResponse(BaseModel):
    city: str
    code: int | None = None


class KeysQuotedServer(BaseResourcesServer):
    async def lookup(self, body: LookupRequest) -> LookupResponse:
        return LookupResponse(city=body.city, code=self.session.get("codes", {}).get(body.city))

    async def verify(self, body: BaseVerifyRequest) -> BaseVerifyResponse:
        return BaseVerifyResponse(**body.model_dump(), reward=score(body))


server = KeysQuotedServer()
