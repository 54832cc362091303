"""`gymkit new`: what it renders, and what it refuses."""

from __future__ import annotations

import hashlib
import os
import pty
import re
import select
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import yaml
from typer.testing import CliRunner

from gymkit.cli import app
from gymkit.errors import UserError
from gymkit.jsonl import validate_rows
from gymkit.project import ServerPaths, load_server
from gymkit.runtime.config import AgentConfig, DatasetLicense, Domain, load_config
from gymkit.runtime.serving import serving_in_thread
from gymkit.runtime.wire import BaseRunRequest
from gymkit.scaffold import ANSWERS_FILE, NewServer, new_server, validate_name

from .conftest import REPO, run_gymkit

FILES = {
    ANSWERS_FILE,
    "README.md",
    "app.py",
    "requirements.txt",
    "data/.gitignore",
    "data/example.jsonl",
    "tests/conftest.py",
    "tests/test_app.py",
    "tests/verifier_cases.jsonl",
}


def files_of(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts}


def tree_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        digest.update(str(path.relative_to(folder)).encode())
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.mark.parametrize("tools", [True, False])
def test_renders_every_required_file(rendered: dict[bool, NewServer], tools: bool) -> None:
    server = rendered[tools]
    name = server.path.name
    assert files_of(server.path) == FILES | {f"configs/{name}.yaml"}
    assert not list(server.path.parent.glob(".*")), "the staging folder was left behind"


def test_config_loads_and_wires_agent_to_server(rendered: dict[bool, NewServer]) -> None:
    config = ServerPaths(rendered[True].path).config()
    assert config.resources_server.domain is Domain.MATH
    assert config.resources_server.verified is False
    (agent,) = config.agents
    assert agent.name == "calc_task_simple_agent" and agent.implementation == "simple_agent"
    assert isinstance(agent.fields, AgentConfig)
    assert agent.fields.resources_server.name == config.resources_servers[0].name
    assert agent.fields.model_server.name == "policy_model"
    datasets = {d.type: d for d in config.datasets()}
    assert set(datasets) == {"train", "validation", "example"}
    assert datasets["train"].license is DatasetLicense.TBD is datasets["validation"].license
    assert datasets["example"].jsonl_fpath == "resources_servers/calc_task/data/example.jsonl"


@pytest.mark.parametrize("tools", [True, False])
def test_example_rows_validate_and_offer_the_tool(rendered: dict[bool, NewServer], tools: bool) -> None:
    server = rendered[tools]
    rows = [row for _, row in validate_rows(server.path / "data/example.jsonl", BaseRunRequest)]
    assert len(rows) >= 5
    for row in rows:
        extra = row.model_extra or {}
        assert float(extra["expected_answer"]) > 0
        assert extra["agent_ref"] == {"type": "responses_api_agents", "name": f"{server.path.name}_simple_agent"}
        offered = row.responses_create_params.tools or []
        if tools:
            (tool,) = offered
            assert tool["type"] == "function" and tool["name"] == "calculate" and tool["strict"] is True
            assert tool["parameters"]["required"] == ["a", "b", "op"]
        else:
            assert offered == []


def test_answers_file_records_template_and_answers(rendered: dict[bool, NewServer]) -> None:
    server = rendered[False]
    answers = yaml.safe_load((server.path / ANSWERS_FILE).read_text())
    assert answers["_src_path"] == str(REPO)  # outside the template's repository: absolute
    assert answers["_commit"] == server.commit
    assert answers["server_name"] == "plain_task" and answers["tools"] is False
    assert answers["domain"] == "knowledge" and answers["data_license"] == "MIT"


@pytest.mark.parametrize("tools", [True, False])
def test_readme_owes_exactly_what_only_the_contributor_knows(rendered: dict[bool, NewServer], tools: bool) -> None:
    readme = (rendered[tools].path / "README.md").read_text()
    headings = re.findall(r"^## (.+)$", readme, re.MULTILINE)
    assert headings[:3] == ["Description", "Task source", "Verification logic"]
    assert "Licensing information" in headings
    todo_lines = [line for line in readme.splitlines() if "TODO" in line]
    # The task source and the models behind synthetic data always; the data licence while it is TBD.
    assert len(todo_lines) == (3 if tools else 2)
    assert all(line.strip().startswith(("TODO: ", "Synthetic data: TODO: ")) for line in todo_lines)
    assert ("licence of the train and validation data" in " ".join(todo_lines)) is tools
    licensing = readme.split("## Licensing information", 1)[1]
    assert "- Code: Apache-2.0" in licensing and "- Dependencies: gymkit (Apache-2.0)" in licensing
    assert ("- Data: TBD" if tools else "- Data: MIT") in licensing
    outside_todo = "\n".join(line for line in readme.splitlines() if "TODO" not in line)
    assert "?" not in outside_todo


