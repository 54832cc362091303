from __future__ import annotations

from app import AdditionServer, AdditionVerifyRequest


def _request(answer: str) -> AdditionVerifyRequest:
    return AdditionVerifyRequest.model_validate(
        {
            "responses_create_params": {"input": "What is 2 + 3?"},
            "response": {"output": [{"type": "message", "content": [{"type": "output_text", "text": answer}]}]},
            "expected_answer": "5",
        }
    )


async def test_right_answer_scores_one() -> None:
    assert (await AdditionServer().verify(_request("It is 5"))).reward == 1.0


async def test_wrong_answer_scores_zero() -> None:
    assert (await AdditionServer().verify(_request("It is 6"))).reward == 0.0
