"""server_code_sha256 changes with what decides a reward, and only with that."""

from __future__ import annotations

from pathlib import Path

import pytest

from gymkit.hashing import server_code_sha256

CONFIG = """\
adder_resources_server:
  resources_servers:
    adder:
      entrypoint: app.py
      domain: math
      tolerance: 0.01
      gymkit:
        waive:
          GYM601: no GPU here
"""


@pytest.fixture
def server(tmp_path: Path) -> Path:
    folder = tmp_path / "adder"
    (folder / "configs").mkdir(parents=True)
    (folder / "data").mkdir()
    (folder / "tests").mkdir()
    (folder / "app.py").write_text("server = None\n")
    (folder / "requirements.txt").write_text("")
    (folder / "configs" / "adder.yaml").write_text(CONFIG)
    (folder / "data" / "example.jsonl").write_text("{}\n")
    return folder


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


@pytest.mark.parametrize(
    ("file", "old", "new"),
    [
        ("app.py", "server = None", "server = 1"),
        ("requirements.txt", "", "numpy==2.0.0\n"),
        ("configs/adder.yaml", "tolerance: 0.01", "tolerance: 0.1"),
        ("configs/adder.yaml", "domain: math", "domain: coding"),
    ],
)
def test_what_decides_a_reward_changes_the_hash(server: Path, file: str, old: str, new: str) -> None:
    before = server_code_sha256(server)
    _edit(server / file, old, new)
    assert server_code_sha256(server) != before


@pytest.mark.parametrize(
    ("file", "old", "new"),
    [
        ("configs/adder.yaml", "no GPU here", "training needs a GPU and none was available"),
        ("configs/adder.yaml", "GYM601: no GPU here", "GYM601: no GPU here\n          GYM503: CPU only"),
        ("configs/adder.yaml", "      domain: math\n", "      # why math: see README\n      domain: math\n"),
        ("data/example.jsonl", "{}", '{"a": 1}'),
        ("tests", None, None),
    ],
)
def test_waivers_comments_data_and_tests_do_not(server: Path, file: str, old: str | None, new: str | None) -> None:
    before = server_code_sha256(server)
    if old is None:
        (server / file / "test_app.py").write_text("def test(): pass\n")
    else:
        _edit(server / file, old, new or "")
    assert server_code_sha256(server) == before


def test_a_broken_config_still_counts_by_its_bytes(server: Path) -> None:
    config = server / "configs" / "adder.yaml"
    config.write_text("key: [unclosed\n")
    before = server_code_sha256(server)
    config.write_text("key: [unclosed, more\n")
    assert server_code_sha256(server) != before
