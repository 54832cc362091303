"""Steps 1 and 2 follow NeMo Gym's own rules in a NeMo Gym checkout, and gymkit's elsewhere.

Each test writes the complete `good` server into a temporary gym, turns the gym into a NeMo
Gym checkout (a `nemo_gym` package and a pyproject naming the project) or leaves it a gymkit
gym, changes what the rule is about, and runs the one check on it.
"""

from __future__ import annotations

import inspect
import json
import threading
from pathlib import Path

import pytest

from gymkit.checks import CheckOptions, run_checks
from gymkit.contribution import licenses
from gymkit.contribution.licenses import parse_spdx
from gymkit.findings import Finding
from tests.checks.conftest import build_server

OPTIONS = CheckOptions(reverify=False)
GYMS = ["nemo-gym", "gymkit"]


def make_nemo_checkout(root: Path) -> None:
    """``root`` as gymkit tells a NeMo Gym checkout: its ``nemo_gym`` package and a pyproject naming it."""
    (root / "nemo_gym").mkdir()
    (root / "nemo_gym" / "__init__.py").write_text("")
    (root / "pyproject.toml").write_text('[project]\nname = "nemo-gym"\nversion = "0.5.0"\n')


def make_gym(root: Path, gym: str) -> Path:
    server = build_server(root)
    if gym == "nemo-gym":
        make_nemo_checkout(root)
    return server


def findings(server: Path, code: str) -> list[Finding]:
    report = run_checks(server, options=OPTIONS, select=[code])
    return [f for f in report.findings if f.code == code]


def statuses(server: Path, code: str) -> set[str]:
    return {str(f.status) for f in findings(server, code)}


def write(server: Path, rel: str, text: str) -> None:
    path = server / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(inspect.cleandoc(text) + "\n")


def rows(server: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (server / "data" / "example.jsonl").read_text().splitlines()]


def write_rows(server: Path, data: list[dict[str, object]]) -> None:
    (server / "data" / "example.jsonl").write_text("".join(json.dumps(r) + "\n" for r in data))


# --- step 1 -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("gym", "expected"), [("nemo-gym", {"pass"}), ("gymkit", {"fail"})])
def test_gym102_empty_input_is_the_environments_prompt_in_nemo_gym(
    tmp_path: Path, gym: str, expected: set[str]
) -> None:
    server = make_gym(tmp_path, gym)
    data = rows(server)
    for row in data:
        row["responses_create_params"] = {"input": []}
        row["task_idx"] = data.index(row)
    write_rows(server, data)
    assert statuses(server, "GYM102") == expected


@pytest.mark.parametrize(("gym", "expected"), [("nemo-gym", {"warn"}), ("gymkit", {"fail"})])
def test_gym102_repeated_rows_only_warn_in_nemo_gym(tmp_path: Path, gym: str, expected: set[str]) -> None:
    server = make_gym(tmp_path, gym)
    data = rows(server)
    write_rows(server, [data[0]] * 5)
    assert statuses(server, "GYM102") == expected


@pytest.mark.parametrize(("gym", "count", "expected"), [("nemo-gym", 6, "fail"), ("gymkit", 6, "pass")])
def test_gym104_nemo_gym_wants_exactly_five_rows(tmp_path: Path, gym: str, count: int, expected: str) -> None:
    server = make_gym(tmp_path, gym)
    data = rows(server)
    extra = dict(data[0], expected_answer="-1")
    write_rows(server, (data + [extra] * count)[:count] if count > len(data) else data[:count])
    found = findings(server, "GYM104")
    assert {str(f.status) for f in found} == {expected}
    if expected == "fail":
        assert "6 lines" in found[0].message and "exactly 5" in found[0].message


def test_gym104_passes_five_rows_in_nemo_gym(tmp_path: Path) -> None:
    server = make_gym(tmp_path, "nemo-gym")
    write_rows(server, rows(server)[:5])
    assert statuses(server, "GYM104") == {"pass"}


