"""`gymkit serve` as a user runs it: a real child process, real HTTP, one-line errors."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from gymkit.cli import app
from gymkit.errors import ServerLoadError
from gymkit.runtime.serving import ServerProcess

from .test_server_http import RCP, answer


def run_gymkit(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gymkit", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def test_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.startswith("gymkit ")


def test_serve_tutorial_server_by_name(fixture_server: Callable[[str], Path]) -> None:
    server_dir = fixture_server("tutorial")
    with ServerProcess(server_dir) as proc:
        assert proc.url.startswith("http://127.0.0.1:")
        assert httpx.post(proc.url + "/my_tool", json={"input_text": "z"}).json() == {"result": "Processed: z"}
        body = httpx.post(proc.url + "/verify", json={**RCP, "response": answer("ok")}).json()
        assert body["reward"] == 1.0 and body["response"]["output"][0]["content"][0]["text"] == "ok"


@pytest.mark.parametrize(
    ("break_it", "expected"),
    [
        (
            lambda d: (d / "configs/tutorial.yaml").write_text(
                (d / "configs/tutorial.yaml").read_text().replace("domain: other", "domain: banana")
            ),
            "tutorial.yaml:5: tutorial_resources_server.resources_servers.tutorial.domain: 'banana' is not allowed",
        ),
        (lambda d: (d / "app.py").unlink(), "no app.py"),
        (
            lambda d: (d / "app.py").write_text("import not_a_module_anywhere\n"),
            "app.py:1: importing app.py failed: ModuleNotFoundError: No module named 'not_a_module_anywhere'",
        ),
        (lambda d: (d / "app.py").write_text("def broken(:\n"), "app.py:1: syntax error"),
        (lambda d: (d / "app.py").write_text("x = 1\n"), "no module-level `server` instance"),
        (
            # No `server`, so the runtime makes one from the only server class, which fails.
            lambda d: (d / "app.py").write_text(
                (d / "app.py").read_text().replace("server = MyTaskResourcesServer()", "")
                + "    def __init__(self, level: int) -> None:\n        super().__init__()\n"
            ),
            "app.py: MyTaskResourcesServer() failed: TypeError: ",
        ),
    ],
    ids=["bad-domain", "no-app", "import-error", "syntax-error", "no-server", "server-class-fails"],
)
def test_serve_errors_are_one_line_without_traceback(
    fixture_server: Callable[[str], Path], break_it: Callable[[Path], object], expected: str
) -> None:
    server_dir = fixture_server("tutorial")
    break_it(server_dir)
    result = run_gymkit("serve", "tutorial", cwd=server_dir.parent.parent)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    first = result.stderr.splitlines()[0]
    assert first.startswith("error: ") and expected in first
    assert result.stdout == ""


def test_serve_unknown_server_lists_known_ones(fixture_server: Callable[[str], Path]) -> None:
    root = fixture_server("tutorial").parent.parent
    result = run_gymkit("serve", "nope", cwd=root)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"error: no resource server at {root / 'resources_servers' / 'nope'}",
        "hint: known servers: tutorial",
    ]


def test_server_process_reports_the_child_error(fixture_server: Callable[[str], Path]) -> None:
    server_dir = fixture_server("tutorial")
    (server_dir / "app.py").write_text("raise SystemExit('bye')\n")
    with pytest.raises(ServerLoadError, match=r"importing app\.py failed: SystemExit"), ServerProcess(server_dir):
        pass
