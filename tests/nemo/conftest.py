"""NeMo Gym checkout and runtime for the wire tests, built once and kept between runs.

The checkout is made from the nemo-gym wheel (tests/nemo/tree.py) under
``~/.cache/gymkit-tests/nemo-gym-<wheel sha>/`` (or ``$GYMKIT_TEST_CACHE``) rather than in a
temporary folder: the environments gymkit builds for its servers install it editable, so they
point at its path, and a fixed path is what lets a second run reuse them instead of spending
a minute per environment. Tests write only into their own temporary folders.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from gymkit.errors import UserError
from gymkit.nemo.environment import prepare_nemo_environment
from gymkit.nemo.python import find_python
from gymkit.testing.environment import Environment
from tests.nemo.tree import LAYOUT, WHEEL_NAME, make_checkout, wheel_sha256


def _cache() -> Path:
    return Path(os.environ.get("GYMKIT_TEST_CACHE") or Path.home() / ".cache" / "gymkit-tests")


@pytest.fixture(scope="session")
def nemo_python() -> str:
    try:
        return find_python()
    except UserError as exc:
        pytest.skip(exc.message)


@pytest.fixture(scope="session")
def nemo_wheel(nemo_python: str) -> Path:
    for candidate in (os.environ.get("GYMKIT_NEMO_WHEEL"), f"/tmp/ngw/{WHEEL_NAME}", _cache() / "wheels" / WHEEL_NAME):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    target = _cache() / "wheels"
    done = subprocess.run(
        [nemo_python, "-m", "pip", "download", "--no-deps", "nemo-gym==0.4.0", "-d", str(target)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0 or not (target / WHEEL_NAME).is_file():
        pytest.skip("the nemo-gym 0.4.0 wheel is not available (set GYMKIT_NEMO_WHEEL)")
    return target / WHEEL_NAME


@pytest.fixture(scope="session")
def nemo_checkout(nemo_wheel: Path) -> Path:
    folder = _cache() / f"nemo-gym-{wheel_sha256(nemo_wheel)[:16]}-layout{LAYOUT}" / "checkout"
    if not (folder / ".git").is_dir():
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix="staging-"))
        try:
            make_checkout(nemo_wheel, staging / "checkout")
            (staging / "checkout").rename(folder)  # whole or not at all: an interrupted build leaves no half tree
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return folder


@pytest.fixture(scope="session")
def nemo_runtime(nemo_checkout: Path) -> Environment:
    """The environment gymkit builds for the checkout's plain servers: nemo-gym[dev] editable, on 3.12."""
    return prepare_nemo_environment(nemo_checkout / "resources_servers" / "example_single_tool_call", log=print)


@pytest.fixture(scope="session")
def ng_venvs(nemo_checkout: Path) -> Path:
    """Where ng_run keeps the venvs it builds (one per server), kept between runs like the checkout.

    Keyed by this repository's path: the gymkit server's venv installs gymkit editable from it.
    """
    repo = Path(__file__).resolve().parents[2]
    return nemo_checkout.parent / "ng-venvs" / hashlib.sha256(str(repo).encode()).hexdigest()[:12]
