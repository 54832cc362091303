"""NeMo Gym's own agent against a gymkit server: ng_run starts the three servers, ng_collect_rollouts collects.

The least ng_run needs for one agent is what the agent's config names: the resources server,
the agent, and a model server (an entry without an ``entrypoint`` is not a server to it, so the
agent's ``model_server`` cannot point straight at an endpoint). The model server is upstream's
openai_model in front of the test's scripted endpoint, which must answer with every field a full
Response has (openai_model validates each answer). gymkit's re-verification then sends every
rollout upstream wrote back to the server's /verify and must get the same rewards. When ng_run
stops the gymkit server (by killing the shell it runs in), the server ends too.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
from pathlib import Path

import pytest

from gymkit.project import ServerPaths
from gymkit.reverify import reverify_rollouts
from gymkit.testing.environment import Environment
from tests.nemo.model import planned_model
from tests.nemo.ngcli import NemoCli, failure, gone_within, parent_of, serving_process

pytestmark = [pytest.mark.slow, pytest.mark.nemo]

REPO = Path(__file__).resolve().parents[2]


def _gym_with_weather(root: Path) -> Path:
    """A gym folder holding this repository's weather server, installable by ng_run as NeMo Gym installs its own."""
    server = root / "resources_servers" / "weather"
    shutil.copytree(REPO / "resources_servers" / "weather", server, ignore=shutil.ignore_patterns("reports", ".*"))
    # ng_run installs a server's requirements.txt into its venv and nothing else; gymkit is one of them.
    (server / "requirements.txt").write_text(f"-e {REPO}\n", encoding="utf-8")
    # With a pyproject.toml two levels up ng_run installs the requirements as they are, as in a
    # checkout; without one it swaps the checkout's lines for nemo-gym from the package index.
    (root / "pyproject.toml").write_text('[project]\nname = "gym-under-test"\nversion = "0"\n', encoding="utf-8")
    return server


def test_ng_collect_rollouts_with_simple_agent_on_a_gymkit_server(
    nemo_checkout: Path, nemo_runtime: Environment, nemo_python: str, ng_venvs: Path, tmp_path: Path
) -> None:
    gym = tmp_path / "gym"
    server = _gym_with_weather(gym)
    cli = NemoCli(nemo_runtime, nemo_python, gym, logs=tmp_path / "logs", venvs=ng_venvs)
    openai_model = nemo_checkout / "responses_api_models" / "openai_model" / "configs" / "openai_model.yaml"
    configs = [server / "configs" / "weather.yaml", openai_model]
    output = tmp_path / "out" / "rollouts.jsonl"
    output.parent.mkdir()
    with planned_model(server, full_responses=True) as (_, url):
        model = [f"+policy_base_url={url}", "+policy_api_key=x", "+policy_model_name=scripted"]
        with cli.serving(configs, *model):
            done = cli.run(
                "ng_collect_rollouts",
                "+agent_name=weather_simple_agent",
                f"+input_jsonl_fpath={server / 'data' / 'example.jsonl'}",
                f"+output_jsonl_fpath={output}",
                "+limit=null",
            )
            # ng_run stops a server by killing the shell it started the server in (after a SIGINT
            # the shell does not pass on): the gymkit server must end with that shell, as NeMo
            # Gym's own servers end with ng_run's Ray cluster, and not serve on after ng_run.
            pid = serving_process(server)
            os.kill(parent_of(pid), signal.SIGKILL)
            assert gone_within(pid, 30), f"the gymkit server outlived its ng_run shell\n{cli.log_tails()}"
            assert cli.process is not None and cli.process.poll() is None  # it ended alone, not with ng_run
    assert done.returncode == 0, failure(done, cli)
    rows = [json.loads(line) for line in output.read_text().splitlines() if line.strip()]
    assert len(rows) == 5
    # The plans answer every third task wrongly (tests/nemo/model.py): tasks 0, 1, 3 and 4 right.
    rewards = sorted((r["_ng_task_index"], r["reward"]) for r in rows)
    assert rewards == [(0, 1.0), (1, 1.0), (2, 0.0), (3, 1.0), (4, 1.0)]
    assert all(r["tool_called"] for r in rows)

    report = reverify_rollouts(ServerPaths(server), output)
    assert report.error is None
    assert [(r.stored, r.reward, r.error) for r in report.rows] == [(r["reward"], r["reward"], None) for r in rows]
