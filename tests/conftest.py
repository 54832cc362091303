from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
UPSTREAM = FIXTURES / "upstream"
SERVERS = FIXTURES / "servers"


@pytest.fixture(autouse=True)
def _plain_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Stable CLI output: no colour codes, a fixed width."""
    for var in ("FORCE_COLOR", "CLICOLOR_FORCE", "GITHUB_ACTIONS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "120")
    monkeypatch.setenv("TERM", "dumb")


@pytest.fixture
def fixture_server(tmp_path: Path) -> Callable[[str], Path]:
    """Copy a server from tests/fixtures/servers into a temp resources_servers/ tree."""

    def copy(name: str) -> Path:
        target = tmp_path / "resources_servers" / name
        shutil.copytree(SERVERS / name, target)
        return target

    return copy
