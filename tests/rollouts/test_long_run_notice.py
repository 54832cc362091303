"""A run estimated at over ten minutes says so, with the count, the estimate and how to make it smaller.

The threshold is lowered instead of making anything slow: no test here depends on timing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from gymkit.cli import app
from gymkit.rollouts import collect_rollouts, estimate
from gymkit.rollouts.config import EMBEDDED, EndpointConfig
from gymkit.rollouts.estimate import LongRunNotice


@pytest.mark.parametrize(("threshold", "notes"), [(0.0, 1), (1e9, 0)], ids=["over", "under"])
def test_an_endpoint_run_says_after_the_first_rollouts_whether_it_is_long(
    toolbox: Path,
    toolbox_url: str,
    model: tuple[Any, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    threshold: float,
    notes: int,
) -> None:
    monkeypatch.setattr(estimate, "LONG_RUN_SECONDS", threshold)
    args = ["rollouts", str(toolbox), "--output", str(tmp_path / "r.jsonl"), "--repeats", "2", "--quiet"]
    result = CliRunner().invoke(app, [*args, "--base-url", model[1], "--server-url", toolbox_url])
    assert result.exit_code == 0, result.output
    said = [line for line in result.stderr.splitlines() if line.startswith("note: ")]
    assert len(said) == notes, said
    for note in said:
        assert note.startswith("note: 10 rollouts will take about ")
        assert note.endswith(
            f"(at the pace of the first {estimate.FIRST_COMPLETIONS}); fewer with --limit N or --repeats K"
        )


def test_the_embedded_model_is_estimated_before_its_first_rollout(
    toolbox: Path, toolbox_url: str, model: tuple[Any, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The scripted endpoint stands in for the embedded model: its label is what marks it.
    monkeypatch.setattr(estimate, "LONG_RUN_SECONDS", 0.0)
    scripted, url = model
    heard: list[tuple[str, int]] = []
    notice = LongRunNotice(lambda line: heard.append((line, len(scripted.requests))), "fewer with --repeats K")
    endpoint = EndpointConfig((url,), api="chat", label=EMBEDDED)
    summary = collect_rollouts(
        toolbox, toolbox / "data" / "example.jsonl", tmp_path / "r.jsonl", repeats=3, endpoint=endpoint,
        server_url=toolbox_url, progress=False, notice=notice,
    )  # fmt: skip
    assert summary.complete
    per_minute = estimate.EMBEDDED_ROLLOUTS_PER_MINUTE
    minutes = round(15 * 60 / per_minute / 60)
    assert heard == [
        (
            f"note: 15 rollouts will take about {minutes} min (the embedded model's measured pace); "
            "fewer with --repeats K",
            0,
        )
    ]


def test_the_default_profile_on_the_embedded_model_is_hours() -> None:
    heard: list[str] = []
    LongRunNotice(heard.append, "fewer with --num-prompts N or --samples K").before_embedded(500 * 16)
    hours = 500 * 16 / estimate.EMBEDDED_ROLLOUTS_PER_MINUTE / 60
    assert heard == [
        f"note: 8,000 rollouts will take about {int(hours)} h {round((hours - int(hours)) * 60)} min "
        "(the embedded model's measured pace); fewer with --num-prompts N or --samples K"
    ]
    LongRunNotice(heard.append, "").before_embedded(5)  # 5 rollouts: well under ten minutes
    assert len(heard) == 1
