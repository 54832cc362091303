"""What an install prints: nothing when it works (the caller says so in one line), all of it when it fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from gymkit.testing.environment import _create


def test_a_successful_install_prints_nothing_and_a_failed_one_everything(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    env = _create(tmp_path / "env")
    empty = tmp_path / "requirements.txt"
    empty.write_text("# nothing to install\n")
    assert env.install("-r", str(empty)) == 0
    assert capfd.readouterr().err == ""
    assert env.failure == ""

    assert env.install("--no-index", "gymkit-test-no-such-package") != 0
    printed = capfd.readouterr().err
    assert "gymkit-test-no-such-package" in printed
    assert len(printed.splitlines()) > 1  # the installer's whole output, not only the line the error quotes
    assert "gymkit-test-no-such-package" in env.failure
