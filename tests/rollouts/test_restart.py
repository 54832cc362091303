"""A resource server that dies mid-run is restarted once; a second death ends the run, resumably.

The server here is the real child process collection starts (``gymkit serve``); its ``crash``
tool exits the process while the counter file named by TOOLBOX_CRASHES is above 0.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gymkit.rollouts import EndpointConfig, collect_rollouts
from gymkit.rollouts.supervisor import ServerDiedError

from .conftest import TOOLS, read_jsonl, task, write_tasks
from .scripted import MODEL, scripted_model

CRASH = {"type": "function", "name": "crash", "description": "Kills the server.", "parameters": {"type": "object"}}


@pytest.fixture(autouse=True)
def _unconfined(monkeypatch: pytest.MonkeyPatch) -> None:
    # The server counts its crashes in a file of this test's, outside the temp folder a
    # confined server may write (gymkit.confine); restarts, not confinement, are tested here.
    monkeypatch.setattr("gymkit.confine.enabled", lambda: False)


def _tasks(path: Path) -> Path:
    rows: list[dict[str, Any]] = [task(f"answer {i}", expected=str(i)) for i in range(8)]
    crash = task("call crash", expected="result")
    crash["responses_create_params"]["tools"] = [*TOOLS, CRASH]
    rows.insert(3, crash)
    return write_tasks(path, rows)


def _collect(toolbox: Path, tasks: Path, out: Path, url: str, **kwargs: Any) -> Any:
    endpoint = EndpointConfig((url,), model=MODEL, retry_backoff=0.01)
    return collect_rollouts(toolbox, tasks, out, endpoint=endpoint, concurrency=4, progress=False, **kwargs)


@pytest.mark.slow
def test_a_server_that_dies_once_is_restarted_and_the_run_completes(
    toolbox: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The attack: a server died mid-run and 251 of 300 rollouts were written off in a second.
    counter = tmp_path / "crashes"
    counter.write_text("1")
    monkeypatch.setenv("TOOLBOX_CRASHES", str(counter))
    tasks, out = _tasks(tmp_path / "tasks.jsonl"), tmp_path / "rollouts.jsonl"
    with scripted_model(delay=0.05) as (_, url):
        summary = _collect(toolbox, tasks, out, url, repeats=2)
    assert counter.read_text() == "0"  # it did die
    assert summary.complete and summary.failed == 0 and summary.rows == 18
    assert all(row["reward"] == 1.0 for row in read_jsonl(out))
    assert read_jsonl(summary.failures_path) == []


@pytest.mark.slow
def test_a_second_death_ends_the_run_with_one_error_and_a_resumable_file(
    toolbox: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    counter = tmp_path / "crashes"
    counter.write_text("2")
    monkeypatch.setenv("TOOLBOX_CRASHES", str(counter))
    tasks, out = _tasks(tmp_path / "tasks.jsonl"), tmp_path / "rollouts.jsonl"
    with scripted_model(delay=0.05) as (_, url):
        with pytest.raises(ServerDiedError) as info:
            _collect(toolbox, tasks, out, url)
        message = str(info.value)
        assert message.startswith("the resource server toolbox died again after 1 restart(s); ")
        assert f"rows are in {out}" in message and "\n" not in message
        written = len(read_jsonl(out))
        summary = _collect(toolbox, tasks, out, url, resume=True)
    assert summary.complete and summary.skipped == written and summary.rows == 9