@pytest.mark.parametrize("gym", GYMS)
def test_gym105_refuses_merge_conflict_files(tmp_path: Path, gym: str) -> None:
    server = make_gym(tmp_path, gym)
    assert statuses(server, "GYM105") == {"pass"}
    (server / "data" / "example_conflict_1.jsonl").write_text("{}\n")
    found = findings(server, "GYM105")
    assert [(str(f.status), f.file) for f in found] == [("fail", "data/example_conflict_1.jsonl")]


SECONDARY = """
    variant_resources_server:
      resources_servers:
        good:
          domain: math
    variant_agent:
      responses_api_agents:
        simple_agent:
          resources_server: {type: resources_servers, name: variant_resources_server}
          model_server: {type: responses_api_models, name: policy_model}
          datasets:
            - {name: big_train, type: train, jsonl_fpath: x.jsonl, license: LICENCE}
"""


@pytest.mark.parametrize("gym", GYMS)
def test_gym103_reads_every_config_file_for_tbd_licences(tmp_path: Path, gym: str) -> None:
    server = make_gym(tmp_path, gym)
    assert statuses(server, "GYM103") == {"pass"}
    write(server, "configs/variant.yaml", SECONDARY.replace("LICENCE", "TBD"))
    found = findings(server, "GYM103")
    # NeMo Gym's DatasetConfig accepts "TBD": there it is gymkit's rule, and a warning that says so.
    expected = "warn" if gym == "nemo-gym" else "fail"
    assert [(str(f.status), f.file) for f in found] == [(expected, "configs/variant.yaml")]
    assert "'big_train' has licence TBD" in found[0].message
    assert ("NeMo Gym's config schema accepts TBD" in found[0].message) == (gym == "nemo-gym")


@pytest.mark.parametrize("gym", GYMS)
def test_gym103_warns_of_a_gpl_train_set_in_a_secondary_config(tmp_path: Path, gym: str) -> None:
    server = make_gym(tmp_path, gym)
    write(server, "configs/variant.yaml", SECONDARY.replace("LICENCE", "GNU General Public License v3.0"))
    found = findings(server, "GYM103")
    assert [(str(f.status), f.file) for f in found] == [("warn", "configs/variant.yaml")]
    assert "GPL-3.0" in found[0].message


@pytest.mark.parametrize(("gym", "expected"), [("nemo-gym", "warn"), ("gymkit", "fail")])
def test_gym103_benchmark_only_server_warns_in_nemo_gym(tmp_path: Path, gym: str, expected: str) -> None:
    server = make_gym(tmp_path, gym)
    config = server / "configs" / "good.yaml"
    text = config.read_text()
    cut = text.index("        - name: train")
    config.write_text(text[:cut])
    found = [f for f in findings(server, "GYM103") if "train" in f.message]
    assert [str(f.status) for f in found] == [expected]


# --- step 2: configs ---------------------------------------------------------------------------


def _split_configs(server: Path) -> None:
    """Two variant files, neither named like the folder, as upstream's multi-config servers have."""
    text = (server / "configs" / "good.yaml").read_text()
    (server / "configs" / "good.yaml").unlink()
    (server / "configs" / "good_a.yaml").write_text(text)
    (server / "configs" / "good_b.yaml").write_text(text)


@pytest.mark.parametrize(("gym", "expected"), [("nemo-gym", {"pass"}), ("gymkit", {"fail"})])
def test_gym201_several_configs_are_upstreams_variants(tmp_path: Path, gym: str, expected: set[str]) -> None:
    server = make_gym(tmp_path, gym)
    _split_configs(server)
    assert statuses(server, "GYM201") == expected


UPSTREAM_SHAPES = """
    judge_base_url: ${policy_base_url}
    judge_model_name: ${policy_model_name}
    good_resources_server:
      resources_servers:
        good:
          entrypoint: app.py
          domain: math
          judge_model_server: {type: responses_api_models, name: judge_model}
    judge_model:
      responses_api_models:
        vllm_model:
          base_url: ${judge_base_url}
    good_agent:
      responses_api_agents:
        simple_agent:
          resources_server: {type: resources_servers, name: good_resources_server}
          datasets:
            - {name: train, type: train, jsonl_fpath: t.jsonl, license: MIT}
"""


