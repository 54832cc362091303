"""Realistic rollout rows for the viewer's tests and benchmark: a weather-style tool task.

Every shape the viewer has to show is in here, in fixed proportions: passing and failing
answers, partial rewards, reasoning, tool errors, answers cut at the token limit, rollouts
that end at the turn limit without an answer, no usage figures, failed attempts in the side
file, and text that would run as script if the page ever put it into markup.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import orjson

HOSTILE = '<img src=x onerror="document.body.dataset.pwned=1"><script>document.body.dataset.pwned=1</script>'
CITIES = ["Lima", "Quito", "Oslo", "Accra", "Hobart", "Calgary", "Seville", "Vilnius", "Ushuaia", "Osaka"]
SYSTEM = "You are a helpful assistant. Use the get_weather tool, then answer in one or two sentences."
TOOLS = [
    {
        "type": "function",
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        "strict": True,
    }
]


def _message(text: str) -> dict[str, Any]:
    return {
        "type": "message",
        "id": "msg_1",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    }


def rollout(task: int, sample: int, rng: random.Random, *, hostile: bool = False) -> dict[str, Any]:
    city = CITIES[task % len(CITIES)]
    temp = (task * 7) % 35 - 5
    weather = {"city": city, "condition": "sunny", "temperature_c": temp, "error": None}
    skill = (task % 5) / 4  # tasks 0, 5, 10… always fail; 4, 9… nearly always pass: mixed groups between
    roll = rng.random()
    output: list[dict[str, Any]] = []
    if roll < 0.3:
        output.append(
            {
                "type": "reasoning",
                "id": "rs_1",
                "summary": [
                    {
                        "type": "summary_text",
                        "text": f"The user asks about {city}. I should call get_weather first. " * 3,
                    }
                ],
            }
        )
    output.append(
        {
            "type": "function_call",
            "id": "fc_1",
            "call_id": f"c{task}_{sample}",
            "name": "get_weather",
            "arguments": orjson.dumps({"city": city}).decode(),
            "status": "completed",
        }
    )
    tool_error = roll > 0.9
    result = {"city": city, "error": "upstream timeout"} if tool_error else weather
    output.append(
        {"type": "function_call_output", "call_id": f"c{task}_{sample}", "output": orjson.dumps(result).decode()}
    )
    status, details, tokens = "completed", None, rng.randint(40, 300)
    reward, correct = 0.0, False
    if 0.85 < roll <= 0.9:  # the turn limit: tools last, no answer
        pass
    elif 0.8 < roll <= 0.85:  # cut at max_output_tokens mid-answer
        status, details, tokens = "incomplete", {"reason": "max_output_tokens"}, 512
        output.append(_message(f"The weather in {city} is " + "very " * 600))
    else:
        correct = not tool_error and rng.random() < skill
        said = temp if correct else temp + rng.choice([-3, 2, 9])
        text = f"It is sunny in {city} and {said} °C right now."
        if hostile and sample == 0:
            text = f"{HOSTILE} It is sunny in {city}."
        elif hostile and sample == 1 and correct:
            text += " This answer is definitely correct."  # what the audit's "claims" flag looks for
        output.append(_message(text))
        reward = 1.0 if correct else (0.5 if rng.random() < 0.1 else 0.0)
    usage = (
        None
        if roll < 0.02
        else {"input_tokens": rng.randint(500, 700), "output_tokens": tokens, "total_tokens": 700 + tokens}
    )
    prompt = f"How warm is it in {city} right now, in degrees Celsius? (case {task})"
    return {
        "responses_create_params": {
            "input": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": prompt}],
            "tools": TOOLS,
        },
        "response": {
            "id": f"resp_{task}_{sample}",
            "object": "response",
            "model": "synthetic-1",
            "output": output,
            "status": status,
            "incomplete_details": details,
            "usage": usage,
        },
        "reward": reward,
        "tool_called": True,
        "facts_correct": {"temperature_c": correct},
        "city": city,
        "expected_temperature_c": temp,
        "_ng_task_index": task,
        "_ng_rollout_index": sample,
        "agent_ref": {"type": "responses_api_agents", "name": "simple_agent"},
        "_gymkit": {"model": "synthetic-1", "tool_errors": int(tool_error), "tool_calls": 1},
    }


def write_rollouts(
    path: Path, tasks: int, samples: int, *, seed: int = 0, hostile: bool = False, failures: int = 0
) -> int:
    """Write ``tasks`` x ``samples`` rows (less the ``failures`` moved to the side file); returns bytes written."""
    rng = random.Random(seed)
    failed = set(rng.sample(range(tasks * samples), failures)) if failures else set()
    side = path.with_name(f"{path.stem}_failures.jsonl")
    with path.open("wb") as out, side.open("wb") as fail:
        for task in range(tasks):
            for sample in range(samples):
                if task * samples + sample in failed:
                    fail.write(
                        orjson.dumps(
                            {
                                "_ng_task_index": task,
                                "_ng_rollout_index": sample,
                                "_ng_failure_class": "model_error",
                                "_ng_failure_message": "ModelCallError: HTTP 503",
                            }
                        )
                        + b"\n"
                    )
                    continue
                out.write(orjson.dumps(rollout(task, sample, rng, hostile=hostile)) + b"\n")
    return path.stat().st_size
