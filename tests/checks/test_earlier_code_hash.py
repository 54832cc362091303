"""Reports made before requirements counted by their meaning (9584ff0) still count for unchanged code.

The earlier scheme is read from gymkit's own history (cc76459, the last commit before the
change), so the test compares with the code that wrote those reports, not with a copy of it.
"""

from __future__ import annotations

import importlib.util
import subprocess
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import click
import pytest

from gymkit.checks import CheckOptions, run_checks
from gymkit.checks.step3_testing import stamp_problems
from gymkit.checks.step5_profile import GYM502
from gymkit.findings.render import render
from gymkit.hashing import code_digests, server_code_sha256
from gymkit.testing import stamp as stamp_module
from gymkit.testing.stamp import StageResult, TestStamp, code_fingerprint, fingerprint_digests, write_stamp
from tests.checks.conftest import write_reports

REPO = Path(__file__).resolve().parents[2]
BEFORE = "cc76459"
NOTE = "made with gymkit's earlier code hash; still matches this code"


@pytest.fixture(scope="module")
def earlier(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    shown = subprocess.run(
        ["git", "show", f"{BEFORE}:gymkit/hashing.py"], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    if shown.returncode != 0:
        pytest.skip(f"gymkit's history up to {BEFORE} is not in this clone (a shallow checkout)")
    path = tmp_path_factory.mktemp("earlier") / "hashing_cc76459.py"
    path.write_text(shown.stdout)
    spec = importlib.util.spec_from_file_location("hashing_cc76459", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _rich_tree(root: Path) -> Path:
    """A server whose requirements, includes, pyproject and configs all read differently under the two schemes."""
    shared = root / "shared"
    shared.mkdir()
    (shared / "helpers.py").write_text("SCALE = 2\n")
    server = root / "resources_servers" / "rich"
    for folder in ("configs", "data", "tests", "lib"):
        (server / folder).mkdir(parents=True)
    (server / "app.py").write_text("from lib.score import score\n")
    (server / "lib" / "score.py").write_text("def score(x):\n    return x\n")
    (server / "requirements.txt").write_text(
        "# pinned for the verifier\nNumPy >= 1.26\n\n-r extra.txt\n-e ../../shared\n"
    )
    (server / "extra.txt").write_text("sympy==1.12   # symbolic equality\n")
    (server / "pyproject.toml").write_text('[project]\nname = "rich"\ndependencies = [ "Requests>=2" ]\n')
    (server / "configs" / "rich.yaml").write_text(
        "rich:\n  entrypoint: app.py  # the server\n  gymkit:\n    waive: {}\n"
    )
    (server / "data" / "example.jsonl").write_text("{}\n")
    (server / "tests" / "test_app.py").write_text("def test_nothing():\n    pass\n")
    return server


@pytest.mark.parametrize("name", ["arithmetic", "weather", "json_extraction", "python_sandbox", "rich"])
def test_the_earlier_scheme_is_the_one_gymkit_wrote_reports_with(
    earlier: ModuleType, tmp_path: Path, name: str
) -> None:
    server = _rich_tree(tmp_path) if name == "rich" else REPO / "resources_servers" / name
    now, before = code_digests(server)
    assert now == server_code_sha256(server)
    assert before == earlier.server_code_sha256(server)
    assert now != before  # the two schemes read these trees differently, so the test can tell them apart


def _old_stamp(server: Path, earlier: ModuleType, monkeypatch: pytest.MonkeyPatch) -> TestStamp:
    """A passing stamp as gymkit wrote it before: its fingerprint over the earlier code hash."""
    with monkeypatch.context() as patch:
        patch.setattr(stamp_module, "server_code_sha256", earlier.server_code_sha256)
        code_sha, files = code_fingerprint(server)
    stamp = TestStamp(server.name, code_sha, files)
    for name in stamp.stages:
        stamp.stages[name] = StageResult("passed")
    stamp.stages["tests"].counts = {"passed": 2, "failed": 0, "errors": 0, "skipped": 0}
    return stamp


def _finding(server: Path, code: str, requires: str) -> tuple[str, str]:
    (finding,) = [f for f in run_checks(server, select=[requires, code]).findings if f.code == code]
    return finding.status.value, finding.message


def test_a_profile_with_the_earlier_hash_is_fresh_and_says_so(
    earlier: ModuleType, make_server: Callable[..., Path]
) -> None:
    server = make_server()
    assert _finding(server, "GYM502", "GYM501")[1] != NOTE  # a profile with today's hash needs no note
    write_reports(server, profile={"server_code_sha256": earlier.server_code_sha256(server)})
    assert _finding(server, "GYM502", "GYM501") == ("pass", NOTE)
    text = click.unstyle(render([run_checks(server, select=["GYM501", "GYM502"])], "text"))
    assert f"✓ GYM502 {GYM502.title()} ({NOTE})" in [line.strip() for line in text.splitlines()]  # text shows it too


@pytest.mark.parametrize("scheme", ["current", "earlier"])
def test_a_code_change_makes_a_profile_stale_under_either_scheme(
    earlier: ModuleType, make_server: Callable[..., Path], scheme: str
) -> None:
    server = make_server()
    digest = server_code_sha256(server) if scheme == "current" else earlier.server_code_sha256(server)
    write_reports(server, profile={"server_code_sha256": digest})
    (server / "app.py").write_text((server / "app.py").read_text() + "\nSCALE = 3\n")
    status, message = _finding(server, "GYM502", "GYM501")
    assert (status, message) == ("fail", "the server's code changed since the profile was made")


def test_a_stamp_with_the_earlier_hash_counts_and_says_so(
    earlier: ModuleType, make_server: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    server = make_server()
    write_stamp(server, _old_stamp(server, earlier, monkeypatch))
    (note,) = stamp_problems(server)
    assert note.status == "pass" and NOTE in note.message
    assert _finding(server, "GYM303", "GYM301") == ("pass", note.message)


@pytest.mark.parametrize("scheme", ["current", "earlier"])
def test_a_code_change_makes_a_stamp_stale_under_either_scheme(
    earlier: ModuleType, make_server: Callable[..., Path], monkeypatch: pytest.MonkeyPatch, scheme: str
) -> None:
    server = make_server()
    stamp = _old_stamp(server, earlier, monkeypatch)
    if scheme == "current":
        stamp.code_sha256, stamp.files = code_fingerprint(server)
    write_stamp(server, stamp)
    (server / "app.py").write_text((server / "app.py").read_text() + "\nSCALE = 3\n")
    (problem,) = stamp_problems(server)
    assert problem.status == "fail" and "the code changed since `gymkit test good` ran" in problem.message
    assert _finding(server, "GYM303", "GYM301")[0] == "fail"


def test_a_new_stamp_carries_the_current_hash(make_server: Callable[..., Path]) -> None:
    server = make_server()
    written, files = code_fingerprint(server)
    digests, shown = fingerprint_digests(server)
    assert written == digests[0] != digests[1] and files == shown


def test_a_stamp_with_the_earlier_hash_is_not_run_again(
    earlier: ModuleType, make_server: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    server = make_server()
    path = write_stamp(server, _old_stamp(server, earlier, monkeypatch))
    written = path.read_bytes()
    report = run_checks(server, options=CheckOptions(run_tests=True), select=["GYM301", "GYM303"])
    assert [f.status for f in report.findings if f.code == "GYM303"] == ["pass"]
    assert path.read_bytes() == written  # counted as it is: `gymkit test` did not run to replace it
