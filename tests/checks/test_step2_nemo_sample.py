"""Step 2 findings a hand-labelled sample of NeMo Gym v0.4.0 and v0.5.0 found false, held as fixed.

Each case is the shape of a real upstream file: grl_sokoban's `sokoban_env/__init__.py` (no
notice, which upstream's copyright check never reads), terminus_judge's `scripts/prepare.py`
(the checkout's root on the import path, as ng_test puts it), code_fim's README quoting
`<fill>` as code, text_to_sql's `TODO` in prose.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.checks.test_nemo_rules_steps12 import HEADER, findings, make_gym, statuses, write


def _headed(server: Path) -> None:
    for path in server.rglob("*.py"):
        path.write_text(HEADER + path.read_text())


# --- GYM206: NeMo Gym's copyright check, as its workflow runs it --------------------------------


def test_gym206_does_not_read_init_files_as_upstreams_check_does_not(tmp_path: Path) -> None:
    server = make_gym(tmp_path, "nemo-gym")
    _headed(server)
    write(server, "sokoban_env/__init__.py", 'from .env import SokobanEnv\n\n__all__ = ["SokobanEnv"]')
    write(server, "sokoban_env/env.py", HEADER + "class SokobanEnv: ...")
    assert statuses(server, "GYM206") == {"pass"}


def test_gym206_reads_the_first_ten_lines_only(tmp_path: Path) -> None:
    server = make_gym(tmp_path, "nemo-gym")
    _headed(server)
    (server / "late.py").write_text('"""A module."""\n' + "\n" * 9 + HEADER + "X = 1\n")
    found = findings(server, "GYM206")
    assert [(str(f.status), f.file) for f in found] == [("fail", "late.py")]


@pytest.mark.parametrize(
    ("notice", "expected"),
    [
        ("# Copyright (c) 2024 NVIDIA CORPORATION.  All rights reserved.", "pass"),
        ("# Copyright 2023 The Authors\n# Licensed under the Apache License, Version 2.0", "pass"),
        ("# MIT License\n# Copyright (c) 2022 Someone", "pass"),
        ("# SPDX-License-Identifier: Apache-2.0", "fail"),  # no copyright line: upstream's check refuses it
        ("# Copyright 2022 Someone", "fail"),
    ],
)
def test_gym206_takes_the_notices_upstreams_check_takes(tmp_path: Path, notice: str, expected: str) -> None:
    server = make_gym(tmp_path, "nemo-gym")
    _headed(server)
    write(server, "vendored.py", notice + "\nX = 1")
    found = [str(f.status) for f in findings(server, "GYM206") if f.file == "vendored.py" or f.status == "pass"]
    assert found == [expected]


# --- GYM205: the checkout's root on the import path ---------------------------------------------

PREPARE = """
    import sys
    from pathlib import Path

    GYM_ROOT = Path(__file__).resolve().parents[3]
    if str(GYM_ROOT) not in sys.path:
        sys.path.insert(0, str(GYM_ROOT))
"""


@pytest.mark.parametrize(("gym", "expected"), [("nemo-gym", "warn"), ("gymkit", "fail")])
def test_gym205_an_import_path_out_of_the_server_only_warns_in_nemo_gym(
    tmp_path: Path, gym: str, expected: str
) -> None:
    server = make_gym(tmp_path, gym)
    write(server, "scripts/prepare.py", PREPARE)
    found = findings(server, "GYM205")
    assert [(str(f.status), f.file, f.line) for f in found] == [(expected, "scripts/prepare.py", 6)]
    if gym == "nemo-gym":
        assert "NeMo Gym runs servers from its checkout" in found[0].message


# --- GYM212: what is a placeholder ------------------------------------------------------------


def _add_to_description(server: Path, text: str) -> None:
    readme = server / "README.md"
    lines = readme.read_text().splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("## Description")) + 1
    readme.write_text("\n".join([*lines[:at], "", text, *lines[at:]]) + "\n")


@pytest.mark.parametrize(("gym", "unquoted"), [("nemo-gym", "warn"), ("gymkit", "fail")])
def test_gym212_a_placeholder_quoted_as_code_is_the_texts_subject(tmp_path: Path, gym: str, unquoted: str) -> None:
    server = make_gym(tmp_path, gym)
    _add_to_description(server, "1. Drop one leading `\\n` (LLMs emit ` ```python\\n<fill>``` `); `TODO` stays.")
    assert statuses(server, "GYM212") == {"pass"}
    _add_to_description(server, "Write <fill> here.")
    assert statuses(server, "GYM212") == {unquoted}


@pytest.mark.parametrize(("gym", "expected"), [("nemo-gym", "warn"), ("gymkit", "fail")])
def test_gym212_a_todo_in_prose_only_warns_in_nemo_gym(tmp_path: Path, gym: str, expected: str) -> None:
    server = make_gym(tmp_path, gym)
    _add_to_description(server, "More dialects planned (TODO: Oracle, SQL Server).")
    found = findings(server, "GYM212")
    assert [(str(f.status), f.message.split(" (")[0]) for f in found] == [(expected, "placeholder left: 'TODO'")]


@pytest.mark.parametrize("value", ["TBD", "?"])
def test_gym212_a_licensing_line_without_a_licence_fails_in_nemo_gym(tmp_path: Path, value: str) -> None:
    server = make_gym(tmp_path, "nemo-gym")
    readme = server / "README.md"
    readme.write_text(readme.read_text().replace("- Data licence: MIT", f"- Data licence: {value}"))
    assert statuses(server, "GYM212") == {"fail"}
