"""A server with session state and three tools: one that adds, one that reads the rollout's
secret, one that always fails."""

from __future__ import annotations

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


class ToolboxVerifyRequest(BaseVerifyRequest):
    expected_answer: str


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

    async def verify(self, body: ToolboxVerifyRequest) -> BaseVerifyResponse:
        text = output_text(body.response)
        reward = 1.0 if body.expected_answer and body.expected_answer in text else 0.0
        return BaseVerifyResponse(
            **body.model_dump(), reward=reward, secret_seen=self.session.get("secret"), calls=self.session.get("calls")
        )


server = ToolboxServer()
