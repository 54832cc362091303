from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gymkit.project import ServerPaths, load_server
from gymkit.runtime.serving import serving_in_thread

from .scripted import ScriptedModel, scripted_model

TOOLBOX = Path(__file__).parent / "servers" / "toolbox"

TOOLS = [
    {
        "type": "function",
        "name": "add",
        "description": "Add two numbers.",
        "parameters": {"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}}},
        "strict": True,
    },
    {"type": "function", "name": "peek", "description": "The secret.", "parameters": {"type": "object"}},
    {"type": "function", "name": "explode", "description": "Fails.", "parameters": {"type": "object"}},
]


def task(prompt: str, expected: str = "", secret: str = "") -> dict[str, Any]:
    return {
        "responses_create_params": {"input": [{"role": "user", "content": prompt}], "tools": TOOLS},
        "expected_answer": expected,
        "secret": secret,
    }


def write_tasks(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture
def toolbox(tmp_path: Path) -> Path:
    """A copy of the toolbox server in a temporary resources_servers/ tree."""
    target = tmp_path / "resources_servers" / "toolbox"
    shutil.copytree(TOOLBOX, target)
    return target


@pytest.fixture
def toolbox_url(toolbox: Path) -> Iterator[str]:
    """The toolbox server under uvicorn in a thread (faster to start than a child process)."""
    with serving_in_thread(load_server(ServerPaths(toolbox)).app) as url:
        yield url


@pytest.fixture
def model() -> Iterator[tuple[ScriptedModel, str]]:
    with scripted_model() as served:
        yield served


@pytest.fixture(autouse=True)
def _no_endpoint_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("GYMKIT_BASE_URL", "GYMKIT_BASE_URLS", "GYMKIT_API_KEY", "GYMKIT_MODEL", "GYMKIT_API"):
        monkeypatch.delenv(var, raising=False)
    for var in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "OPENAI_MODEL"):
        monkeypatch.delenv(var, raising=False)
