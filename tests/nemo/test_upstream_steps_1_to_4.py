"""Five upstream servers, unchanged, pass steps 1 to 4 of ``gymkit check`` in NeMo Gym's checkout.

The five need no GPU, external API or container. Passing includes the steps that start each
server under the real nemo-gym runtime: the verifier audit (GYM304), model-free re-verification
of the committed rollouts (GYM404) and the tool check (GYM406). Where gymkit is stricter than
upstream on purpose the finding warns and names whose rule it is; the assertions hold both halves.
One ``gymkit check`` runs all five, so the checkout and its environments are shared.

The embedded model's rollouts of an upstream server are read by upstream's ``ng_reward_profile``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gymkit.testing.environment import Environment
from tests.nemo.test_profile_cross_read import _rows, _upstream_profile

pytestmark = [pytest.mark.slow, pytest.mark.nemo]

GYMKIT = str(Path(sys.executable).parent / "gymkit")
SERVERS = [
    "example_single_tool_call",
    "example_multi_step",
    "example_session_state_mgmt",
    "mcqa",
    "example_tool_call_multireward",
]
# The checks that start the server: each must have run, not been skipped.
STARTED = ("GYM302", "GYM304", "GYM404", "GYM406")


def _gymkit(checkout: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # In the checkout, as a contributor runs it: servers are named, not given as paths.
    return subprocess.run([GYMKIT, *args], cwd=checkout, capture_output=True, text=True, timeout=1800, check=False)


def test_five_upstream_servers_pass_steps_1_to_4(nemo_checkout: Path, nemo_runtime: Environment) -> None:
    done = _gymkit(nemo_checkout, "check", *SERVERS, "--select", "GYM1,GYM2,GYM3,GYM4", "-j", "1", "-f", "json")
    report = json.loads(done.stdout)
    failed = [
        f"{s['name']} {f['code']}: {f['message'][:300]}"
        for s in report["servers"]
        for f in s["findings"]
        if f["status"] == "fail"
    ]
    assert failed == [], "\n".join(failed)
    assert done.returncode == 0, done.stderr[-3000:]
    by_server = {s["name"]: s["findings"] for s in report["servers"]}
    assert sorted(by_server) == sorted(SERVERS)
    for name, findings in by_server.items():
        statuses = {code: {f["status"] for f in findings if f["code"] == code} for code in STARTED}
        assert all(found and found <= {"pass", "warn"} for found in statuses.values()), (name, statuses)
    # gymkit's own rules warn, each saying so: the audit pays nothing on these verifiers ...
    audit = [f for f in by_server["example_single_tool_call"] if f["code"] == "GYM304"]
    assert audit and all(f["status"] == "warn" and "a rule of gymkit's own" in f["message"] for f in audit)
    # ... and the stateful server's gold rollouts reproduce once their tool calls are replayed.
    stateful = [f for f in by_server["example_session_state_mgmt"] if f["code"] == "GYM304"]
    assert not any("GYM3A16" in f["message"] for f in stateful)
    unserved = [f for f in by_server["example_tool_call_multireward"] if f["code"] == "GYM406"]
    assert unserved and all(f["status"] == "warn" and "gymkit's rule" in f["message"] for f in unserved)


def test_an_mcp_only_servers_rollouts_reproduce_with_their_calls_replayed_over_mcp(
    nemo_checkout: Path, nemo_runtime: Environment
) -> None:
    # example_mcp_weather serves get_weather over MCP only (@gym_tool), and its verify rewards the calls
    # recorded in the session: replayed as HTTP routes they 404, and every stored reward of 1 came back 0.
    done = _gymkit(nemo_checkout, "check", "example_mcp_weather", "--select", "GYM304,GYM404", "-f", "json")
    [server] = json.loads(done.stdout)["servers"]
    found = {(f["code"], f["status"]) for f in server["findings"]}
    assert ("GYM404", "pass") in found, server["findings"]
    assert not any("GYM3A16" in f["message"] or f["status"] == "fail" for f in server["findings"]), found


def test_ng_reward_profile_reads_the_embedded_models_rollouts_of_an_upstream_server(
    nemo_checkout: Path, nemo_runtime: Environment, tmp_path: Path
) -> None:
    rollouts = tmp_path / "rollouts.jsonl"
    done = _gymkit(nemo_checkout, "rollouts", "example_single_tool_call", "-q", "-o", str(rollouts))  # embedded model
    assert done.returncode == 0, done.stdout + done.stderr
    rows = _rows(rollouts)
    assert len(rows) == 5
    tasks, agent = _upstream_profile(nemo_runtime, rollouts)
    assert sorted(t["_ng_task_index"] for t in tasks) == sorted(r["_ng_task_index"] for r in rows)
    assert agent["mean/reward"] == pytest.approx(sum(r["reward"] for r in rows) / len(rows), abs=1e-9)
