"""A scripted model that plays a plan per prompt: the tool calls a capable model would make, then an answer.

The plans are written from each server's task rows (what the user asks), never from the
server's code: the server under test still decides the tool outputs and the reward.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi.responses import JSONResponse

from gymkit.runtime.serving import serving_in_thread
from tests.rollouts.scripted import ScriptedModel

Step = tuple[str, Any]  # ("call", (name, arguments JSON)) or ("text", answer)


def _user(row: dict[str, Any]) -> str:
    items = row["responses_create_params"]["input"]
    if isinstance(items, str):
        return items
    content = next(i["content"] for i in items if i.get("role") == "user")
    return content if isinstance(content, str) else "".join(p.get("text", "") for p in content)


def _single_tool_call(row: dict[str, Any], index: int) -> list[Step]:
    return [("call", ("get_weather", json.dumps({"city": "sf"}))), ("text", "It is cold in SF.")]


def _session_state(row: dict[str, Any], index: int) -> list[Step]:
    adds = [int(n) for n in re.findall(r"add (\d+)", _user(row))]
    steps: list[Step] = [("call", ("increment_counter", json.dumps({"count": n}))) for n in adds]
    return [*steps, ("call", ("get_counter_value", "{}")), ("text", "Done.")]


def _mcqa(row: dict[str, Any], index: int) -> list[Step]:
    # Right on even tasks, wrong on odd ones: rewards that differ, for the profiles to compare.
    letters = [next(iter(option)) for option in row["options"]]
    right = row["expected_answer"]
    answer = right if index % 2 == 0 else next(letter for letter in letters if letter != right)
    return [("text", f"Thinking it over. \\boxed{{{answer}}}")]


def _plain(row: dict[str, Any], index: int) -> list[Step]:
    return [("text", "I cannot tell.")]


def _weather(row: dict[str, Any], index: int) -> list[Step]:
    truth = row["weather"][row["city"]]
    answer = f"It is {truth['condition']} in {row['city']} at {truth['temperature_c']} °C."
    if index % 3 == 2:
        answer = f"It is {truth['temperature_c'] + 7} °C there."  # a wrong answer now and then
    return [("call", ("get_weather", json.dumps({"city": row["city"]}))), ("text", answer)]


def _sum(row: dict[str, Any], index: int) -> list[Step]:
    # The NeMo Gym template's addition tasks (templates/nemo_resource_server); the last one answered wrongly.
    a, b = (int(n) for n in re.findall(r"-?\d+", _user(row))[:2])
    answer = a + b if index < 4 else a + b + 1
    return [("call", ("add", json.dumps({"a": a, "b": b}))), ("text", f"The sum is {answer}")]


PLANS = {
    "example_single_tool_call": _single_tool_call,
    "example_session_state_mgmt": _session_state,
    "mcqa": _mcqa,
    "example_multi_step": _plain,
    "weather": _weather,
    "sum_check": _sum,
}


class PlannedModel(ScriptedModel):
    def __init__(self, plans: dict[str, list[Step]]) -> None:
        self.plans = plans
        super().__init__()

    def decide(self, user: str, tool_outputs: list[str]) -> tuple[str, Any]:
        steps = self.plans.get(user)
        if steps is None:
            return "text", "unplanned"
        return steps[min(len(tool_outputs), len(steps) - 1)]


def plans_for(server_dir: Path) -> dict[str, list[Step]]:
    plan = PLANS[server_dir.name]
    rows = [json.loads(line) for line in (server_dir / "data" / "example.jsonl").read_text().splitlines() if line]
    return {_user(row): plan(row, index) for index, row in enumerate(rows)}


@contextmanager
def planned_model(*server_dirs: Path, full_responses: bool = False) -> Iterator[tuple[PlannedModel, str]]:
    """Serve the plans for these servers' example rows on loopback; yields (model, base URL ending in /v1).

    ``full_responses``: Responses answers echo the request's tool fields (echo_request_fields).
    """
    plans: dict[str, list[Step]] = {}
    for folder in server_dirs:
        plans.update(plans_for(folder))
    model = PlannedModel(plans)
    if full_responses:
        echo_request_fields(model)
    with serving_in_thread(model.app) as url:
        yield model, f"{url}/v1"


def echo_request_fields(model: ScriptedModel) -> None:
    """Have ``model``'s Responses answers carry every field a real endpoint's do.

    NeMo Gym's model server validates every answer as a full Response (tools, tool_choice,
    parallel_tool_calls, the usage details); the scripted endpoint leaves those out, like a
    minimal endpoint, which is what gymkit's own agent must cope with.
    """

    @model.app.middleware("http")
    async def complete(request: Any, call_next: Any) -> Any:
        if request.url.path != "/v1/responses":
            return await call_next(request)
        params = await request.json()
        answer = await call_next(request)
        body = json.loads(b"".join([chunk async for chunk in answer.body_iterator]))
        if answer.status_code == 200 and isinstance(body, dict):
            body.setdefault("tools", params.get("tools") or [])
            body.setdefault("tool_choice", params.get("tool_choice") or "auto")
            body.setdefault("parallel_tool_calls", params.get("parallel_tool_calls", True))
            usage = body.get("usage")
            if isinstance(usage, dict):
                usage.setdefault("input_tokens_details", {"cached_tokens": 0})
                usage.setdefault("output_tokens_details", {"reasoning_tokens": 0})
        return JSONResponse(body, status_code=answer.status_code)
