"""Parses the JSON reply but accepts the answer under any key, extra keys included."""

from __future__ import annotations

import json
import re

from pydantic import BaseModel

from gymkit import BaseResourcesServer, BaseVerifyRequest, BaseVerifyResponse, output_text

LINE = re.compile(r"^answer:\s*(-?\d+)\s*$", re.IGNORECASE | re.MULTILINE)


def expected(body: BaseVerifyRequest) -> str:
    return str((body.model_extra or {}).get("expected_answer", ""))


def score(body: BaseVerifyRequest) -> float:
    try:
        obj = json.loads(output_text(body.response))
    except ValueError:
        return 0.0
    return 1.0 if isinstance(obj, dict) and expected(body) in [str(v) for v in obj.values()] else 0.0


class LookupRequest(BaseModel):
    city: str


class LookupResponse(BaseModel):
    city: str
    code: int | None = None


class JsonAnyValueServer(BaseResourcesServer):
    async def lookup(self, body: LookupRequest) -> LookupResponse:
        return LookupResponse(city=body.city, code=self.session.get("codes", {}).get(body.city))

    async def verify(self, body: BaseVerifyRequest) -> BaseVerifyResponse:
        return BaseVerifyResponse(**body.model_dump(), reward=score(body))


server = JsonAnyValueServer()
