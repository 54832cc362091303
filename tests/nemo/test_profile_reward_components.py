"""gymkit profile on upstream's own multi-reward rollouts, as the nemo-gym wheel ships them."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from gymkit.profiling import profile_files

pytestmark = [pytest.mark.slow, pytest.mark.nemo]

ROLLOUTS = "resources_servers/example_tool_call_multireward/data/example_rollouts.jsonl"


def test_upstream_multireward_example_profiles(nemo_wheel: Path, tmp_path: Path) -> None:
    rollouts = tmp_path / "example_rollouts.jsonl"
    with zipfile.ZipFile(nemo_wheel) as wheel:
        rollouts.write_bytes(wheel.read(ROLLOUTS))
    components = profile_files([rollouts]).report["reward_components"]
    assert set(components) == {"correctness", "schema_valid", "format"}
    assert all(c["num_rollouts"] == 5 and c["mixed"] == 0.0 for c in components.values())