@pytest.mark.parametrize("tools", [True, False])
def test_nothing_else_is_left_to_fill_in(rendered: dict[bool, NewServer], tools: bool) -> None:
    for path in rendered[tools].path.rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            text = path.read_text()
            assert "{{" not in text and "{%" not in text, path
            if path.name != "README.md":
                assert "TODO" not in text, path


def test_rendered_code_passes_the_repository_lint(rendered: dict[bool, NewServer]) -> None:
    ruff = Path(sys.executable).parent / "ruff"
    if not ruff.exists():
        pytest.skip("ruff is not installed (the dev extra)")
    folders = [str(s.path) for s in rendered.values()]
    config = str(REPO / "pyproject.toml")
    for command in (["check"], ["format", "--check"]):
        result = subprocess.run([ruff, *command, "--config", config, *folders], capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("tools", [True, False])
def test_rendered_tests_pass_from_the_server_folder_and_from_the_root(
    rendered: dict[bool, NewServer], tools: bool
) -> None:
    server = rendered[tools].path
    root = server.parent.parent
    runs = [(root, [f"resources_servers/{server.name}/tests"])]
    if tools:  # where the runs differ is the import of app.py, so one variant covers the folder itself
        runs.append((server, []))
    for cwd, args in runs:
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )
        assert result.returncode == 0, result.stdout[-3000:]
        passed = int(re.search(r"(\d+) passed", result.stdout).group(1))  # type: ignore[union-attr]
        assert passed >= (16 if tools else 11), result.stdout
        assert "warning" not in result.stdout.lower(), result.stdout


def test_rendered_server_serves_and_scores_the_example(rendered: dict[bool, NewServer]) -> None:
    paths = ServerPaths(rendered[True].path)
    server = load_server(paths)
    row = next(iter(validate_rows(paths.example, BaseRunRequest)))[1].model_dump(exclude_none=True)

    def reply(text: str) -> dict[str, object]:
        message = {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": text}]}
        return {**row, "response": {"id": "r1", "output": [message]}}

    with serving_in_thread(server.app) as url, httpx.Client(base_url=url) as client:
        assert "calculate" in client.get("/").json()["tools"]
        assert client.post("/calculate", json={"a": 17, "b": 23, "op": "*"}).json()["result"] == 391
        right = client.post("/verify", json=reply(f"17 * 23 = 391\nAnswer: {row['expected_answer']}")).json()
        assert right["reward"] == 1.0 and right["extracted_answer"] == "391"
        assert client.post("/verify", json=reply("Answer: 390")).json()["reward"] == 0.0
        assert client.post("/verify", json=reply("")).json()["reward"] == 0.0


@pytest.mark.parametrize(
    ("domain", "licence"),
    [(d, list(DatasetLicense)[i % len(DatasetLicense)]) for i, d in enumerate(Domain)],
    ids=[d.value for d in Domain],
)
def test_every_domain_renders_a_loadable_config(
    render: Callable[..., NewServer], domain: Domain, licence: DatasetLicense
) -> None:
    server = render(f"task_{domain.value}", domain=domain.value, data_license=licence.value, tools=len(domain) % 2 == 0)
    config = load_config(server.path / f"configs/task_{domain.value}.yaml")
    assert config.resources_server.domain is domain
    assert {d.license for d in config.datasets() if d.type != "example"} == {licence}
    assert len(list(validate_rows(server.path / "data/example.jsonl", BaseRunRequest))) >= 5


def test_answers_given_are_used(render: Callable[..., NewServer]) -> None:
    server = render(
        "quoted_task", description='Say "yes": or no, with a colon', code_license="MIT OR Apache-2.0", tools=False
    )
    config = load_config(server.path / "configs/quoted_task.yaml")
    assert config.resources_server.description == 'Say "yes": or no, with a colon'
    assert "- Code: MIT OR Apache-2.0" in (server.path / "README.md").read_text()
    assert "calculate" not in (server.path / "app.py").read_text()


@pytest.mark.parametrize(
    "name",
    ["Bad-Name", "class", "../escape", "a/b", "9lives", "", "task-1", "Ünïcode", ".", "my_task\n", "a" * 65],
)
def test_validate_name_refuses(tmp_path: Path, name: str) -> None:
    with pytest.raises(UserError):
        validate_name(name, tmp_path)


@pytest.mark.parametrize("name", ["yes", "no", "on", "off", "true", "false", "null", "y", "n"])
def test_validate_name_refuses_words_yaml_reads_as_booleans_or_null(tmp_path: Path, name: str) -> None:
    # configs/NAME.yaml has the name as a key: `yes:` would load as True, `null:` as None.
    with pytest.raises(UserError, match="means true, false or null in YAML"):
        validate_name(name, tmp_path)
    assert yaml.safe_load(f"{name}_task: 1") == {f"{name}_task": 1}  # the suggested name is a string key


@pytest.mark.parametrize("name", ["my_task", "t", "math2", "class_", "type", "match", "yes_task", "a" * 64])
def test_validate_name_accepts(tmp_path: Path, name: str) -> None:
    validate_name(name, tmp_path)


def test_cli_refuses_a_name_too_long_for_the_filesystem_in_one_line(project: Path) -> None:
    result = run_gymkit("new", "a" * 300, "--defaults", "--template", str(REPO), cwd=project)
    assert result.returncode == 1
    assert result.stderr.startswith("error: aaaaaaaaaaaaaaaaaaaa... is 300 characters long"), result.stderr
    assert "Traceback" not in result.stderr
    assert list((project / "resources_servers").iterdir()) == []


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ({"domain": "cooking"}, "unknown domain 'cooking'"),
        ({"data_license": "WTFPL"}, "unknown data licence 'WTFPL'"),
        ({"code_license": "Apache 2"}, "not an SPDX licence identifier"),
        ({"description": "two\nlines"}, "one non-empty line"),
    ],
)
def test_bad_answers_are_refused_before_anything_is_written(
    project: Path, answers: dict[str, str], message: str
) -> None:
    with pytest.raises(UserError, match=re.escape(message)):
        new_server("my_task", root=project, template=REPO, **answers)
    assert list((project / "resources_servers").iterdir()) == []


