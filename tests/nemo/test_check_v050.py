"""``gymkit check --all`` over a whole NeMo Gym tree (v0.5.0): every server gets findings, no traceback, no hang.

nemo-gym 0.5.0 is not on the package index as a wheel, so the tree comes from a git repository
of NeMo Gym with the tag, named by ``GYMKIT_NEMO_GIT`` (a clone or a bare mirror); without it
the test is skipped. The findings themselves are not asserted: where gymkit's rules and NeMo
Gym's differ is what the checks' own tests and docs/nemo-gym.md cover.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.nemo.tree import checkout_from_git

pytestmark = [pytest.mark.slow, pytest.mark.nemo]

TAG = "v0.5.0"
GYMKIT = str(Path(sys.executable).parent / "gymkit")


@pytest.fixture(scope="module")
def tree_050() -> Path:
    source = os.environ.get("GYMKIT_NEMO_GIT")
    if not source or not Path(source).is_dir():
        pytest.skip("set GYMKIT_NEMO_GIT to a git repository of NeMo Gym with the v0.5.0 tag")
    cache = Path(os.environ.get("GYMKIT_TEST_CACHE") or Path.home() / ".cache" / "gymkit-tests")
    folder = cache / f"nemo-gym-{TAG}" / "checkout"
    if not (folder / ".git").is_dir():
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix="staging-"))
        try:
            checkout_from_git(Path(source), TAG, staging / "checkout")
            (staging / "checkout").rename(folder)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return folder


def test_check_all_over_a_whole_nemo_gym_tree(tree_050: Path) -> None:
    servers = sorted(p.name for p in (tree_050 / "resources_servers").iterdir() if (p / "app.py").is_file())
    done = subprocess.run(
        [GYMKIT, "check", "--all", "--no-reverify", "-f", "json"],
        cwd=tree_050,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert done.returncode in (0, 1), done.stderr[-3000:]  # 1: checks failed, which a foreign tree's do
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    report = json.loads(done.stdout)
    checked = sorted(s["name"] for s in report["servers"])
    assert checked == servers
    assert all(s["findings"] for s in report["servers"])
