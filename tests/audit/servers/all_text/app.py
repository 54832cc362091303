"""Looks for the answer line in the text of every output item, reasoning included."""

from __future__ import annotations

import json
import re

from pydantic import BaseModel

from gymkit import BaseResourcesServer, BaseVerifyRequest, BaseVerifyResponse

LINE = re.compile(r"^answer:\s*(-?\d+)\s*$", re.IGNORECASE | re.MULTILINE)


def expected(body: BaseVerifyRequest) -> str:
    return str((body.model_extra or {}).get("expected_answer", ""))


def score(body: BaseVerifyRequest) -> float:
    text = json.dumps([item.model_dump() for item in body.response.output])
    return 1.0 if f"Answer: {expected(body)}" in text else 0.0


class LookupRequest(BaseModel):
    city: str


class LookupResponse(BaseModel):
    city: str
    code: int | None = None


class AllTextServer(BaseResourcesServer):
    async def lookup(self, body: LookupRequest) -> LookupResponse:
        return LookupResponse(city=body.city, code=self.session.get("codes", {}).get(body.city))

    async def verify(self, body: BaseVerifyRequest) -> BaseVerifyResponse:
        return BaseVerifyResponse(**body.model_dump(), reward=score(body))


server = AllTextServer()
