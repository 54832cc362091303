"""A server with session state and tools: one that adds, one that reads the rollout's secret,
one that always fails, one that is slow, one that kills the server (for restart tests)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from pydantic import BaseModel

from gymkit import BaseResourcesServer, BaseSeedSessionRequest, BaseVerifyRequest, BaseVerifyResponse, output_text


class SeedRequest(BaseSeedSessionRequest):
    secret: str = ""


class AddRequest(BaseModel):
    a: float
    b: float


class AddResponse(BaseModel):
    result: float


class PeekRequest(BaseModel):
    pass


class PeekResponse(BaseModel):
    secret: str
    calls: int


class ExplodeRequest(BaseModel):
    message: str = "boom"


class NapRequest(BaseModel):
    seconds: float = 5.0


class ToolboxVerifyRequest(BaseVerifyRequest):
    expected_answer: str
    verify_delay: float = 0.0


class ToolboxServer(BaseResourcesServer):
    async def seed_session(self, body: SeedRequest) -> BaseModel:
        self.session["secret"] = body.secret
        self.session["calls"] = 0
        return await super().seed_session(body)

    async def add(self, body: AddRequest) -> AddResponse:
        """Add two numbers."""
        return AddResponse(result=body.a + body.b)

    async def peek(self, body: PeekRequest) -> PeekResponse:
        """The rollout's secret and how often peek was called in this rollout."""
        self.session["calls"] = self.session.get("calls", 0) + 1
        return PeekResponse(secret=self.session.get("secret", ""), calls=self.session["calls"])

    async def explode(self, body: ExplodeRequest) -> AddResponse:
        raise RuntimeError(body.message)

    async def nap(self, body: NapRequest) -> AddResponse:
        """Sleep, then answer 0."""
        await asyncio.sleep(body.seconds)
        return AddResponse(result=0)

    async def crash(self, body: PeekRequest) -> AddResponse:
        """Kill the server while the file named by TOOLBOX_CRASHES holds a number above 0 (counted down)."""
        path = Path(os.environ.get("TOOLBOX_CRASHES", "/nonexistent"))
        left = int(path.read_text()) if path.is_file() else 0
        if left > 0:
            path.write_text(str(left - 1))
            os._exit(3)
        return AddResponse(result=1)

    async def verify(self, body: ToolboxVerifyRequest) -> BaseVerifyResponse:
        await asyncio.sleep(body.verify_delay)
        text = output_text(body.response)
        reward = 1.0 if body.expected_answer and body.expected_answer in text else 0.0
        return BaseVerifyResponse(
            **body.model_dump(), reward=reward, secret_seen=self.session.get("secret"), calls=self.session.get("calls")
        )


server = ToolboxServer()
