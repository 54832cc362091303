"""What an install prints: of a success only the installer's warnings (the caller says it worked in
one line), of a failure all of it."""

from __future__ import annotations

from pathlib import Path

import pytest

from gymkit.testing.environment import _create, find_uv


def test_a_success_prints_only_its_warnings_and_a_failure_everything(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    if find_uv() is None:
        pytest.skip("the installer's words checked here are uv's")
    env = _create(tmp_path / "env")
    empty = tmp_path / "requirements.txt"
    empty.write_text("# nothing to install\n")
    capfd.readouterr()
    assert env.install("-r", str(empty)) == 0
    printed = capfd.readouterr().err
    assert "does not contain any dependencies" in printed  # uv's warning, kept
    assert "Using Python" not in printed and "Checked" not in printed  # the rest of its report, not
    assert env.failure == ""

    assert env.install("--no-index", "gymkit-test-no-such-package") != 0
    printed = capfd.readouterr().err
    assert "Using Python" in printed and "gymkit-test-no-such-package" in printed  # all of it
    assert "gymkit-test-no-such-package" in env.failure
