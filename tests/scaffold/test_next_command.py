"""What `gymkit new` tells a contributor to run next names the gym's own test command."""

from __future__ import annotations

from pathlib import Path

from gymkit.cli.new import _test_command


def _server(root: Path, name: str = "my_task") -> Path:
    folder = root / "resources_servers" / name
    folder.mkdir(parents=True)
    return folder


def test_in_a_nemo_gym_checkout_it_is_ng_test(tmp_path: Path) -> None:
    (tmp_path / "nemo_gym").mkdir()
    (tmp_path / "nemo_gym" / "__init__.py").write_text("")
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "nemo-gym"\n')
    assert _test_command(_server(tmp_path), "my_task") == "ng_test +entrypoint=resources_servers/my_task"


def test_with_gymkit_s_noxfile_it_is_the_nox_session(tmp_path: Path) -> None:
    (tmp_path / "noxfile.py").write_text('@nox.session(name="test-server")\n')
    assert _test_command(_server(tmp_path), "my_task") == 'nox -s "test-server(my_task)"'


def test_elsewhere_it_is_gymkit_test(tmp_path: Path) -> None:
    assert _test_command(_server(tmp_path), "my_task") == "gymkit test my_task"
