"""The readers moved onto the models: what they show for a report that drifted from its writer."""

from __future__ import annotations

import json
from pathlib import Path

from gymkit.cards.gather import gather_card
from gymkit.project import resolve_server
from tests.checks.conftest import build_server, write_reports


def test_the_card_names_the_field_of_a_drifted_report_and_shows_a_good_one(tmp_path: Path) -> None:
    server = build_server(tmp_path)
    write_reports(server, training={"steps": 20})  # the shape the old fixtures wrote
    card = gather_card(resolve_server(str(server)))
    assert isinstance(card.training, str)
    assert card.training.startswith("training.json cannot be read: steps: Input should be a valid dictionary")
    profile = json.loads((server / "reports" / "reward_profile" / "reward_profile.json").read_text())
    assert card.profile == profile
