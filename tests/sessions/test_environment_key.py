"""What a server's environment is fingerprinted by: its requirements, including the files they include."""

from __future__ import annotations

from pathlib import Path

from gymkit.testing.environment import environment_key, gymkit_source

REPO = Path(__file__).resolve().parents[2]


def _key(server: Path) -> str:
    return environment_key(server, gymkit_source(REPO))


def test_a_pin_in_an_included_file_changes_the_key(tmp_path: Path) -> None:
    server = tmp_path / "server"
    (server / "reqs").mkdir(parents=True)
    (server / "requirements.txt").write_text("-r reqs/base.txt\n--constraint=reqs/pins.txt\nrequests\n")
    (server / "reqs" / "base.txt").write_text("six==1.16.0\n-r base.txt\n")  # a cycle is read once
    (server / "reqs" / "pins.txt").write_text("idna<4\n")
    first = _key(server)
    assert _key(server) == first
    (server / "reqs" / "base.txt").write_text("six==1.17.0\n-r base.txt\n")
    second = _key(server)
    assert second != first
    (server / "reqs" / "pins.txt").write_text("idna<3\n")
    assert _key(server) != second


def test_no_requirements_file_still_has_a_key(tmp_path: Path) -> None:
    (tmp_path / "bare").mkdir()
    assert len(_key(tmp_path / "bare")) == 64


def test_a_local_wheel_or_path_dependency_changing_changes_the_key(tmp_path: Path) -> None:
    server = tmp_path / "server"
    (server / "vendor").mkdir(parents=True)
    (server / "pkg").mkdir()
    (server / "requirements.txt").write_text("grader @ file:./vendor/grader-0.1-py3-none-any.whl\n-e ./pkg\n")
    (server / "vendor" / "grader-0.1-py3-none-any.whl").write_bytes(b"first build")
    (server / "pkg" / "setup.py").write_text("print('one')\n")
    first = _key(server)
    (server / "vendor" / "grader-0.1-py3-none-any.whl").write_bytes(b"second build, same name")
    second = _key(server)
    assert second != first
    (server / "pkg" / "setup.py").write_text("print('two')\n")
    assert _key(server) != second
