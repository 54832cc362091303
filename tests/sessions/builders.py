"""Small resource servers written into temp gym trees: the material of the session tests."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path
from typing import Any

__all__ = ["REPO", "add_server", "new_gym", "task_row", "write_rows"]

REPO = Path(__file__).resolve().parents[2]

CONFIG = """\
{name}_resources_server:
  resources_servers:
    {name}:
      entrypoint: app.py
      domain: other
"""

APP = '''\
"""A server that rewards the expected answer, word for word."""

import asyncio

from gymkit import BaseResourcesServer, BaseVerifyRequest, BaseVerifyResponse, output_text
from pydantic import BaseModel


class EchoRequest(BaseModel):
    text: str


class EchoResponse(BaseModel):
    text: str


class ExactServer(BaseResourcesServer):
    async def echo(self, body: EchoRequest) -> EchoResponse:
        return EchoResponse(text=body.text)

    async def verify(self, body: BaseVerifyRequest) -> BaseVerifyResponse:
        expected = (body.model_extra or {{}}).get("expected_answer")
        {verify_line}
        reward = 1.0 if output_text(body.response).strip() == expected else 0.0
        return BaseVerifyResponse(**body.model_dump(), reward=reward)


server = ExactServer()
'''

TESTS = """\
from app import EchoRequest, server


async def test_echo():
    assert (await server.echo(EchoRequest(text="hi"))).text == "hi"
"""

# Each server asserts the version its own requirements.txt pins, so a shared or stale
# environment fails the test however the pins are changed.
PINNED_TEST = """\
from pathlib import Path

import six


def test_six_is_the_version_this_server_pins():
    pins = (Path(__file__).resolve().parent.parent / "requirements.txt").read_text().split()
    pinned = next(line.split("==")[1] for line in pins if line.startswith("six=="))
    assert six.__version__ == pinned
"""


def task_row(index: int, **fields: Any) -> dict[str, Any]:
    question = {"input": [{"role": "user", "content": f"Say the number {index}."}]}
    return {"responses_create_params": question, "expected_answer": str(index), **fields}


def write_rows(path: Path, rows: list[Any]) -> Path:
    """One line per item: dicts as JSON, strings verbatim (for malformed lines)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join((row if isinstance(row, str) else json.dumps(row)) + "\n" for row in rows))
    return path


def new_gym(root: Path) -> Path:
    """A gym tree like a contributor's fork: the noxfile at its root, servers below."""
    (root / "resources_servers").mkdir(parents=True)
    shutil.copy(REPO / "noxfile.py", root / "noxfile.py")
    return root


def add_server(
    root: Path,
    name: str,
    *,
    requirements: str = "",
    tests: dict[str, str] | None = None,
    rows: list[Any] | None = None,
    verify_line: str = "pass",
) -> Path:
    # verify_line is one statement at the top of verify(): how a test breaks the server.
    """Write resources_servers/NAME with app, config, tests, five example rows and requirements."""
    folder = root / "resources_servers" / name
    (folder / "configs").mkdir(parents=True)
    (folder / "configs" / f"{name}.yaml").write_text(CONFIG.format(name=name))
    (folder / "app.py").write_text(APP.format(verify_line=verify_line))
    (folder / "requirements.txt").write_text(requirements)
    for file_name, body in (tests if tests is not None else {"test_app.py": TESTS}).items():
        (folder / "tests").mkdir(exist_ok=True)
        (folder / "tests" / file_name).write_text(textwrap.dedent(body) + "\n")
    write_rows(folder / "data" / "example.jsonl", rows if rows is not None else [task_row(i) for i in range(5)])
    return folder
