"""The embedded llama.cpp server and a history holding a call with invalid arguments.

llama.cpp parses every past call's arguments and answers HTTP 500 when one is not JSON, so a
rollout whose model once wrote a broken call could never get another answer. The chat
conversion sends such calls repaired (or as ``{}``); this checks both sides on the real server.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator

import httpx
import pytest

from gymkit.rollouts.convert import responses_to_chat
from gymkit.rollouts.embedded import EmbeddedModel

pytestmark = pytest.mark.slow

PARAMS = {
    "input": [
        {"role": "user", "content": "What is the weather in Paris?"},
        {"type": "function_call", "call_id": "c1", "name": "get_weather", "arguments": '{"city": "Marrakech_Clim'},
        {"type": "function_call_output", "call_id": "c1", "output": '{"error": "Invalid tool call arguments"}'},
    ],
    "tools": [
        {
            "type": "function",
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        }
    ],
    "max_output_tokens": 8,
    "temperature": 0.0,
}


@pytest.fixture(scope="module")
def model_url() -> Iterator[str]:
    with EmbeddedModel() as model:
        yield model.url


def test_the_converted_history_gets_an_answer(model_url: str) -> None:
    reply = httpx.post(f"{model_url}/chat/completions", json=responses_to_chat(PARAMS, None), timeout=120)
    assert reply.status_code == 200, reply.text
    assert reply.json()["choices"][0]["message"]


def test_the_raw_history_is_what_llama_cpp_refuses(model_url: str) -> None:
    # The failure the conversion avoids, so the test above is known to be testing something.
    body = responses_to_chat(PARAMS, None)
    raw = copy.deepcopy(body)
    raw["messages"][1]["tool_calls"][0]["function"]["arguments"] = '{"city": "Marrakech_Clim'
    reply = httpx.post(f"{model_url}/chat/completions", json=raw, timeout=120)
    assert reply.status_code == 500 and "parse tool call arguments" in reply.text
