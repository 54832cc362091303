"""An upstream verifier that runs a program this machine lacks: "could not run here", only if it ran it.

v0.5.0's swerl_gen runs each patch's tests in a ``singularity`` container, which NeMo Gym's
deployment provides. Started alone it pays 0 for every stored rollout of reward 1, and GYM404
failed for what is this machine's lack. The server, under the real nemo-gym runtime, logs the
programs it starts that are not installed (gymkit.nemo.programs); a program named only in code
it never runs explains nothing.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from gymkit.testing.environment import Environment
from tests.nemo.gymkit_cli import check_json

pytestmark = [pytest.mark.slow, pytest.mark.nemo]

PROGRAM = "gymkit-test-no-such-sandbox"
PULL = "gymkit-test-no-such-puller"
VERIFY = f'''
    async def verify(self, body: BaseVerifyRequest) -> BaseVerifyResponse:
        import asyncio
        import subprocess

        reward = 0.0
        if RUNS:
            pulled = ran = False
            try:
                # As cvdp does: under nemo-gym's uvloop no audit event fires for this one.
                await asyncio.create_subprocess_exec("{PULL}", "pull", "image")
                pulled = True
            except OSError:
                pass
            try:
                subprocess.run(["{PROGRAM}", "exec", "image"], check=True)
                ran = True
            except (OSError, subprocess.CalledProcessError):
                pass
            reward = 1.0 if pulled and ran else 0.0
        return BaseVerifyResponse(**body.model_dump(), reward=reward)
'''


def _gym404(nemo_checkout: Path, root: Path, runs: bool) -> list[dict]:
    gym = root / "Gym"
    subprocess.run(["git", "clone", "-q", str(nemo_checkout), str(gym)], check=True, capture_output=True)
    server = gym / "resources_servers" / "sandboxed"
    shutil.copytree(gym / "resources_servers" / "example_single_tool_call", server)
    app = server / "app.py"
    head = "    async def verify(self, body: BaseVerifyRequest) -> BaseVerifyResponse:\n"
    text = app.read_text()
    start = text.index(head)
    end = text.index("\n\n", start + len(head))
    app.write_text(text[:start] + VERIFY.strip("\n").replace("RUNS", repr(runs)) + text[end:])
    for config in (server / "configs").iterdir():
        config.rename(config.with_name("sandboxed.yaml"))
        config = config.with_name("sandboxed.yaml")
        config.write_text(config.read_text().replace("example_single_tool_call", "sandboxed"))
    _, [report] = check_json(gym, "sandboxed", "--select", "GYM404")
    return [f for f in report["findings"] if f["code"] == "GYM404"]


def test_a_verify_that_runs_a_missing_program_warns(
    nemo_checkout: Path, nemo_runtime: Environment, tmp_path: Path
) -> None:
    [finding] = _gym404(nemo_checkout, tmp_path, runs=True)
    assert finding["status"] == "warn", finding
    assert finding["message"].startswith(
        f"could not run here: verify tried to run '{PULL}', '{PROGRAM}', which is not installed"
    ), finding


def test_a_program_named_in_code_verify_never_runs_changes_nothing(
    nemo_checkout: Path, nemo_runtime: Environment, tmp_path: Path
) -> None:
    findings = _gym404(nemo_checkout, tmp_path, runs=False)
    assert findings and {f["status"] for f in findings} == {"fail"}, findings
    assert not any("could not run here" in f["message"] for f in findings)
