"""The embedded model on every core: one llama.cpp process each, used by collection as one pool.

On the real model: each process answers on its own port, a forced tool call ends at its
first call instead of repeating it until the token limit, and a collection's calls reach
every process.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import httpx
import pytest

from gymkit.errors import UserError
from gymkit.rollouts import embedded
from gymkit.rollouts.clients import MIN_TOOL_TURN_TOKENS, ModelClient
from gymkit.rollouts.config import EndpointConfig
from gymkit.rollouts.embedded import EmbeddedModel, default_layout

ROOT = Path(__file__).resolve().parents[2]
WEATHER = ROOT / "resources_servers" / "weather"


def test_one_process_per_core_up_to_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PROCESSES", "THREADS", "SLOTS"):
        monkeypatch.delenv(f"GYMKIT_EMBEDDED_{name}", raising=False)
    monkeypatch.setattr(embedded, "_cores", lambda: 2)
    assert default_layout() == (2, 1, embedded.SLOTS_PER_PROCESS)
    monkeypatch.setattr(embedded, "_cores", lambda: 64)
    assert default_layout()[0] == embedded.MAX_PROCESSES
    monkeypatch.setenv("GYMKIT_EMBEDDED_PROCESSES", "3")
    monkeypatch.setenv("GYMKIT_EMBEDDED_SLOTS", "2")
    assert default_layout() == (3, 1, 2)
    assert EmbeddedModel().slots == 6


def test_a_bad_layout_variable_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GYMKIT_EMBEDDED_PROCESSES", "two")
    with pytest.raises(UserError, match="GYMKIT_EMBEDDED_PROCESSES must be a whole number"):
        default_layout()


@pytest.fixture(scope="module")
def model() -> Iterator[EmbeddedModel]:
    with EmbeddedModel(processes=2, slots=2) as started:
        yield started


def _task() -> dict[str, object]:
    row = json.loads((WEATHER / "data" / "example.jsonl").read_text().splitlines()[0])
    params: dict[str, object] = row["responses_create_params"]
    return params


@pytest.mark.slow
def test_each_process_answers_on_its_own_port(model: EmbeddedModel) -> None:
    assert len(model.urls) == 2 and len(set(model.urls)) == 2
    for url in model.urls:
        listed = httpx.get(f"{url}/models", timeout=30).json()
        assert [entry["id"] for entry in listed["data"]] == [embedded.MODEL_NAME]


async def _forced_turn(model: EmbeddedModel, params: dict[str, object]) -> dict[str, object]:
    endpoint = EndpointConfig(model.urls[:1], model=model.model, api="chat", timeout=120)
    async with aiohttp.ClientSession() as http:
        return await ModelClient(endpoint, http).create(params, sticky_key="r", force_tool_call=True)


@pytest.mark.slow
def test_a_forced_tool_call_ends_at_the_first_call(model: EmbeddedModel) -> None:
    # Without a stop at </tool_call> the model repeats the call until MIN_TOOL_TURN_TOKENS.
    for seed in range(3):
        response = asyncio.run(_forced_turn(model, {**_task(), "seed": seed, "temperature": 1.0}))
        calls = [item for item in response["output"] if item["type"] == "function_call"]
        assert [call["name"] for call in calls] == ["get_weather"]
        assert isinstance(json.loads(calls[0]["arguments"]), dict)
        assert response["usage"]["output_tokens"] < MIN_TOOL_TURN_TOKENS // 2, response["usage"]


@pytest.mark.slow
def test_a_collection_spreads_its_rollouts_over_the_processes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from gymkit.rollouts import collect_rollouts

    monkeypatch.setenv("GYMKIT_EMBEDDED_PROCESSES", "2")
    monkeypatch.setenv("GYMKIT_EMBEDDED_SLOTS", "2")
    out = tmp_path / "rollouts.jsonl"
    summary = collect_rollouts(WEATHER, WEATHER / "data" / "example.jsonl", out, repeats=2, limit=4, progress=False)
    assert summary.written == 8
    shares = summary.replica_shares
    assert len(shares) == 2 and min(shares.values()) > 0, shares
