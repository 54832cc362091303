"""In a NeMo Gym checkout, a failure that shows the server needs the network or a key is a warning.

Of v0.5.0's 100 servers, 13 failed re-verification only because the sandbox has no network (a
dataset from the Hugging Face Hub, a git dependency) or the machine has no API key: NeMo Gym has
no rule against either, so those were false failures. Any other message keeps the failure.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gymkit.checks.elsewhere import cause_elsewhere
from gymkit.checks.runner import run_checks
from gymkit.findings import Status
from tests.checks.conftest import build_server

RESOLVE = "the server did not start: OSError: We couldn't connect to 'https://huggingface.co' to load the files"
GIT = (
    "[nvarc] environment: installing nemo-gym and its requirements failed: fatal: unable to access"
    " 'https://github.com/meta-pytorch/OpenEnv.git/': Could not resolve host: github.com"
)
KEY = "the server did not start: omegaconf.errors.MissingMandatoryValue: Missing mandatory value: tavily_api_key"


# As v0.5.0's servers failed to start here (ether0, legal_agent_bench, speed_bench, google_search).
CLONE = (
    "the server did not start: ether0 (nemo_gym) did not start: subprocess.CalledProcessError: Command"
    " '['git', 'clone', '--depth=1', 'https://github.com/Future-House/ether0', '.ether0']' returned non-zero"
)
CODELOAD = "requests.exceptions.ConnectionError: HTTPSConnectionPool(host='codeload.github.com', port=443): Max retries"
ENV_YAML = "omegaconf.errors.InterpolationKeyError: Interpolation key 'policy_base_url' not found"
REQUIRED = (
    "pydantic_core._pydantic_core.ValidationError: 1 validation error for GoogleSearchResourcesServerConfig;"
    " google_cx; Field required [type=missing, input_value={...}, input_type=dict]"
)


@pytest.mark.parametrize(
    ("messages", "need"),
    [
        ([RESOLVE], "the network"),
        ([GIT, GIT], "the network"),
        ([CLONE], "the network"),
        ([CODELOAD], "the network"),
        ([KEY], "an API key"),
        ([ENV_YAML], "an API key or a setting"),
        ([REQUIRED], "an API key or a setting"),
    ],
)
def test_a_failure_for_want_of_network_or_key_is_named(messages: list[str], need: str) -> None:
    found = cause_elsewhere(messages)
    assert found is not None and found[0].startswith(need)


@pytest.mark.parametrize(
    "messages",
    [
        [],
        [RESOLVE, "stored reward 1.0, verify now returns 0.0"],
        ["verify answered HTTP 500: KeyError: 'expected_answer'"],
        ["verify request failed: [Errno 111] Connection refused"],  # the server itself, on loopback
        ["No module named 'bigcodebench'"],
        ["HTTPConnectionPool(host='127.0.0.1', port=8000): Max retries exceeded"],
        ["pydantic_core._pydantic_core.ValidationError: 1 validation error for VerifyRequest; answer; Field required"],
    ],
)
def test_any_other_message_keeps_the_failure(messages: list[str]) -> None:
    assert cause_elsewhere(messages) is None


VERIFY_ONLINE = """
    async def verify(self, body: AdditionVerifyRequest) -> BaseVerifyResponse:
        import socket

        socket.getaddrinfo("huggingface.co", 443)
"""


def _online_server(root: Path) -> Path:
    server = build_server(root)
    app = server / "app.py"
    text = app.read_text()
    head = "    async def verify(self, body: AdditionVerifyRequest) -> BaseVerifyResponse:\n"
    app.write_text(text.replace(head, VERIFY_ONLINE.lstrip("\n")))
    return server


def _as_nemo_checkout(root: Path) -> None:
    (root / "nemo_gym").mkdir()
    (root / "nemo_gym" / "__init__.py").write_text("")
    (root / "pyproject.toml").write_text('[project]\nname = "nemo-gym"\nversion = "0.5.0"\n')


@pytest.mark.slow
@pytest.mark.parametrize("nemo", [True, False], ids=["nemo-gym checkout", "gymkit gym"])
def test_a_verify_that_needs_the_network_warns_in_a_nemo_checkout_and_fails_in_gymkits(
    tmp_path: Path, nemo: bool
) -> None:
    server = _online_server(tmp_path)
    if nemo:
        _as_nemo_checkout(tmp_path)
    report = run_checks(server, select=["GYM404"])
    findings = [f for f in report.findings if f.code == "GYM404"]
    if nemo:
        [finding] = findings
        assert finding.status == Status.WARN, finding
        assert finding.message.startswith("could not run here: verify needs the network"), finding.message
    else:
        assert len(findings) == 5 and {f.status for f in findings} == {Status.FAIL}, findings
        assert not any("could not run here" in f.message for f in findings)


@pytest.mark.slow
@pytest.mark.parametrize("nemo", [True, False], ids=["nemo-gym checkout", "gymkit gym"])
def test_rollouts_with_no_stored_input_that_verify_refuses_warn_in_a_nemo_checkout(tmp_path: Path, nemo: bool) -> None:
    # v0.5.0's ruler, scicode, workplace_assistant: five rollouts from another dataset, without the field
    # verify requires, and no materialized inputs: upstream's reverify cannot pair them either.
    server = build_server(tmp_path)
    if nemo:
        _as_nemo_checkout(tmp_path)
    path = server / "data" / "example_rollouts.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    for row in rows[:2]:
        del row["expected_answer"]
        row["responses_create_params"] = {"input": "a task from another dataset"}
    rows[4]["reward"] = 1.0 - rows[4]["reward"]  # a reward that differs stays a failure either way
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    findings = [f for f in run_checks(server, select=["GYM404"]).findings if f.code == "GYM404"]
    fails = [f for f in findings if f.status == Status.FAIL]
    assert any("stored reward" in f.message for f in fails)
    refused = [f for f in findings if "HTTP 422" in f.message]
    if nemo:
        [warning] = refused
        assert warning.status == Status.WARN and warning.message.startswith("cannot be re-verified"), warning
        assert "(1 more like it)" in warning.message
    else:
        assert len(refused) == 2 and all(f.status == Status.FAIL for f in refused)


UV_CHAIN = """\
Using Python 3.12.1 environment at: .gymkit-cache/envs/nemo-gym-c8eac9ef35259a3e
error: Failed to download `en-core-web-sm @ https://github.com/explosion/spacy-models/en_core_web_sm.whl`
  cause: Request failed after 3 retries in 8.8s
  cause: client error (Connect)
  cause: dns error
  cause: failed to lookup address information: Name or service not known
"""


def test_an_installs_reason_is_its_error_with_the_deepest_cause_and_reads_as_the_network() -> None:
    # ifbench's requirements name a wheel on GitHub: uv puts the DNS failure seven causes down.
    from gymkit.testing.environment import installer_reason

    reason = installer_reason(UV_CHAIN)
    assert reason == (
        "error: Failed to download `en-core-web-sm @ https://github.com/explosion/spacy-models/en_core_web_sm.whl`:"
        " failed to lookup address information: Name or service not known"
    )
    found = cause_elsewhere([f"installing nemo-gym and its requirements failed: {reason}"])
    assert found is not None and found[0] == "the network"
