from __future__ import annotations

from pathlib import Path

import pytest

from gymkit.checks import STEPS, Check, all_checks
from gymkit.checks.docs import render_checklist
from gymkit.checks.registry import register

ROOT = Path(__file__).resolve().parents[2]


def test_every_step_has_checks_and_codes_follow_their_step() -> None:
    checks = all_checks()
    assert {c.step for c in checks} == set(STEPS)
    for check in checks:
        assert check.code()[3] == str(check.step)
        assert check.title() and check.fix(), check.code()
        assert all(r in {c.code() for c in checks} for r in check.requires), check.code()


def test_register_refuses_a_check_without_a_fix_or_in_the_wrong_step() -> None:
    class GYM999(Check):
        """A title"""

        step = 9

    with pytest.raises(ValueError, match="belong to step"):
        register(type("GYM199", (Check,), {"__doc__": "t", "step": 2}))
    with pytest.raises(ValueError, match="needs a title"):
        register(type("GYM199", (Check,), {"__doc__": "t", "step": 1}))
    with pytest.raises(ValueError, match="codes like"):
        register(type("CHECK1", (Check,), {"__doc__": "t", "step": 1}))
    assert GYM999.code() == "GYM999"


def test_checklist_doc_is_in_sync_with_the_registry() -> None:
    committed = (ROOT / "docs" / "checklist.md").read_text(encoding="utf-8")
    assert committed == render_checklist(), "docs/checklist.md is stale: run `nox -s docs-checklist`"
    for check in all_checks():
        assert f"### {check.code()}: {check.title()}" in committed
