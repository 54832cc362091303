"""``gymkit new`` in a NeMo Gym checkout: the NeMo Gym template, its history and ``gymkit update``.

The servers rendered here are read, not run: ``tests/nemo/test_nemo_native_new.py`` runs one
under the real nemo-gym and has upstream's ``ng_test`` accept it.
"""

from __future__ import annotations

import ast
import json
import re
import shutil
import zipfile
from pathlib import Path

import pytest
import yaml

from gymkit.nemo.detect import gym_kind, server_kind
from gymkit.scaffold import _nemo, new_server, update_server
from tests.scaffold.conftest import REPO, git, make_project

NEMO_TEMPLATE = REPO / "templates" / "nemo_resource_server"


def make_nemo_checkout(folder: Path) -> Path:
    """The least gymkit takes for a NeMo Gym checkout: its nemo_gym package and pyproject, in git."""
    (folder / "nemo_gym").mkdir(parents=True)
    (folder / "nemo_gym" / "__init__.py").write_text("")
    (folder / "resources_servers").mkdir()
    (folder / "pyproject.toml").write_text('[project]\nname = "nemo-gym"\nversion = "0.4.0"\n')
    git(folder, "init", "-q", "-b", "main")
    git(folder, "add", "-A")
    git(folder, "commit", "-q", "-m", "nemo-gym")
    return folder


def make_gymkit_checkout(folder: Path) -> Path:
    """A git repository with the NeMo Gym template where gymkit keeps it, committed once."""
    shutil.copytree(NEMO_TEMPLATE, folder / "templates" / "nemo_resource_server")
    git(folder, "init", "-q", "-b", "main")
    git(folder, "add", "-A")
    git(folder, "commit", "-q", "-m", "template v1")
    git(folder, "tag", "v0.1.0")
    return folder


def _block(text: str, name: str) -> str:
    match = re.search(rf"# BEGIN GENERATED {name} .*?\n(.*?)# END GENERATED {name}\n", text, re.S)
    assert match, name
    return match.group(1)


@pytest.mark.parametrize("name", ["server_name and domain", "code_license and data_license"])
def test_questions_match_the_gymkit_template(name: str) -> None:
    # The name rule, the domains and the licences are gymkit's (nox -s generate writes the root copier.yml).
    ours = (NEMO_TEMPLATE / "copier.yml").read_text()
    assert _block(ours, name) == _block((REPO / "copier.yml").read_text(), name)


@pytest.fixture(scope="module")
def nemo_server(tmp_path_factory: pytest.TempPathFactory) -> Path:
    gym = make_nemo_checkout(tmp_path_factory.mktemp("nemo") / "Gym")
    made = new_server("sum_check", root=gym, domain="math", data_license="MIT", code_license="Apache-2.0")
    assert made.path == gym / "resources_servers" / "sum_check"
    return made.path


