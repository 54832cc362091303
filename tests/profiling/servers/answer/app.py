"""A server whose reward is 1 when the answer text contains the task's expected answer."""

from gymkit import BaseResourcesServer, BaseVerifyRequest, BaseVerifyResponse, output_text


class AnswerServer(BaseResourcesServer):
    async def verify(self, body: BaseVerifyRequest) -> BaseVerifyResponse:
        expected = str((body.model_extra or {}).get("expected_answer", ""))
        reward = 1.0 if expected and expected in output_text(body.response) else 0.0
        return BaseVerifyResponse(**body.model_dump(), reward=reward)


server = AnswerServer()
