"""The README's promises: its two set-up commands are what CI runs, and its server example serves."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from gymkit.project import ServerPaths, load_server
from gymkit.runtime.serving import serving_in_thread

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _blocks(language: str) -> list[str]:
    return [b.strip() for b in re.findall(rf"^```{language}\n(.*?)^```", README, re.MULTILINE | re.DOTALL)]


def test_the_readme_starts_with_the_two_commands() -> None:
    first_section = README.split("\n## ", 1)[0]
    install, tests = _blocks("bash")[:2]
    assert f"```bash\n{install}\n```" in first_section and f"```bash\n{tests}\n```" in first_section
    assert install.startswith("python3.11 -m venv .venv && ")
    assert install.endswith("&& .venv/bin/gymkit reproduce weather")
    assert tests == ".venv/bin/python -m pytest"


def test_ci_installs_and_tests_exactly_as_the_readme_says() -> None:
    install, tests = _blocks("bash")[:2]
    steps = install.split(" && ")  # the set-up, then the main job
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    commands = [line for line in ci if line and not line.startswith("#")]
    at = [commands.index(step) for step in steps]  # ValueError names a step CI lacks
    assert at == sorted(at), "CI must run the README's first command, main job included, in the README's order"
    assert any(line.startswith(tests) for line in commands[at[-1] :])


def test_ci_installs_the_system_packages_the_readme_names() -> None:
    """Each ``apt-get install`` the README shows is a line .ci/run runs before the tests."""
    shown = [b for b in _blocks("bash") if b.startswith("apt-get install")]
    assert shown, "the README says how to install the browser the viewer's tests drive"
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    tests = next(i for i, line in enumerate(ci) if line.startswith(".venv/bin/python -m pytest"))
    for command in shown:
        assert command in ci[:tests], command


def test_the_pr_workflow_installs_what_the_readme_installs() -> None:
    install = _blocks("bash")[0]
    pips = [step.removeprefix(".venv/bin/pip ") for step in install.split(" && ") if step.startswith(".venv/bin/pip ")]
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "pr.yml").read_text())
    steps = [s for job in workflow["jobs"].values() for s in job.get("steps", []) if s.get("name") == "Install gymkit"]
    assert steps
    for step in steps:
        lines = [line.removeprefix("python -m pip ") for line in step["run"].splitlines()]
        assert all(pip in lines for pip in pips), (pips, lines)


@pytest.fixture(scope="module")
def readme_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    (code,) = _blocks("python")
    folder = tmp_path_factory.mktemp("readme") / "weather_readme"
    folder.mkdir()
    (folder / "app.py").write_text(code + "\n")
    try:
        server = load_server(ServerPaths(folder), with_config=False)
        with serving_in_thread(server.app) as url:
            yield url
    finally:
        sys.modules.pop(f"gymkit_server_{folder.name}", None)
        if str(folder) in sys.path:
            sys.path.remove(str(folder))


def test_the_readme_server_serves_its_tool_and_verify(readme_server: str) -> None:
    assert httpx.get(readme_server + "/").json()["tools"] == ["get_weather"]
    tool = httpx.post(readme_server + "/get_weather", json={"city": "Oslo"})
    assert tool.json() == {"city": "Oslo", "weather_description": "Oslo: cold"}

    def verify(answer: str) -> float:
        row = {
            "responses_create_params": {"input": [{"role": "user", "content": "Weather in Oslo?"}]},
            "response": {
                "id": "r",
                "model": "m",
                "output": [
                    {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": answer}]}
                ],
            },
            "expected_answer": "cold",
        }
        reply = httpx.post(readme_server + "/verify", json=row)
        assert reply.status_code == 200, reply.text
        return reply.json()["reward"]

    assert verify("It is Cold in Oslo.") == 1.0
    assert verify("It is warm.") == 0.0


def _steps(text: str) -> set[int]:
    return {int(n) for n in re.findall(r"\d+", text)}


@pytest.mark.slow
def test_the_first_server_block_ends_where_the_readme_says(tmp_path: Path) -> None:
    """The first-server commands, run in a fresh clone: the steps and checks the README says fail are those that do."""
    pytest.importorskip("xllamacpp")
    from tests.newcomer.conftest import fresh_clone, run

    (block,) = [b for b in _blocks("bash") if b.startswith(".venv/bin/gymkit new my_task")]
    after = next(par for par in README.split(block, 1)[1].split("\n\n") if par.startswith("Steps "))
    said = re.search(r"Steps ([\d, and]+) pass\. The check fails steps ([\d, and]+),", after)
    assert said, after
    said_pass, said_fail = _steps(said.group(1)), _steps(said.group(2))
    said_codes = set(re.findall(r"\((GYM\d{3})\)", after))

    clone = fresh_clone(tmp_path / "clone")
    # The clone's own gymkit, as `pip install -e .` in the clone would give (its template, its noxfile).
    env = {"PYTHONPATH": str(clone)}
    outputs = []
    for line in block.splitlines():
        command = line.split("#", 1)[0].split()
        tool = command[0].removeprefix(".venv/bin/")
        args = [sys.executable, "-m", tool, *(word.strip('"') for word in command[1:])]
        if tool == "gymkit" and command[1] == "check":
            args += ["--format", "json"]
        done = run(args, clone, **env)
        outputs.append(done)
        if tool == "gymkit" and command[1] == "check":
            assert done.returncode == (1 if said_fail else 0), done.stdout
        else:
            assert done.returncode == 0, f"{line}\n{done.stdout[-3000:]}"
    findings = json.loads(outputs[-1].stdout)["servers"][0]["findings"]
    failing = [f for f in findings if f["status"] == "fail"]
    assert {f["code"] for f in failing} == said_codes, failing
    assert {f["step"] for f in failing} == said_fail
    clean = {f["step"] for f in findings} - {f["step"] for f in findings if f["status"] in ("fail", "warn")}
    assert clean == said_pass


@pytest.mark.slow  # collects the whole suite
def test_the_readme_counts_the_tests_it_runs() -> None:
    said = re.search(r"about (\d+) tests, about (\d+) of them marked\s+`slow`", README)
    assert said, "the README says how many tests the suite has"
    total, slow = (int(n) for n in said.groups())

    def collected(*options: str) -> int:
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *options],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        counted = re.search(r"(\d+)(?:/(\d+))? tests? collected", done.stdout)
        assert counted, done.stdout[-2000:]
        return int(counted.group(1))

    assert abs(collected() - total) <= total * 0.1
    assert abs(collected("-m", "slow") - slow) <= slow * 0.15
