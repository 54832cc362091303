"""pr-comment.yml's scripts, run under node against report artifacts on disk.

The artifacts come from a run of the pull request's own code, so these tests feed it
hostile ones too: mentions, HTML, links, oversized and malformed files, bad names.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from .workflows import load

NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="node is needed to run the github-script steps")

HARNESS = Path(__file__).parent / "js" / "github_script_harness.js"
HEAD = "a" * 40
MARKER = "<!-- gymkit-pr-report -->"
BOT = {"login": "github-actions[bot]", "type": "Bot"}


def _script(index: int) -> str:
    job = load("pr-comment.yml")["jobs"]["comment"]
    return str(job["steps"][index]["with"]["script"])


def _run_script(tmp_path: Path, index: int, scenario: dict[str, Any], report_dir: Path | None = None) -> list[Any]:
    script = tmp_path / "script.js"
    script.write_text(_script(index))
    scenario_file = tmp_path / "scenario.json"
    scenario_file.write_text(json.dumps(scenario))
    env = {"PATH": os.environ["PATH"], "REPORT_DIR": str(report_dir or tmp_path / "none")}
    assert NODE is not None
    done = subprocess.run(
        [NODE, str(HARNESS), str(script), str(scenario_file)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout))


def _comment(tmp_path: Path, scenario: dict[str, Any], reports: Path) -> list[Any]:
    return _run_script(tmp_path, 2, scenario, reports)


def _run(conclusion: str = "failure", pull_requests: list[Any] | None = None) -> dict[str, Any]:
    return {
        "id": 99,
        "conclusion": conclusion,
        "head_sha": HEAD,
        "head_branch": "add-sudoku",
        "html_url": "https://github.example/gym-org/gym/actions/runs/99",
        "head_repository": {"owner": {"login": "forker"}},
        "pull_requests": [{"number": 12, "head": {"sha": HEAD}}] if pull_requests is None else pull_requests,
    }


def _finding(code: str, step: int, status: str, message: str = "ok", **extra: Any) -> dict[str, Any]:
    return {"code": code, "step": step, "status": status, "message": message, **extra}


def _server_report(root: Path, name: str, findings: list[dict[str, Any]], tests: str = "success") -> Path:
    folder = root / f"gymkit-report-{name}"
    folder.mkdir(parents=True)
    report = {"servers": [{"name": name, "path": f"resources_servers/{name}", "findings": findings}]}
    (folder / "report.json").write_text(json.dumps(report))
    (folder / "meta.json").write_text(json.dumps({"server": name, "tests": tests}))
    return folder


def _all_pass() -> list[dict[str, Any]]:
    return [_finding(f"GYM{step}01", step, "pass") for step in range(1, 9)]


def _calls(calls: list[Any], name: str) -> list[dict[str, Any]]:
    return [args for call, args, *_ in calls if call == name]


@pytest.fixture
def reports(tmp_path: Path) -> Path:
    root = tmp_path / "reports"
    _server_report(root, "alpha", _all_pass())
    hostile = "@maintainers <img src=x onerror=alert(1)> [click](https://evil.example) | x\nsecond line"
    bad = [
        *_all_pass()[:2],
        _finding("GYM211", 2, "fail", "README.md: no licence for the data", file="resources_servers/beta/README.md"),
        _finding("GYM402", 4, "fail", hostile, file="data/example_rollouts.jsonl", line=3),
        _finding("GYM501", 5, "warn", "profile is stale"),
    ]
    _server_report(root, "beta", bad, tests="failure")
    body = root / "gymkit-pr-body"
    body.mkdir()
    (body / "pr-body.json").write_text('{"status": 1}')
    (body / "pr-body.txt").write_text("event.json: '## Licensing' is empty; write the licences\n")
    return root


def test_new_comment_has_the_eight_step_table(tmp_path: Path, reports: Path) -> None:
    calls = _comment(tmp_path, {"run": _run(), "comments": []}, reports)
    (created,) = _calls(calls, "issues.createComment")
    assert created["issue_number"] == 12
    assert (created["owner"], created["repo"]) == ("gym-org", "gym")
    body = created["body"]
    assert body.startswith(MARKER)
    assert "❌ **PR validation: failure.**" in body
    assert "| Step | `alpha` | `beta` |" in body
    assert "| Isolated tests | success | failure |" in body
    assert "| 1. Curate tasks | ✅ pass | ✅ pass |" in body
    assert "| 2. Implementation | ✅ pass | ❌ fail |" in body
    assert "| 4. Example rollouts | ✅ pass | ❌ fail |" in body
    assert "| 5. Reward profiling | ✅ pass | ⚠️ warn |" in body
    assert "| 8. Review and reproduction | ✅ pass | — |" in body
    assert "**PR description:** ❌ incomplete" in body
    assert "GYM211" in body and "no licence for the data" in body
    assert "<code>beta</code>: 2 failing check(s)" in body
    assert "runs/99" in body


def test_untrusted_text_is_inert(tmp_path: Path, reports: Path) -> None:
    (created,) = _calls(_comment(tmp_path, {"run": _run(), "comments": []}, reports), "issues.createComment")
    body = created["body"]
    assert "@maintainers" not in body
    assert "@\u200bmaintainers" in body
    assert "<img" not in body and "&lt;img" in body
    assert "](https://evil.example)" not in body
    assert "https://" not in body.split("[run details]")[0]  # no autolink either
    assert "\\| x second line" in body  # no table break, no new line
    assert "data/example\\_rollouts\\.jsonl:3" in body


# Bidi controls reorder what a reader sees ("Trojan Source"); the others render as nothing.
BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
INVISIBLE = "\u200b\u200c\u200d\u2060\u2061\u2062\u2063\u2064\ufeff\u00ad\u180e\u034f\u3164\ufe0f\U000e0041\ue000"
CONTROL = "\x00\x08\x1b\x7f\x85\x9b\u2028\u2029\u00a0\u3000"


def _hidden(text: str) -> list[str]:
    return [f"U+{ord(c):04X}" for c in text if c in BIDI + INVISIBLE + CONTROL]


def test_bidi_and_invisible_characters_are_removed(tmp_path: Path) -> None:
    root = tmp_path / "reports"
    sneaky = f"all good{BIDI}{INVISIBLE} {CONTROL}evil"
    findings = [
        *_all_pass()[:3],
        _finding("GYM402", 4, "fail", f"reward {sneaky}", file=f"data/x{BIDI}.jsonl", line=2),
        _finding("GYM4\u202e01", 4, "fail", "code with an override"),
    ]
    _server_report(root, "beta", findings, tests="succ\u202eess")
    body = root / "gymkit-pr-body"
    body.mkdir()
    (body / "pr-body.json").write_text('{"status": 1}')
    (body / "pr-body.txt").write_text(f"'## Licensing' {sneaky}\n", encoding="utf-8")
    (created,) = _calls(_comment(tmp_path, {"run": _run(), "comments": []}, root), "issues.createComment")
    text = created["body"]
    assert _hidden(text) == []
    assert "reward all good evil" in text  # the visible text stays, joined by one space
    assert "> '\\#\\# Licensing' all good evil" in text
    assert "data/x\\.jsonl:2" in text


def test_long_text_is_cut_between_characters_not_inside_one(tmp_path: Path) -> None:
    root = tmp_path / "reports"
    message = "x" + "\U0001f600" * 400  # outside the BMP: two UTF-16 units each
    _server_report(root, "beta", [*_all_pass()[:3], _finding("GYM402", 4, "fail", message)])
    (created,) = _calls(_comment(tmp_path, {"run": _run(), "comments": []}, root), "issues.createComment")
    text = created["body"]
    text.encode("utf-8")  # a lone surrogate would not encode
    assert "x" + "\U0001f600" * 298 + "…" in text


def test_updates_its_own_comment_and_leaves_a_lookalike_alone(tmp_path: Path, reports: Path) -> None:
    comments = [
        {"id": 1, "user": {"login": "mallory", "type": "User"}, "body": MARKER + " fake"},
        {"id": 2, "user": BOT, "body": MARKER + "\nold table"},
    ]
    calls = _comment(tmp_path, {"run": _run("success"), "comments": comments}, reports)
    assert _calls(calls, "issues.createComment") == []
    (updated,) = _calls(calls, "issues.updateComment")
    assert updated["comment_id"] == 2
    assert "✅ **Every required step passed.**" in updated["body"]


def test_fork_pull_request_is_found_by_its_head(tmp_path: Path, reports: Path) -> None:
    open_prs = [{"number": 35, "head": {"sha": "b" * 40}}, {"number": 34, "head": {"sha": HEAD}}]
    calls = _comment(tmp_path, {"run": _run(pull_requests=[]), "open_prs": open_prs, "comments": []}, reports)
    (listed,) = _calls(calls, "pulls.list")
    assert listed["head"] == "forker:add-sudoku"
    assert [c["issue_number"] for c in _calls(calls, "issues.createComment")] == [34]


@pytest.mark.parametrize(
    "pull_requests",
    [
        pytest.param([{"number": "12; rm -rf /", "head": {"sha": HEAD}}], id="number-not-an-integer"),
        pytest.param([{"number": -3, "head": {"sha": HEAD}}], id="negative"),
        pytest.param([{"number": 12, "head": {"sha": "c" * 40}}], id="superseded-head"),
    ],
)
def test_no_comment_without_a_valid_current_pull_request(
    tmp_path: Path, reports: Path, pull_requests: list[Any]
) -> None:
    scenario = {"run": _run(pull_requests=pull_requests), "open_prs": [], "comments": []}
    calls = _comment(tmp_path, scenario, reports)
    assert _calls(calls, "issues.createComment") == []
    assert _calls(calls, "issues.updateComment") == []


def test_hostile_artifacts_are_contained(tmp_path: Path) -> None:
    root = tmp_path / "reports"
    _server_report(root, "alpha", _all_pass())
    (_server_report(root, "huge", []) / "report.json").write_text(" " * (600 * 1024) + "{}")
    (_server_report(root, "garbled", []) / "report.json").write_text("{not json")
    linked = _server_report(root, "linked", [])
    (linked / "report.json").unlink()
    (linked / "report.json").symlink_to("/etc/passwd")
    _server_report(root, "other", _all_pass()).joinpath("report.json").write_text(
        json.dumps({"servers": [{"name": "alpha", "findings": _all_pass()}]})
    )
    (root / "gymkit-report-x$(id)").mkdir()
    calls = _comment(tmp_path, {"run": _run(), "comments": []}, root)
    (created,) = _calls(calls, "issues.createComment")
    body = created["body"]
    assert "| Step | `alpha` | `garbled` | `huge` | `linked` | `other` |" in body
    assert "| 1. Curate tasks | ✅ pass | ⛔ no report | ⛔ no report | ⛔ no report | ⛔ no report |" in body
    assert "report\\.json: larger than 524288 bytes" in body
    assert "report\\.json: not valid JSON" in body
    assert "report\\.json: not a regular file" in body
    assert "report\\.json has no findings for this server" in body
    assert "root:" not in body
    assert "x$(id)" not in body
    assert ["core.warning", "ignored 1 report(s) with an invalid server name"] in calls


def test_statuses_named_like_object_properties_are_ignored(tmp_path: Path) -> None:
    # `"toString" in {...}` is true in JavaScript: such a status once reached the table as
    # the text of a built-in function.
    root = tmp_path / "reports"
    odd = [_finding("GYM101", 1, status) for status in ("toString", "constructor", "__proto__", "hasOwnProperty")]
    _server_report(root, "alpha", [*odd, _finding("GYM201", 2, "pass")])
    (created,) = _calls(_comment(tmp_path, {"run": _run(), "comments": []}, root), "issues.createComment")
    body = created["body"]
    assert "| 1. Curate tasks | — |" in body
    assert "| 2. Implementation | ✅ pass |" in body
    assert "function" not in body and "[object Object]" not in body


def test_nothing_to_say_posts_nothing(tmp_path: Path) -> None:
    calls = _comment(tmp_path, {"run": _run("success"), "comments": []}, tmp_path / "empty")
    assert _calls(calls, "issues.createComment") == []
    assert ["core.info", "nothing was checked and there is no earlier comment to update"] in calls


def test_a_run_that_stopped_before_any_report_does_not_claim_nothing_changed(tmp_path: Path) -> None:
    # Change detection refusing a link fails the run before any server job writes a report.
    earlier = [{"id": 2, "user": BOT, "body": MARKER + "\nold table"}]
    calls = _comment(tmp_path, {"run": _run("failure"), "comments": earlier}, tmp_path / "empty")
    (updated,) = _calls(calls, "issues.updateComment")
    assert "No resource server changed" not in updated["body"]
    assert "No server was checked: the run stopped before any report was written" in updated["body"]
    assert "PR validation: failure" in updated["body"]


def test_artifact_size_gate(tmp_path: Path) -> None:
    small = {"name": "gymkit-report-alpha", "size_in_bytes": 4_000}
    ok = _run_script(tmp_path, 0, {"run": _run(), "artifacts": [small, {"name": "other", "size_in_bytes": 10**9}]})
    assert not [c for c in ok if c[0] == "core.setFailed"]
    big = {"name": "gymkit-report-beta", "size_in_bytes": 50 * 1024 * 1024}
    failed = _run_script(tmp_path, 0, {"run": _run(), "artifacts": [small, big]})
    assert ["core.setFailed", "artifact gymkit-report-beta is 52428800 bytes; the limit is 2097152"] in failed


def test_the_environment_card_is_named_only_where_the_run_wrote_one(tmp_path: Path, reports: Path) -> None:
    (tmp_path / "before").mkdir()
    (tmp_path / "after").mkdir()
    (created,) = _calls(_comment(tmp_path / "before", {"run": _run(), "comments": []}, reports), "issues.createComment")
    assert "Environment card" not in created["body"]
    (reports / "gymkit-report-alpha" / "card.html").write_text("<html></html>")
    # A link where a file is expected points elsewhere: it is not a card the run wrote.
    (reports / "gymkit-report-beta" / "card.html").symlink_to("/etc/passwd")
    (created,) = _calls(_comment(tmp_path / "after", {"run": _run(), "comments": []}, reports), "issues.createComment")
    (line,) = [text for text in created["body"].splitlines() if text.startswith("**Environment card:**")]
    assert "`gymkit-report-alpha`" in line and "beta" not in line
    assert "(https://github.example/gym-org/gym/actions/runs/99#artifacts)" in line
