"""gymkit report NAME --html: the environment card, one file that needs nothing else."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gymkit.cards import Card, render_card
from gymkit.checks import STEPS
from gymkit.cli import build_app
from tests.view.synthetic import HOSTILE, rollout

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_weather_card_has_every_part(tmp_path: Path) -> None:
    out = tmp_path / "card.html"
    result = CliRunner().invoke(build_app(["report"]), ["report", str(ROOT / "resources_servers" / "weather"),
                                                        "--html", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    html = out.read_text()
    assert "Domain: <b>agent</b>" in html and "Apache 2.0" in html
    for title in STEPS.values():
        assert f"<td>{title}</td>" in html
    assert html.count('src="data:image/png;base64,') >= 4  # the profile's plots, inlined
    assert "Audit</h2><p>not run" in html
    assert "No training report" in html
    assert html.count('class="ex"') == 4 and "tool call · get_weather" in html
    # Self-contained: nothing to fetch, nothing to run.
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", html) and "<script" not in html


def test_hostile_rollout_text_is_escaped_on_the_card() -> None:
    row = rollout(0, 0, random.Random(0))
    row["response"]["output"].append({"type": "message", "role": "assistant", "content": [{"text": HOSTILE}]})
    row["verdict"] = HOSTILE
    card = Card("x", summary="<b>summary</b>", examples=[row])
    html = render_card(card)
    assert HOSTILE not in html and html.count("&lt;script&gt;") == 2 and "&lt;b&gt;summary" in html
    assert "default-src 'none'" in html  # the CSP meta tag forbids scripts even if one slipped through