def test_gym202_accepts_upstream_config_shapes_in_nemo_gym(tmp_path: Path) -> None:
    server = make_gym(tmp_path, "nemo-gym")
    write(server, "configs/good.yaml", UPSTREAM_SHAPES)
    # A model-only file, as upstream keeps next to the server's own.
    write(server, "configs/judge.yaml", "judge_model:\n  responses_api_models:\n    vllm_model:\n      model: x")
    assert statuses(server, "GYM202") == {"pass"}


def test_gym202_keeps_gymkit_configs_strict(tmp_path: Path) -> None:
    server = make_gym(tmp_path, "gymkit")
    write(server, "configs/good.yaml", UPSTREAM_SHAPES)
    assert statuses(server, "GYM202") == {"fail"}


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("domain: math", "verified: false"), "no `domain`"),
        (("domain: math", "domain: cooking"), "unknown domain 'cooking'"),
        (("license: MIT", "source: {}"), "has no `license`"),
        (("license: MIT", "license: WTFPL"), "unknown license 'WTFPL'"),
    ],
)
def test_gym202_finds_what_nemo_gym_refuses_in_any_config_file(
    tmp_path: Path, edit: tuple[str, str], message: str
) -> None:
    server = make_gym(tmp_path, "nemo-gym")
    write(server, "configs/variant.yaml", UPSTREAM_SHAPES.replace(*edit))
    found = findings(server, "GYM202")
    assert [(str(f.status), f.file) for f in found] == [("fail", "configs/variant.yaml")]
    assert message in found[0].message


# --- step 2: app.py, requirements, self-containment, headers ------------------------------------

BASE_WITH_VERIFY = """
    from gymkit import BaseResourcesServer, BaseVerifyResponse


    class ScoredServer(BaseResourcesServer):
        async def verify(self, body):
            return BaseVerifyResponse(**body.model_dump(), reward=1.0)
"""
SUBCLASS = """
    from BASE_MODULE import ScoredServer


    class AdditionServer(ScoredServer):
        pass


    server = AdditionServer()
"""


@pytest.mark.parametrize("gym", GYMS)
def test_gym203_verify_inherited_from_a_module_of_the_server(tmp_path: Path, gym: str) -> None:
    server = make_gym(tmp_path, gym)
    write(server, "scored.py", BASE_WITH_VERIFY)
    write(server, "app.py", SUBCLASS.replace("BASE_MODULE", "scored"))
    assert statuses(server, "GYM203") == {"pass"}


def test_gym203_verify_inherited_from_another_servers_package(tmp_path: Path) -> None:
    server = make_gym(tmp_path, "nemo-gym")
    write(tmp_path / "resources_servers" / "shared", "__init__.py", "from .base import ScoredServer")
    write(tmp_path / "resources_servers" / "shared", "base.py", BASE_WITH_VERIFY)
    write(server, "app.py", SUBCLASS.replace("BASE_MODULE", "resources_servers.shared"))
    assert statuses(server, "GYM203") == {"pass"}


@pytest.mark.parametrize("gym", GYMS)
def test_gym203_an_abstract_verify_is_no_verify(tmp_path: Path, gym: str) -> None:
    server = make_gym(tmp_path, gym)
    abstract = BASE_WITH_VERIFY.replace("    async def", "    @abstractmethod\n        async def")
    write(server, "scored.py", "from abc import abstractmethod\n" + inspect.cleandoc(abstract))
    write(server, "app.py", SUBCLASS.replace("BASE_MODULE", "scored"))
    found = findings(server, "GYM203")
    assert [str(f.status) for f in found] == ["fail"] and "defines or inherits" in found[0].message


@pytest.mark.parametrize("gym", GYMS)
def test_gym204_a_pyproject_declares_the_dependencies(tmp_path: Path, gym: str) -> None:
    server = make_gym(tmp_path, gym)
    (server / "requirements.txt").unlink()
    assert statuses(server, "GYM204") == {"fail"}
    write(server, "pyproject.toml", '[project]\nname = "good"\nversion = "0"\ndependencies = []')
    assert statuses(server, "GYM204") == {"pass"}


