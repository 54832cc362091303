"""The smoke's chat template (the embedded one, changed in three places) and turns closed at a stop string."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gymkit.train.templates import TOOL_CALL_END, smoke_chat_template
from gymkit.train.trainer import close_stopped_turn

pytestmark = pytest.mark.train

WEATHER = Path(__file__).resolve().parents[2] / "resources_servers" / "weather"


def _render(messages: list[dict], tools: list[dict] | None, prompt: bool = True) -> str:
    utils = pytest.importorskip("transformers.utils.chat_template_utils")
    rendered = utils.render_jinja_template(
        [messages], tools=tools, chat_template=smoke_chat_template(), add_generation_prompt=prompt
    )
    return rendered[0][0] if isinstance(rendered, tuple) else rendered[0]


def _task() -> tuple[list[dict], list[dict]]:
    row = json.loads((WEATHER / "data" / "train.jsonl").read_text().splitlines()[0])
    params = row["responses_create_params"]
    tool = params["tools"][0]
    schema = {"name": tool["name"], "description": tool["description"], "parameters": tool["parameters"]}
    return params["input"], [{"type": "function", "function": schema}]


def _turns(city: str) -> list[dict]:
    call = {"type": "function", "function": {"name": "get_weather", "arguments": {"city": city}}}
    return [
        {"role": "assistant", "content": "", "tool_calls": [call]},
        {"role": "tool", "name": "get_weather", "content": '{"temperature_c": 21}'},
        {"role": "assistant", "content": "It is 21 °C."},
    ]


def test_tools_are_shown_as_example_calls_and_the_first_call_is_opened() -> None:
    messages, tools = _task()
    text = _render(messages, tools)
    assert '{"name": "get_weather", "arguments": {"city": "..."}}' in text
    assert "<tools>" not in text  # the embedded template's JSON schema listing is what the smoke replaces
    assert text.endswith('<|im_start|>assistant\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "')
    assert text.startswith("<|im_start|>system\n" + messages[0]["content"])


def test_earlier_turns_render_the_same_when_a_turn_is_appended() -> None:
    messages, tools = _task()
    conversation = messages + _turns("Lima")
    for cut in range(len(messages), len(conversation)):
        shorter = _render(conversation[:cut], tools, prompt=False)
        longer = _render(conversation[: cut + 1], tools, prompt=False)
        assert longer.startswith(shorter), cut
    full = _render(conversation, tools, prompt=False)
    assert full.count("<|im_end|>\n") == full.count("<|im_start|>")  # every turn closed, the last one too
    # After a tool result the model's turn is its own: nothing is opened for it.
    assert _render(conversation[:-1], tools).endswith("</tool_response><|im_end|>\n<|im_start|>assistant\n")


def test_a_template_without_the_parts_it_changes_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from gymkit.errors import GymkitError
    from gymkit.rollouts import embedded

    monkeypatch.setattr(embedded, "CHAT_TEMPLATE", "{% for m in messages %}{{ m.content }}{% endfor %}")
    smoke_chat_template.cache_clear()
    try:
        with pytest.raises(GymkitError, match=r"update gymkit/train/templates\.py"):
            smoke_chat_template()
    finally:
        smoke_chat_template.cache_clear()


def _decode(ids: list[int]) -> str:
    pieces = {1: "<tool_call>", 2: '{"city": "Lima"}', 3: "</", 4: "tool_call", 5: ">", 6: ">\n", 7: "Hi", 0: ""}
    return "".join(pieces[i] for i in ids)


@pytest.mark.parametrize(
    ("ids", "closed"),
    [
        ([1, 2, 3, 4, 5], [1, 2, 3, 4, 5, 9]),  # stopped at the end of the call: closed
        ([1, 2, 3, 4, 6, 0, 0], [1, 2, 3, 4, 6, 9]),  # the stop inside the last token, padding dropped
        ([1, 2, 3, 4, 5, 9], [1, 2, 3, 4, 5, 9]),  # the model closed it itself
        ([7, 7, 7], [7, 7, 7]),  # cut by the token limit: left as it is
        ([1, 2, 3], [1, 2, 3]),  # a call cut before its end is not closed
    ],
)
def test_a_turn_that_stopped_at_the_end_of_a_call_is_closed(ids: list[int], closed: list[int]) -> None:
    assert close_stopped_turn(ids, [TOOL_CALL_END], _decode, eos=9, pad=0) == closed
