"""The README's promises: its two set-up commands are what CI runs, and its server example serves."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from gymkit.project import ServerPaths, load_server
from gymkit.serving import serving_in_thread

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
    *setup, _main_job = install.split(" && ")
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    commands = [line for line in ci if line and not line.startswith("#")]
    at = [commands.index(step) for step in setup]  # ValueError names a step CI lacks
    assert at == sorted(at), "CI must run the README's set-up in the README's order"
    assert any(line.startswith(tests) for line in commands[at[-1] :])


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
