"""GYM701 in a NeMo Gym checkout: upstream asks for the PR description's items in the pull request
itself, and v0.4.0 and v0.5.0 carry no PR template, so a merged server's README cannot fail it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.checks.test_nemo_rules_steps12 import findings, make_gym


@pytest.mark.parametrize(("gym", "expected"), [("nemo-gym", "warn"), ("gymkit", "fail")])
def test_gym701_an_unfilled_pr_description_only_warns_in_nemo_gym(tmp_path: Path, gym: str, expected: str) -> None:
    server = make_gym(tmp_path, gym)
    readme = server / "README.md"
    readme.write_text(readme.read_text().replace("Synthetic data: None (no model was used to generate tasks).", ""))
    found = findings(server, "GYM701")
    assert [str(f.status) for f in found] == [expected]
    assert "Synthetic data" in found[0].message
    assert ("NeMo Gym asks for these in the pull request's text" in found[0].message) == (gym == "nemo-gym")


def test_gym701_a_filled_pr_description_passes_in_nemo_gym(tmp_path: Path) -> None:
    server = make_gym(tmp_path, "nemo-gym")
    assert {str(f.status) for f in findings(server, "GYM701")} == {"pass"}
