from __future__ import annotations

from pathlib import Path

import pytest

from gymkit.errors import InvalidServerConfigError
from gymkit.runtime.config import AgentConfig, DatasetLicense, Domain, find_config, load_config

from .conftest import UPSTREAM

GOOD = """\
my_task:
  resources_servers:
    my_task:
      entrypoint: app.py
      domain: math
      verified: false
my_task_simple_agent:
  responses_api_agents:
    simple_agent:
      entrypoint: app.py
      resources_server: {type: resources_servers, name: my_task}
      model_server: {type: responses_api_models, name: policy_model}
      datasets:
        - name: train
          type: train
          jsonl_fpath: resources_servers/my_task/data/train.jsonl
          license: Apache 2.0
        - name: example
          type: example
          jsonl_fpath: resources_servers/my_task/data/example.jsonl
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "my_task.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("path", sorted(UPSTREAM.glob("*/*.yaml")), ids=lambda p: p.stem)
def test_upstream_configs_load(path: Path) -> None:
    config = load_config(path)
    assert config.resources_server.domain in set(Domain)
    assert config.agents


def test_good_config(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD))
    assert config.resources_server.domain is Domain.MATH
    assert [d.name for d in config.datasets()] == ["train", "example"]
    assert config.datasets()[0].license is DatasetLicense.APACHE_2_0
    agent = config.agents[0].fields
    assert isinstance(agent, AgentConfig) and agent.model_server.name == "policy_model"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("domain: math", "domain: banana", ":5: my_task.resources_servers.my_task.domain: 'banana' is not allowed"),
        ("      domain: math\n", "", ":3: my_task.resources_servers.my_task.domain: required field is missing"),
        ("          license: Apache 2.0\n", "", "datasets.0: a license is required for the train dataset 'train'"),
        (
            "license: Apache 2.0",
            "license: WTFPL",
            ":17: my_task_simple_agent.responses_api_agents.simple_agent.datasets.0.license",
        ),
        (
            "          type: example\n",
            "          type: example\n          licence: MIT\n",
            "datasets.1.licence: unknown field",
        ),
        ("name: my_task}", "name: nobody}", "refers to 'nobody', which this file does not define"),
        # Upstream's refs are typed: an agent's resources_server must name a resources server.
        (
            "{type: resources_servers, name: my_task}",
            "{type: resources_servers, name: my_task_simple_agent}",
            ":11: my_task_simple_agent.responses_api_agents.simple_agent.resources_server.name: "
            "refers to 'my_task_simple_agent', which is not a resources server",
        ),
        (
            "{type: resources_servers, name: my_task}",
            "{type: responses_api_models, name: my_task}",
            ":11: my_task_simple_agent.responses_api_agents.simple_agent.resources_server.type: "
            "Input should be 'resources_servers'",
        ),
        (
            "{type: responses_api_models, name: policy_model}",
            "{type: resources_servers, name: policy_model}",
            ":12: my_task_simple_agent.responses_api_agents.simple_agent.model_server.type: "
            "Input should be 'responses_api_models'",
        ),
        # OmegaConf, which loads configs upstream, refuses a key given twice; last-one-wins
        # would silently drop the first.
        (
            "      verified: false\n",
            "      verified: false\n      domain: coding\n",
            ":7: not valid YAML: found duplicate key 'domain'",
        ),
        (
            "my_task_simple_agent:\n",
            "my_task:\n  resources_servers:\n    other: {domain: math}\nmy_task_simple_agent:\n",
            ":7: not valid YAML: found duplicate key 'my_task'",
        ),
        ("resources_servers:\n    my_task:", "resource_servers:\n    my_task:", "unknown server type"),
        ("verified: false", "verified: [unclosed", "not valid YAML"),
    ],
)
def test_bad_configs_name_file_line_and_field(tmp_path: Path, old: str, new: str, expected: str) -> None:
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(InvalidServerConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(str(path))
    assert expected in message
    assert "\n" not in message


def test_unknown_domain_hint_lists_domains(tmp_path: Path) -> None:
    with pytest.raises(InvalidServerConfigError) as info:
        load_config(write(tmp_path, GOOD.replace("domain: math", "domain: banana")))
    assert info.value.hint and "instruction_following" in info.value.hint


def test_empty_and_non_mapping_files(tmp_path: Path) -> None:
    for text in ("", "- a\n- b\n", "x: 1\n"):
        with pytest.raises(InvalidServerConfigError):
            load_config(write(tmp_path, text))


def test_find_config(tmp_path: Path) -> None:
    server = tmp_path / "my_task"
    (server / "configs").mkdir(parents=True)
    with pytest.raises(InvalidServerConfigError, match="no config found"):
        find_config(server)
    (server / "configs" / "other.yaml").write_text(GOOD)
    assert find_config(server).name == "other.yaml"
    (server / "configs" / "my_task.yaml").write_text(GOOD)
    assert find_config(server).name == "my_task.yaml"