@pytest.mark.parametrize(
    ("gym", "line", "expected"),
    [
        ("nemo-gym", "-e nemo-gym[dev] @ ../../", {"pass"}),
        ("nemo-gym", "-e ../../", {"pass"}),
        ("gymkit", "-e ../../", {"fail"}),
    ],
)
def test_gym205_nemo_gym_installs_its_own_checkout(tmp_path: Path, gym: str, line: str, expected: set[str]) -> None:
    server = make_gym(tmp_path, gym)
    write(server, "requirements.txt", line)
    assert statuses(server, "GYM205") == expected


def test_gym205_still_refuses_other_paths_out_of_the_server_in_nemo_gym(tmp_path: Path) -> None:
    server = make_gym(tmp_path, "nemo-gym")
    write(server, "requirements.txt", "-e nemo-gym[dev] @ ../../\n-e ../other_server")
    found = findings(server, "GYM205")
    assert [(str(f.status), f.line) for f in found] == [("fail", 2)]


HEADER = (
    "# SPDX-FileCopyrightText: Copyright (c) 2026 NVIDIA CORPORATION & AFFILIATES. All rights reserved.\n"
    "# SPDX-License-Identifier: Apache-2.0\n"
)


@pytest.mark.parametrize(("gym", "expected"), [("nemo-gym", "fail"), ("gymkit", "pass")])
def test_gym206_python_files_carry_the_licence_header_in_nemo_gym(tmp_path: Path, gym: str, expected: str) -> None:
    server = make_gym(tmp_path, gym)
    for path in server.rglob("*.py"):
        if path.name != "app.py" and path.stat().st_size:
            path.write_text(HEADER + path.read_text())
    (server / "__init__.py").write_text("")  # an empty file has nothing to head
    found = findings(server, "GYM206")
    assert [(str(f.status), f.file) for f in found] == [(expected, "app.py" if expected == "fail" else None)]
    (server / "app.py").write_text(HEADER + (server / "app.py").read_text())
    assert statuses(server, "GYM206") == {"pass"}


# --- step 2: README ----------------------------------------------------------------------------

UPSTREAM_README = """
    # Description
    Addition problems with two small integers.

    Data links: data/train.jsonl

    # Licensing information
    Code: Apache 2.0
    Data: MIT

    Dependencies
    - nemo_gym: Apache 2.0
"""


def _readme_findings(server: Path) -> dict[str, set[str]]:
    report = run_checks(server, options=OPTIONS, select=["GYM21"])
    out: dict[str, set[str]] = {}
    for f in report.findings:
        out.setdefault(f.code, set()).add(str(f.status))
    return out


def test_readme_from_upstreams_template_only_warns_in_nemo_gym(tmp_path: Path) -> None:
    server = make_gym(tmp_path, "nemo-gym")
    write(server, "README.md", UPSTREAM_README)
    found = _readme_findings(server)
    assert not any("fail" in s for s in found.values()), found
    # Where gymkit asks more (more sections, a Dependencies: label) it says so; 'Apache 2.0' is Apache-2.0.
    assert found["GYM210"] == {"warn"} and found["GYM211"] == {"warn"}
    assert found["GYM213"] == {"pass"} and found["GYM214"] == {"pass"}


def test_a_copyleft_licence_written_by_its_name_still_fails_in_nemo_gym(tmp_path: Path) -> None:
    # 42 of v0.5.0's 50 code licence lines name their licence as the template does; GYM214 read none of them.
    server = make_gym(tmp_path, "nemo-gym")
    write(server, "README.md", UPSTREAM_README.replace("Code: Apache 2.0", "Code: GPL 3.0"))
    found = findings(server, "GYM214")
    assert [(str(f.status), f.message.split(";")[0]) for f in found] == [
        ("fail", "code licence GPL 3.0 is copyleft (GPL-3.0-only)")
    ]


def test_a_licence_name_in_gymkits_gym_fails_naming_its_spdx_identifier(tmp_path: Path) -> None:
    server = make_gym(tmp_path, "gymkit")
    readme = server / "README.md"
    readme.write_text(readme.read_text().replace("Code licence: Apache-2.0", "Code licence: Apache 2.0"))
    [found] = findings(server, "GYM213")
    assert found.status == "fail" and found.message.endswith("; by its name it is Apache-2.0: write that")