def test_in_a_nemo_checkout_the_server_is_written_for_nemo_gym(nemo_server: Path) -> None:
    assert server_kind(nemo_server) == "nemo_gym"
    tree = ast.parse((nemo_server / "app.py").read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert "nemo_gym.base_resources_server" in imported and not any("gymkit" in (m or "") for m in imported)
    test_imports = (nemo_server / "tests" / "test_app.py").read_text()
    assert "from resources_servers.sum_check.app import" in test_imports  # as ng_test runs them: from the root


def test_config_has_upstreams_layout(nemo_server: Path) -> None:
    config = yaml.safe_load((nemo_server / "configs" / "sum_check.yaml").read_text())
    server = config["sum_check_resources_server"]["resources_servers"]["sum_check"]
    assert (server["entrypoint"], server["domain"], server["verified"]) == ("app.py", "math", False)
    agent = config["sum_check_simple_agent"]["responses_api_agents"]["simple_agent"]
    assert agent["resources_server"] == {"type": "resources_servers", "name": "sum_check_resources_server"}
    assert agent["model_server"] == {"type": "responses_api_models", "name": "policy_model"}
    datasets = {d["type"]: d for d in agent["datasets"]}
    assert datasets["train"]["license"] == datasets["validation"]["license"] == "MIT"
    assert datasets["example"]["jsonl_fpath"] == "resources_servers/sum_check/data/example.jsonl"


def test_readme_requirements_and_data_are_upstreams(nemo_server: Path) -> None:
    readme = (nemo_server / "README.md").read_text()
    prose = re.sub(r"```.*?```", "", readme, flags=re.S)  # a shell comment in a code block is no heading
    headings = [line for line in prose.splitlines() if line.startswith("# ")]
    assert headings == ["# Description", "# Licensing information"]
    assert "Code: Apache-2.0\nData: MIT\n" in readme and "- nemo_gym: Apache 2.0" in readme
    assert (nemo_server / "requirements.txt").read_text() == "-e nemo-gym[dev] @ ../../\n"
    rows = [json.loads(line) for line in (nemo_server / "data" / "example.jsonl").read_text().splitlines()]
    assert len(rows) == 5
    for row in rows:
        a, b = (int(n) for n in re.findall(r"-?\d+", row["responses_create_params"]["input"][-1]["content"]))
        assert row["expected_answer"] == a + b
        assert [t["name"] for t in row["responses_create_params"]["tools"]] == ["add"]
    ignored = (nemo_server / "data" / ".gitignore").read_text()
    patterns = [line for line in ignored.splitlines() if line and not line.startswith("#")]
    assert "*train.jsonl" in patterns and not any("example" in p for p in patterns)


def test_without_tools_there_is_no_tool(tmp_path: Path) -> None:
    gym = make_nemo_checkout(tmp_path / "Gym")
    server = new_server("plain_sums", root=gym, tools=False).path
    rows = [json.loads(line) for line in (server / "data" / "example.jsonl").read_text().splitlines()]
    assert all("tools" not in row["responses_create_params"] for row in rows)
    assert '"/add"' not in (server / "app.py").read_text()
    ast.parse((server / "app.py").read_text())
    ast.parse((server / "tests" / "test_app.py").read_text())


def test_a_gymkit_gym_still_gets_the_gymkit_template(tmp_path: Path) -> None:
    root = make_project(tmp_path / "gym")
    assert server_kind(new_server("my_task", root=root).path) == "gymkit"


def test_servers_importing_nemo_gym_do_not_make_a_nemo_checkout(tmp_path: Path) -> None:
    # The NeMo template's requirements.txt installs ../../ as nemo-gym: only right inside NeMo Gym itself.
    root = make_project(tmp_path / "gym")
    for name in ("ported_a", "ported_b"):
        (root / "resources_servers" / name).mkdir()
        (root / "resources_servers" / name / "app.py").write_text("from nemo_gym.base_resources_server import X\n")
    assert gym_kind(root) == "nemo-gym"  # the majority rule the checks use still sees an upstream-style tree
    made = new_server("my_task", root=root)
    assert server_kind(made.path) == "gymkit"
    assert "nemo-gym" not in (made.path / "requirements.txt").read_text()


def test_update_merges_a_template_change_into_a_nemo_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    checkout = make_gymkit_checkout(tmp_path / "gymkit")
    monkeypatch.setattr(_nemo, "_checkout", lambda: checkout)
    gym = make_nemo_checkout(tmp_path / "Gym")
    made = new_server("sum_check", root=gym)
    answers = yaml.safe_load((made.path / ".copier-answers.yml").read_text())
    assert answers["_src_path"] == "gymkit-nemo" and answers["_commit"] == made.commit == "gymkit-v0.1.0"
    git(gym, "add", "-A")
    git(gym, "commit", "-q", "-m", "sum_check")
    assert update_server(made.path).status == "up to date"

    readme = checkout / "templates" / "nemo_resource_server" / "server" / "README.md.jinja"
    readme.write_text(readme.read_text().replace("Data links: ?", "Data links: ? (where the data comes from)"))
    git(checkout, "commit", "-q", "-am", "template v2")
    result = update_server(made.path)
    assert result.status == "updated" and result.from_commit == "gymkit-v0.1.0"
    assert "Data links: ? (where the data comes from)" in (made.path / "README.md").read_text()


@pytest.mark.slow
def test_the_wheel_carries_the_nemo_template_and_its_history(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.newcomer.conftest import build_wheel, fresh_clone

    wheel = build_wheel(fresh_clone(tmp_path / "clone"), tmp_path / "dist")
    unpacked = tmp_path / "unpacked"
    with zipfile.ZipFile(wheel) as archive:
        names = [n for n in archive.namelist() if n.startswith("gymkit/_template_nemo/")]
        archive.extractall(unpacked, names)
    packaged = unpacked / "gymkit" / "_template_nemo"
    assert (packaged / "copier.yml").is_file() and (packaged / "server" / "app.py.jinja").is_file()
    assert (packaged / "history.bundle").is_file()
    # As an installed wheel runs it: no checkout, the packaged template and its bundled history.
    monkeypatch.setattr(_nemo, "_checkout", lambda: None)
    monkeypatch.setattr(_nemo, "_PACKAGED", packaged)
    gym = make_nemo_checkout(tmp_path / "Gym")
    made = new_server("sum_check", root=gym)
    assert made.template == packaged and made.commit and made.commit.startswith("gymkit-")
    assert server_kind(made.path) == "nemo_gym"
    git(gym, "add", "-A")
    git(gym, "commit", "-q", "-m", "sum_check")
    assert update_server(made.path).status == "up to date"
