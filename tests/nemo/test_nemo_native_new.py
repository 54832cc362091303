"""``gymkit new`` in a NeMo Gym checkout writes a server upstream's own ``ng_test`` accepts as it is.

The checkout is a clone of the test checkout; the server's five example rollouts come from
gymkit's agent with a scripted endpoint, against the server as the real nemo-gym runtime
starts it; ``data/example_metrics.json`` from upstream's ``ng_prepare_data``, as the server's
README says. Then ``ng_test +should_validate_data=true`` builds the server's venv the way
upstream does (its requirements.txt installs the checkout), runs the server's tests and checks
the example data.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from gymkit.nemo.detect import server_kind
from gymkit.testing.environment import Environment
from tests.nemo.model import planned_model
from tests.nemo.ngcli import NemoCli, failure

pytestmark = [pytest.mark.slow, pytest.mark.nemo]

GYMKIT = str(Path(sys.executable).parent / "gymkit")
NAME = "sum_check"


def _run(argv: list[str], cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_gymkit_new_in_a_nemo_checkout_passes_ng_test(
    nemo_checkout: Path, nemo_runtime: Environment, nemo_python: str, tmp_path: Path
) -> None:
    gym = tmp_path / "Gym"
    cloned = _run(["git", "clone", "-q", str(nemo_checkout), str(gym)], tmp_path)
    assert cloned.returncode == 0, cloned.stderr
    made = _run([GYMKIT, "new", NAME, "--defaults", "--domain", "math", "--data-license", "Apache 2.0"], gym)
    assert made.returncode == 0, made.stdout + made.stderr
    server = gym / "resources_servers" / NAME
    assert server_kind(server) == "nemo_gym"
    config = yaml.safe_load((server / "configs" / f"{NAME}.yaml").read_text())
    fields = config[f"{NAME}_resources_server"]["resources_servers"][NAME]
    assert (fields["domain"], fields["verified"]) == ("math", False)
    datasets = config[f"{NAME}_simple_agent"]["responses_api_agents"]["simple_agent"]["datasets"]
    assert {d["type"]: d.get("license") for d in datasets} == {
        "train": "Apache 2.0",
        "validation": "Apache 2.0",
        "example": None,
    }
    assert (server / "requirements.txt").read_text().split() == ["-e", "nemo-gym[dev]", "@", "../../"]
    assert len(_rows(server / "data" / "example.jsonl")) == 5

    rollouts = server / "data" / "example_rollouts.jsonl"
    with planned_model(server) as (_, url):
        endpoint = ["--base-url", url, "--api-key", "x", "--api", "chat"]
        collected = _run([GYMKIT, "rollouts", str(server), *endpoint, "-k", "1", "-q", "-o", str(rollouts)], gym)
    assert collected.returncode == 0, collected.stdout + collected.stderr
    # The plans answer the last task wrongly (tests/nemo/model.py); the server's verify decides.
    assert sorted((r["_ng_task_index"], r["reward"]) for r in _rows(rollouts)) == [
        (0, 1.0),
        (1, 1.0),
        (2, 1.0),
        (3, 1.0),
        (4, 0.0),
    ]

    cli = NemoCli(nemo_runtime, nemo_python, gym, logs=tmp_path / "logs", venvs=tmp_path / "venvs")
    model = ["+policy_base_url=http://127.0.0.1:9/v1", "+policy_api_key=x", "+policy_model_name=none"]
    openai_model = "responses_api_models/openai_model/configs/openai_model.yaml"
    prepared = cli.run(
        "ng_prepare_data",
        f"+config_paths=[resources_servers/{NAME}/configs/{NAME}.yaml,{openai_model}]",
        f"+output_dirpath=data/{NAME}",
        "+mode=example_validation",
        *model,
    )
    assert prepared.returncode == 0, failure(prepared, cli)
    assert json.loads((server / "data" / "example_metrics.json").read_text())["Number of examples"] == 5

    tested = cli.run("ng_test", f"+entrypoint=resources_servers/{NAME}", "+should_validate_data=true")
    assert tested.returncode == 0, failure(tested, cli)
    assert f"The data for resources_servers/{NAME} has been successfully validated!" in tested.stdout
    # The server's own tests ran (not an empty collection).
    assert " passed" in tested.stdout + tested.stderr