def test_readme_from_upstreams_template_fails_gymkits_rules(tmp_path: Path) -> None:
    server = make_gym(tmp_path, "gymkit")
    write(server, "README.md", UPSTREAM_README)
    assert _readme_findings(server)["GYM210"] == {"fail"}


def test_gym210_a_readme_without_licensing_fails_in_nemo_gym(tmp_path: Path) -> None:
    server = make_gym(tmp_path, "nemo-gym")
    write(server, "README.md", "# Description\nAddition problems.")
    found = [f for f in findings(server, "GYM210") if f.status == "fail"]
    assert len(found) == 1 and "Licensing information" in found[0].message


@pytest.mark.parametrize(("gym", "expected"), [("nemo-gym", {"fail"}), ("gymkit", {"warn"})])
def test_gym214_nemo_gym_takes_no_lgpl_code(tmp_path: Path, gym: str, expected: set[str]) -> None:
    server = make_gym(tmp_path, gym)
    readme = server / "README.md"
    readme.write_text(readme.read_text().replace("Code licence: Apache-2.0", "Code licence: LGPL-3.0-only"))
    assert statuses(server, "GYM214") == expected


def test_gymkit_new_in_a_nemo_checkout_passes_steps_1_and_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from gymkit.cli import app

    make_nemo_checkout(tmp_path)
    (tmp_path / "resources_servers").mkdir()
    monkeypatch.chdir(tmp_path)
    made = CliRunner().invoke(app, ["new", "sudoku", "--defaults", "--data-license", "MIT"])
    assert made.exit_code == 0, made.output
    report = run_checks(tmp_path / "resources_servers" / "sudoku", options=OPTIONS, select=["GYM1", "GYM2"])
    assert not [f for f in report.findings if f.status == "fail"]
    assert {f.code for f in report.findings} >= {"GYM104", "GYM206"}


@pytest.mark.parametrize("gym", GYMS)
def test_a_licence_label_over_a_bullet_list_is_no_placeholder(tmp_path: Path, gym: str) -> None:
    server = make_gym(tmp_path, gym)
    readme = server / "README.md"
    readme.write_text(readme.read_text().replace("- Data licence: MIT", "- Data licence:\n  - addition tasks: MIT"))
    assert statuses(server, "GYM212") == {"pass"}
    assert statuses(server, "GYM215") == {"pass"}  # the list's licence is the one the config declares
    readme.write_text(readme.read_text().replace("  - addition tasks: MIT", ""))
    found = findings(server, "GYM212")
    assert [(str(f.status), f.message) for f in found] == [("fail", "placeholder left: '- Data licence:'")]


# --- the SPDX reader is shared by the servers `gymkit check -j` checks at once ----------------

SPDX_TEXTS = ["Apache 2.0", "MIT", "Apache-2.0", "CC BY 4.0", "MIT OR Apache-2.0", "Apache License 2.0", "GPL-3.0-only"]
SPDX_THREADS = 4


def test_parsing_from_several_threads_gives_what_one_thread_gives() -> None:
    expected = {text: parse_spdx(text)[1] is None for text in SPDX_TEXTS}
    errors: list[str] = []
    wrong: list[str] = []
    # A fresh reader each round: the race was in the reader's first parses, when it builds its tables.
    for _ in range(20):
        licenses._licensing.cache_clear()
        barrier = threading.Barrier(SPDX_THREADS)

        def parse_all(texts: list[str], barrier: threading.Barrier = barrier) -> None:
            barrier.wait(timeout=30)
            for text in texts:
                try:
                    valid = parse_spdx(text)[1] is None
                except Exception as exc:  # noqa: BLE001 - the failure under test
                    errors.append(f"{text}: {exc!r}")
                    continue
                if valid != expected[text]:
                    wrong.append(text)

        threads = [threading.Thread(target=parse_all, args=(SPDX_TEXTS * 10,)) for _ in range(SPDX_THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert not errors and not wrong, (errors[:3], wrong[:3])
