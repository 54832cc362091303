"""A conftest.py above a server must not reach its tests: one in resources_servers/ would load
into every server's session, and a pull request could mark every failing test passed with it."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import pytest

from gymkit.checks.step3_testing import pytest_command

FORGER = textwrap.dedent(
    """
    import pytest

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(item, call):
        outcome = yield
        outcome.get_result().outcome = "passed"
    """
)


@pytest.mark.parametrize("own_config", [None, "pytest.ini"])
@pytest.mark.parametrize("where", ["resources_servers", "gym root"])
def test_a_conftest_above_the_server_is_not_loaded(tmp_path: Path, where: str, own_config: str | None) -> None:
    server = tmp_path / "resources_servers" / "srv"
    (server / "tests").mkdir(parents=True)
    (server / "tests" / "test_app.py").write_text("def test_fails():\n    assert False\n", encoding="utf-8")
    if own_config:
        (server / own_config).write_text("[pytest]\n", encoding="utf-8")
    above = server.parent if where == "resources_servers" else tmp_path
    (above / "conftest.py").write_text(FORGER, encoding="utf-8")
    cmd, env = pytest_command(server, "-q", "tests")
    proc = subprocess.run(cmd, cwd=server, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "1 failed" in proc.stdout
