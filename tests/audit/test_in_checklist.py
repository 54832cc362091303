"""The audit as step 3 of the checklist: GYM304 fails for a verifier a probe cheats, passes a sound one."""

from __future__ import annotations

from pathlib import Path

import pytest

from gymkit.checks.fixtures import CheckOptions
from gymkit.checks.runner import run_checks

from .conftest import write_server

pytestmark = pytest.mark.slow


def _gym304(folder: Path, **options: object):  # type: ignore[no-untyped-def]
    """GYM304's findings, one per problem (a single one when it passes or is skipped)."""
    report = run_checks(folder, options=CheckOptions(**options), select=["GYM304"])  # type: ignore[arg-type]
    return [f for f in report.findings if f.code == "GYM304"]


def test_a_hackable_verifier_fails_gym304_naming_the_probe_and_the_command(tmp_path: Path) -> None:
    findings = _gym304(write_server(tmp_path, "any_line", "text"))
    assert findings and all(f.status == "fail" for f in findings)
    command = "gymkit audit any_line --probe hedge --row"
    assert any("GYM3A08 hedge" in f.message and command in f.message for f in findings)


def test_a_sound_verifier_passes_and_no_reverify_skips_it(tmp_path: Path) -> None:
    folder = write_server(tmp_path, "sound", "text")
    assert [f.status for f in _gym304(folder)] == ["pass"]
    assert [f.status for f in _gym304(folder, reverify=False)] == ["skip"]


def test_a_written_waiver_turns_the_failure_into_a_warning(tmp_path: Path) -> None:
    folder = write_server(tmp_path, "any_line", "text")
    config = next((folder / "configs").glob("*.yaml"))
    waiver = '      gymkit:\n        waive:\n          GYM3A08: "answers are one line by construction"\n'
    config.write_text(config.read_text() + waiver)
    assert [f.status for f in _gym304(folder)] == ["pass"]
