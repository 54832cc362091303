"""gymkit's agent loop against NeMo Gym's own servers, started by gymkit under the real nemo-gym runtime."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from gymkit.launch import start_server
from gymkit.nemo.detect import gym_kind, server_kind
from gymkit.nemo.detect import nemo_checkout as find_checkout
from gymkit.nemo.launch import UpstreamServer
from gymkit.testing.environment import Environment
from tests.nemo.model import planned_model

pytestmark = [pytest.mark.slow, pytest.mark.nemo]

_EACH = ("--api", "chat", "-k", "2", "-q", "-o")
_RESPONSES = ("--api", "responses", "-k", "1", "-q", "-o")
GYMKIT = str(Path(sys.executable).parent / "gymkit")
# What the plans in tests/nemo/model.py earn from each server's own verify: 5 tasks, 2 rollouts each.
EXPECTED_MEAN = {"example_single_tool_call": 1.0, "example_session_state_mgmt": 1.0, "mcqa": 0.6}


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_checkout_and_servers_are_recognised(nemo_checkout: Path) -> None:
    servers = nemo_checkout / "resources_servers"
    assert find_checkout(servers / "mcqa") == nemo_checkout
    assert gym_kind(nemo_checkout) == "nemo-gym"
    assert server_kind(servers / "mcqa") == "nemo_gym"
    assert server_kind(Path(__file__).parents[2] / "resources_servers" / "weather") == "gymkit"
    assert isinstance(start_server(servers / "mcqa"), UpstreamServer)


def test_upstream_server_answers_its_tool(nemo_checkout: Path, nemo_runtime: Environment) -> None:
    import urllib.request

    with UpstreamServer(nemo_checkout / "resources_servers" / "example_single_tool_call") as server:
        request = urllib.request.Request(
            f"{server.url}/get_weather", data=b'{"city": "sf"}', headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            assert json.loads(answer.read())["city"] == "sf"
        pid = server._proc.pid if server._proc else 0
    assert pid and not Path(f"/proc/{pid}").exists()


def test_upstream_server_says_when_its_process_ended(nemo_checkout: Path, nemo_runtime: Environment) -> None:
    with UpstreamServer(nemo_checkout / "resources_servers" / "example_single_tool_call") as server:
        assert not server.exited()
        assert server._proc is not None
        os.kill(server._proc.pid, signal.SIGKILL)  # the server crashes; its supervisor reports it gone
        assert server.exited(timeout=60)
    assert server.exited()  # stopped: nothing left to wait for


@pytest.mark.parametrize("name", sorted(EXPECTED_MEAN))
def test_gymkit_rollouts_against_upstream_server(
    name: str, nemo_checkout: Path, nemo_runtime: Environment, tmp_path: Path
) -> None:
    server = nemo_checkout / "resources_servers" / name
    output = tmp_path / f"{name}.jsonl"
    with planned_model(server) as (_, url):
        done = subprocess.run(
            [GYMKIT, "rollouts", str(server), "--base-url", url, "--api-key", "x", *_EACH, str(output)],
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
    assert done.returncode == 0, done.stdout + done.stderr
    rows = _rows(output)
    assert len(rows) == 10
    mean = sum(r["reward"] for r in rows) / len(rows)
    assert mean == pytest.approx(EXPECTED_MEAN[name])


def test_gymkit_rollouts_with_the_embedded_model(nemo_checkout: Path, nemo_runtime: Environment, tmp_path: Path):
    server = nemo_checkout / "resources_servers" / "example_single_tool_call"
    output = tmp_path / "embedded.jsonl"
    done = subprocess.run(
        [GYMKIT, "rollouts", str(server), "--limit", "2", "-q", "-o", str(output)],
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(_rows(output)) == 2  # that server's verify gives every answer 1.0; the point is the whole loop


def test_gymkit_rollouts_over_the_responses_api(nemo_checkout: Path, nemo_runtime: Environment, tmp_path: Path):
    # The scripted endpoint's Responses answers carry no tools/tool_choice/parallel_tool_calls, as a
    # minimal endpoint's may not; upstream's /verify requires them, so gymkit fills them from the request.
    server = nemo_checkout / "resources_servers" / "example_single_tool_call"
    output = tmp_path / "responses.jsonl"
    with planned_model(server) as (_, url):
        done = subprocess.run(
            [GYMKIT, "rollouts", str(server), "--base-url", url, "--api-key", "x", *_RESPONSES, str(output)],
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
    assert done.returncode == 0, done.stdout + done.stderr
    rows = _rows(output)
    assert len(rows) == 5 and all(r["reward"] == 1.0 for r in rows)
    task = _rows(server / "data" / "example.jsonl")[rows[0]["_ng_task_index"]]
    assert [t["name"] for t in rows[0]["response"]["tools"]] == [
        t["name"] for t in task["responses_create_params"]["tools"]
    ]
