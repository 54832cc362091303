"""A server whose app fails to start is never reported ready, and says why in one line.

The runtime serves with the ASGI lifespan on (the MCP endpoint runs in it), so an app's
startup hooks run: a database that is not reachable, a model file that is missing. Before
the ready line was printed ahead of them, and a caller sent requests to a port that closed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gymkit.errors import ServerLoadError
from gymkit.runtime.serving import ServerProcess, serving_in_thread

APP = """
from gymkit import BaseResourcesServer, BaseVerifyRequest, BaseVerifyResponse


async def _connect() -> None:
    raise RuntimeError("database not reachable")


class Broken(BaseResourcesServer):
    async def verify(self, body: BaseVerifyRequest) -> BaseVerifyResponse:
        return BaseVerifyResponse(**body.model_dump(), reward=0.0)

    def _build_app(self):
        app = super()._build_app()
        app.router.on_startup.append(_connect)
        return app


server = Broken()

if __name__ == "__main__":
    server.run()
"""

CONFIG = """\
broken:
  resources_servers:
    broken:
      entrypoint: app.py
      domain: other
"""


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    folder = tmp_path / "broken"
    (folder / "configs").mkdir(parents=True)
    (folder / "app.py").write_text(APP)
    (folder / "configs" / "broken.yaml").write_text(CONFIG)
    return folder


def _app(folder: Path) -> object:
    from gymkit.project import load_server, resolve_server

    return load_server(resolve_server(folder)).app


def test_serving_in_a_thread_raises_the_startup_error(broken: Path) -> None:
    app = _app(broken)
    with (
        pytest.raises(ServerLoadError, match="startup failed: RuntimeError: database not reachable"),
        serving_in_thread(app),
    ):
        pass


def test_a_server_process_is_not_ready_and_names_the_reason(broken: Path) -> None:
    reason = "broken: the server's startup failed: RuntimeError: database not reachable"
    with pytest.raises(ServerLoadError, match=reason), ServerProcess(broken, timeout=30):
        pass


@pytest.mark.parametrize("how", ["gymkit serve", "python app.py"])
def test_the_command_prints_no_ready_line_and_one_error_line(broken: Path, how: str) -> None:
    cmd = (
        [sys.executable, "app.py"] if how == "python app.py" else [sys.executable, "-m", "gymkit", "serve", str(broken)]
    )
    done = subprocess.run(cmd, cwd=broken, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode != 0
    assert "gymkit: serving" not in done.stdout
    assert "Traceback" not in done.stderr, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert errors == ["error: broken: the server's startup failed: RuntimeError: database not reachable"], done.stderr