def test_cli_refuses_bad_names_and_existing_servers_leaving_nothing_behind(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project)
    runner = CliRunner()
    assert runner.invoke(app, ["new", "taken", "--template", str(REPO)]).exit_code == 0
    before = tree_digest(project)
    for name, message in [
        ("Bad-Name", "'Bad-Name' is not a snake_case identifier"),
        ("class", "'class' is a Python keyword"),
        ("../escape", "'../escape' is not a server name"),
        ("taken", "already exists; gymkit new never overwrites a server"),
    ]:
        result = runner.invoke(app, ["new", name, "--domain", "math", "--template", str(REPO)])
        assert result.exit_code == 1, result.output
        first = result.stderr.splitlines()[0]
        assert first.startswith("error: ") and message in first, result.stderr
        assert result.exception is None or isinstance(result.exception, SystemExit)
    assert tree_digest(project) == before
    assert not (project.parent / "escape").exists()


@pytest.mark.slow
def test_cli_without_a_terminal_never_prompts(project: Path) -> None:
    result = run_gymkit("new", "quiet_task", cwd=project / "resources_servers", timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("created ")
    answers = yaml.safe_load((project / "resources_servers/quiet_task" / ANSWERS_FILE).read_text())
    assert answers["domain"] == "math" and answers["tools"] is True and answers["code_license"] == "Apache-2.0"


@pytest.mark.slow
def test_cli_in_a_terminal_asks_only_what_the_options_left_open(project: Path) -> None:
    controller, terminal = pty.openpty()
    command = [sys.executable, "-m", "gymkit", "new", "asked_task", "--domain", "games", "--tools"]
    command += ["--code-license", "MIT", "--description", "One line."]
    # No cursor-position queries: the test reads the screen as a plain byte stream.
    env = {**os.environ, "PROMPT_TOOLKIT_NO_CPR": "1", "TERM": "xterm", "COLUMNS": "120"}
    proc = subprocess.Popen(command, stdin=terminal, stdout=terminal, stderr=terminal, cwd=project, env=env)
    os.close(terminal)
    screen = b""

    def read_until(text: bytes) -> None:
        nonlocal screen
        deadline = time.monotonic() + 30
        while text not in screen and time.monotonic() < deadline:
            if select.select([controller], [], [], 0.2)[0]:
                try:
                    screen += os.read(controller, 4096)
                except OSError:  # the child closed the terminal
                    break
        assert text in screen, screen.decode(errors="replace")[-2000:]

    try:
        read_until(b"Licence of the train and validation data")
        os.write(controller, b"\x1b[B\r")  # one down from the default (TBD), then Enter
        read_until(b"created ")
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
        os.close(controller)
    assert b"Give the model a tool" not in screen and b"One line on what" not in screen
    answers = yaml.safe_load((project / "resources_servers/asked_task" / ANSWERS_FILE).read_text())
    licences = [lic.value for lic in DatasetLicense]
    assert answers["data_license"] == licences[licences.index("TBD") + 1]
    assert answers["domain"] == "games" and answers["code_license"] == "MIT"
