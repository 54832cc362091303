"""Every check passes on the complete server and fails (or warns) on a server broken for it."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from gymkit.checks import CheckOptions, ServerReport, all_checks, run_checks
from tests.checks.conftest import build_server, prompt_shares, write_reports
from tests.checks.test_nemo_rules_steps12 import make_nemo_checkout

OPTIONS = CheckOptions(verify_timeout=5)


@pytest.fixture(scope="module")
def good_report(tmp_path_factory: pytest.TempPathFactory) -> ServerReport:
    server = build_server(tmp_path_factory.mktemp("good"))
    # GYM303 reads the result of a real test session, as CI runs it before the checklist.
    subprocess.run([sys.executable, "-m", "gymkit", "test", str(server)], capture_output=True, check=True, timeout=600)
    return run_checks(server, options=OPTIONS)


@pytest.mark.parametrize("code", [c.code() for c in all_checks()])
def test_check_passes_on_the_complete_server(good_report: ServerReport, code: str) -> None:
    findings = [f for f in good_report.findings if f.code == code]
    assert findings and all(f.status == "pass" for f in findings), findings


def _edit(path: str, old: str, new: str, count: int = 1) -> Callable[[Path], None]:
    def edit(server: Path) -> None:
        text = (server / path).read_text()
        assert old in text, f"{old!r} not in {path}"
        (server / path).write_text(text.replace(old, new, count))

    return edit


def _remove(path: str) -> Callable[[Path], None]:
    def remove(server: Path) -> None:
        target = server / path
        shutil.rmtree(target) if target.is_dir() else target.unlink()

    return remove


def _rollouts(change: Callable[[list[dict]], None]) -> Callable[[Path], None]:
    def edit(server: Path) -> None:
        path = server / "data" / "example_rollouts.jsonl"
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        change(rows)
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))

    return edit


def _write(path: str, text: str) -> Callable[[Path], None]:
    def write(server: Path) -> None:
        (server / path).parent.mkdir(parents=True, exist_ok=True)
        (server / path).write_text(text)

    return write


def _reports(**keys: object) -> Callable[[Path], None]:
    def edit(server: Path) -> None:
        write_reports(server, **keys)  # type: ignore[arg-type]

    return edit


def _drop_readme_section(title: str) -> Callable[[Path], None]:
    def edit(server: Path) -> None:
        text = (server / "README.md").read_text()
        (server / "README.md").write_text(re.sub(rf"## {title}\n.*?(?=\n## )", "", text, flags=re.S))

    return edit


def _first_row(key: str, value: object) -> Callable[[list[dict]], None]:
    def change(rows: list[dict]) -> None:
        rows[0][key] = value

    return change


def _duplicate_first_example(server: Path) -> None:
    path = server / "data" / "example.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join([*lines, lines[0]]))


def _in_nemo_gym(then: Callable[[Path], None]) -> Callable[[Path], None]:
    def edit(server: Path) -> None:
        make_nemo_checkout(server.parent.parent)
        then(server)

    return edit


def _tool_error(rows: list[dict]) -> None:
    rows[0]["response"]["output"][:0] = [
        {"type": "function_call", "call_id": "c1", "name": "lookup", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": '{"error": "unknown tool lookup"}'},
    ]


BREAKS: dict[str, tuple[Callable[[Path], None], str]] = {
    "GYM101": (_remove("data/example.jsonl"), "example.jsonl is missing"),
    "GYM102": (_duplicate_first_example, "same row as line 1"),
    "GYM103": (_edit("configs/good.yaml", "type: train", "type: benchmark"), "no dataset of type train"),
    "GYM104": (_in_nemo_gym(_duplicate_first_example), "requires exactly 5"),
    "GYM105": (_write("data/train_conflict.jsonl", "{}\n"), "merge-conflict file"),
    "GYM201": (_remove("configs"), "no configs/"),
    "GYM202": (_edit("configs/good.yaml", "domain: math", "domain: cooking"), "'cooking' is not allowed"),
    "GYM203": (_edit("app.py", "async def verify", "async def score"), "async def verify"),
    "GYM204": (_remove("requirements.txt"), "requirements.txt is missing"),
    "GYM205": (_write("requirements.txt", "-r ../shared/requirements.txt\n"), "'../shared/requirements.txt' points"),
    "GYM206": (_in_nemo_gym(lambda server: None), "no copyright"),
    "GYM209": (
        _edit("configs/good.yaml", "verified: false", 'verified: false\n      gymkit: {waive: {GYM501: ""}}'),
        "no written reason",
    ),
    "GYM210": (_drop_readme_section("Verification logic"), "no '## Verification logic' section"),
    "GYM211": (_edit("README.md", "- Dependencies: gymkit (Apache-2.0)\n", ""), "no 'Dependencies:' line"),
    "GYM212": (_edit("README.md", "Single-turn addition", "TODO: Single-turn addition"), "placeholder left"),
    "GYM213": (_edit("README.md", "Code licence: Apache-2.0", "Code licence: Apache 2"), "not a valid SPDX"),
    "GYM214": (_edit("README.md", "Code licence: Apache-2.0", "Code licence: AGPL-3.0-only"), "copyleft"),
    "GYM215": (_edit("README.md", "Data licence: MIT", "Data licence: CC BY-SA 4.0"), "does not name it"),
    "GYM301": (_remove("tests/test_app.py"), "test_app.py is missing"),
    "GYM302": (_edit("tests/test_app.py", "async def test_", "async def check_", 2), "collected no tests"),
    "GYM303": (lambda server: None, "no result of `gymkit test good` for this server yet"),  # nobody ran it
    "GYM401": (_remove("data/example_rollouts.jsonl"), "is missing"),
    "GYM402": (_rollouts(_first_row("reward", 1.5)), "[0, 1]"),
    "GYM403": (_rollouts(lambda rows: rows.pop()), "has no rollout"),
    # Any number in the answer counts: a hedge listing candidates is paid.
    "GYM304": (_edit("app.py", "numbers[-1] == body.expected_answer", "body.expected_answer in numbers"), "GYM3A08"),
    "GYM404": (_rollouts(_first_row("reward", 0.0)), "stored reward 0.0, verify now returns 1.0"),
    "GYM405": (_drop_readme_section("Running"), "gymkit serve"),
    "GYM501": (_remove("reports/reward_profile"), "is missing"),
    "GYM502": (_edit("app.py", "server = AdditionServer()", "server = AdditionServer()  # changed"), "code changed"),
    "GYM503": (_reports(profile={"samples_per_prompt": 4}), "needs at least 16"),
    "GYM504": (_reports(profile={"models": []}), "expected a list of model names"),
    "GYM505": (_reports(profile={"prompts": prompt_shares(0.9, 0.08, 0.02)}), "only 2%"),
    "GYM506": (
        _reports(
            profile={
                "suspicious": {
                    "threshold": 1.0,
                    "rewarded": 40,
                    "read": 40,
                    "flagged": 3,
                    "by_flag": {"tool_output_paste": 3},
                    "examples": [
                        {
                            "file": "reports/reward_profile/collection/r.jsonl",
                            "line": 7,
                            "task": 2,
                            "flags": ["tool_output_paste"],
                        }
                    ],
                }
            }
        ),
        "3 full-reward rollouts look like reward hacks (tool_output_paste 3), e.g. reports/reward_profile/collection/r",
    ),
    "GYM406": (
        _edit("data/example.jsonl", '{"input": [', '{"tools": [{"type": "function", "name": "lookup"}], "input": ['),
        "advertises tool 'lookup', which the server does not serve (it serves: no tools)",
    ),
    "GYM407": (_rollouts(_tool_error), "1 of 1 tool call(s) got an error back (lookup 1)"),
    "GYM409": (_rollouts(_first_row("reward_components", {"correctness": "1"})), "not a finite number"),
    "GYM601": (_remove("reports/training/training.json"), "is missing"),
    "GYM602": (_edit("reports/training/metrics.csv", "19,0.58", "19,0.10"), "changed since"),
    "GYM603": (_reports(training={"improved": False}), "`improved` is False"),
    "GYM701": (_edit("README.md", "Synthetic data: None (no model was used to generate tasks).", ""), "Synthetic data"),
    "GYM801": (_rollouts(lambda rows: rows[2].pop("_gymkit")), "no _gymkit.model"),
    "GYM802": (
        _rollouts(lambda rows: rows[0]["_gymkit"].update(endpoint="http://me:secret@gpu.example:8000/v1")),
        "contains credentials",
    ),
}
WARN_ONLY = {"GYM407", "GYM505", "GYM506"}


# Rules only a NeMo Gym checkout has: their failing cases are trees of that kind (tests/checks/test_nemo_rules_*.py).
NEMO_ONLY = {"GYM408"}


def test_every_check_has_a_failing_case() -> None:
    assert set(BREAKS) | NEMO_ONLY == {c.code() for c in all_checks()}


@pytest.mark.parametrize("code", sorted(BREAKS))
def test_check_fails_on_a_server_broken_for_it(tmp_path: Path, code: str) -> None:
    server = build_server(tmp_path)
    brk, message = BREAKS[code]
    brk(server)
    report = run_checks(server, options=OPTIONS, select=[code])
    findings = [f for f in report.findings if f.code == code]
    expected = "warn" if code in WARN_ONLY else "fail"
    assert any(f.status == expected and message in f.message for f in findings), findings
    assert all(f.fix for f in findings)


# --- GYM205: the server reaches nothing outside its folder -------------------------------------

_IMPORTS = "import os, site, sys\nfrom pathlib import Path\n"
_OUTSIDE = [
    pytest.param("helper.py", "sys.path.insert(0, '../foo')", id="dotdot-string"),
    pytest.param("helper.py", "sys.path.append('/opt/shared')", id="absolute"),
    pytest.param("helper.py", "sys.path.insert(0, str(Path(__file__).resolve().parent.parent / 'foo'))", id="parents"),
    pytest.param("helper.py", "ROOT = Path(__file__).parents[1]\nsys.path.insert(0, str(ROOT / 'foo'))", id="a-name"),
    pytest.param(
        "lib/paths.py",
        "HERE = os.path.dirname(os.path.abspath(__file__))\n"
        "sys.path.extend([os.path.join(HERE, os.pardir, os.pardir)])",
        id="dirname-pardir-in-a-subfolder",
    ),
    pytest.param("helper.py", "site.addsitedir('../foo/vendor')", id="addsitedir"),
    pytest.param("helper.py", "sys.path = ['..', *sys.path]", id="assignment"),
]


@pytest.mark.parametrize(("file", "code"), _OUTSIDE)
def test_gym205_flags_an_import_path_outside_the_server(tmp_path: Path, file: str, code: str) -> None:
    server = build_server(tmp_path)
    (server / file).parent.mkdir(parents=True, exist_ok=True)
    (server / file).write_text(_IMPORTS + code + "\n")
    (finding,) = [f for f in run_checks(server, options=OPTIONS, select=["GYM205"]).findings if f.status == "fail"]
    assert "outside the server to the import path" in finding.message
    assert (finding.file, finding.line) == (file, len((_IMPORTS + code).splitlines()))


@pytest.mark.parametrize(
    ("file", "code"),
    [
        pytest.param("helper.py", "sys.path.insert(0, str(Path(__file__).parent))", id="own-folder"),
        pytest.param(
            "tests/conftest.py",
            "SERVER_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))\nsys.path.insert(0, SERVER_DIR)",
            id="tests-reach-the-server",
        ),
        pytest.param("lib/x.py", "sys.path.append(str(Path(__file__).parents[1]))", id="subfolder-to-top"),
        pytest.param("helper.py", "sys.path.insert(0, 'vendor')", id="relative-inside"),
    ],
)
def test_gym205_passes_import_paths_inside_the_server(tmp_path: Path, file: str, code: str) -> None:
    server = build_server(tmp_path)
    (server / file).parent.mkdir(parents=True, exist_ok=True)
    (server / file).write_text(_IMPORTS + code + "\n")
    findings = [f for f in run_checks(server, options=OPTIONS, select=["GYM205"]).findings if f.code == "GYM205"]
    assert findings and all(f.status == "pass" for f in findings), findings


@pytest.mark.parametrize(
    ("requirements", "flagged"),
    [
        ("-r ../foo/requirements.txt\n", "../foo/requirements.txt"),
        ("-c /etc/constraints.txt\n", "/etc/constraints.txt"),
        ("-e ../foo\n", "../foo"),
        ("grader @ file:///opt/grader-0.1-py3-none-any.whl\n", "/opt/grader-0.1-py3-none-any.whl"),
        ("../foo/dist/foo-1.0.tar.gz\n", "../foo/dist/foo-1.0.tar.gz"),
        ("-r extra.txt\n", "../../elsewhere.txt"),  # followed into an included file
    ],
)
def test_gym205_flags_requirements_outside_the_server(tmp_path: Path, requirements: str, flagged: str) -> None:
    server = build_server(tmp_path)
    (server / "requirements.txt").write_text(requirements)
    (server / "extra.txt").write_text("six==1.17.0\n-r ../../elsewhere.txt\n")
    (finding,) = [f for f in run_checks(server, options=OPTIONS, select=["GYM205"]).findings if f.status == "fail"]
    assert finding.message == f"{flagged!r} points outside the server's folder"
    assert finding.file == ("extra.txt" if requirements.startswith("-r extra") else "requirements.txt")


def test_gym205_passes_requirements_inside_the_server(tmp_path: Path) -> None:
    server = build_server(tmp_path)
    (server / "vendor").mkdir()
    (server / "vendor" / "grader-0.1-py3-none-any.whl").write_text("")
    (server / "requirements.txt").write_text(
        "grader @ file:./vendor/grader-0.1-py3-none-any.whl\n-r extra.txt\n-e ./vendor/pkg\nsix==1.17.0\n"
        "pkg @ https://example.invalid/pkg-1.0-py3-none-any.whl\n"
    )
    (server / "extra.txt").write_text("-c vendor/../constraints.txt\n")
    findings = [f for f in run_checks(server, options=OPTIONS, select=["GYM205"]).findings if f.code == "GYM205"]
    assert findings and all(f.status == "pass" for f in findings), findings
