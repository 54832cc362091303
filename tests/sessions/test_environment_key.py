"""What a server's environment is fingerprinted by: its requirements, including the files they include."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def noxfile() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gymkit_noxfile", REPO / "noxfile.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_pin_in_an_included_file_changes_the_key(noxfile: ModuleType, tmp_path: Path) -> None:
    server = tmp_path / "server"
    (server / "reqs").mkdir(parents=True)
    (server / "requirements.txt").write_text("-r reqs/base.txt\n--constraint=reqs/pins.txt\nrequests\n")
    (server / "reqs" / "base.txt").write_text("six==1.16.0\n-r base.txt\n")  # a cycle is read once
    (server / "reqs" / "pins.txt").write_text("idna<4\n")
    first = noxfile._environment_key(server)
    assert noxfile._environment_key(server) == first
    (server / "reqs" / "base.txt").write_text("six==1.17.0\n-r base.txt\n")
    second = noxfile._environment_key(server)
    assert second != first
    (server / "reqs" / "pins.txt").write_text("idna<3\n")
    assert noxfile._environment_key(server) != second


def test_no_requirements_file_still_has_a_key(noxfile: ModuleType, tmp_path: Path) -> None:
    (tmp_path / "bare").mkdir()
    assert len(noxfile._environment_key(tmp_path / "bare")) == 64
