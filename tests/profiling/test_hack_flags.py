"""The profile reads its full-reward rollouts with the audit's criteria and names the suspicious ones."""

from __future__ import annotations

import json
from pathlib import Path

from gymkit.profiling.markdown import profile_markdown
from gymkit.profiling.report import profile_files

ROOT = Path(__file__).resolve().parents[2]
WEATHER = ROOT / "resources_servers" / "weather" / "data" / "example_rollouts.jsonl"


def _rows() -> list[dict]:
    return [json.loads(line) for line in WEATHER.read_text().splitlines() if line.strip()]


def test_a_pasted_tool_output_with_full_reward_is_flagged_and_a_clean_answer_is_not(tmp_path: Path) -> None:
    rows = _rows()
    pasted = rows[2]  # its final message is the get_weather tool's raw JSON
    clean = next(r for r in rows if r["reward"] == 1.0)
    out = tmp_path / "rollouts.jsonl"
    written = [
        {**clean, "_ng_task_index": 0, "_ng_rollout_index": 0},
        {**pasted, "reward": 1.0, "_ng_task_index": 1, "_ng_rollout_index": 0},
        {**pasted, "reward": 0.0, "_ng_task_index": 2, "_ng_rollout_index": 0},
    ]
    out.write_text("".join(json.dumps(r) + "\n" for r in written))
    hacks = profile_files([out]).report["suspicious"]
    assert (hacks["rewarded"], hacks["read"], hacks["flagged"]) == (2, 2, 1)
    assert hacks["by_flag"] == {"tool_output_paste": 1}
    assert hacks["examples"] == [{"file": str(out), "line": 2, "task": 1, "flags": ["tool_output_paste"]}]
    text = profile_markdown(profile_files([out]).report)
    assert "## Possible reward hacks" in text and f"`{out}:2` (task 1): tool_output_paste" in text


def test_a_large_profile_reads_a_bounded_number_and_says_so(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr("gymkit.profiling.hacks.MAX_READ", 3)
    clean = next(r for r in _rows() if r["reward"] == 1.0)
    out = tmp_path / "rollouts.jsonl"
    out.write_text("".join(json.dumps({**clean, "_ng_task_index": i, "_ng_rollout_index": 0}) + "\n" for i in range(8)))
    report = profile_files([out]).report
    assert (report["suspicious"]["rewarded"], report["suspicious"]["read"]) == (8, 3)
    assert "read with the audit's criteria: 3 of 8" in profile_markdown(report)
