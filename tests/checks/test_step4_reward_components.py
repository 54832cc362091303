"""GYM409: example rollouts that carry reward_components agree on the keys, and every value is a finite number.

A key mismatch warns in a NeMo Gym checkout (upstream's rule is a docstring's "should") and fails in a
gymkit gym; a value that is not a number fails in both.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.checks.test_nemo_rules_steps348 import _findings, _rollout, _statuses, _tree

KEYS = {"correctness": 1.0, "format": 0.0}


def _rows(*components: object) -> list[dict[str, Any]]:
    """Five rollouts; the n-th gets ``components[n]`` as its reward_components, the rest the usual keys."""
    rows = []
    for n in range(5):
        row = _rollout(n, task=n)
        value = components[n] if n < len(components) else KEYS
        if value is not None:
            row["reward_components"] = value
        rows.append(row)
    return rows


@pytest.mark.parametrize("nemo", [True, False])
def test_consistent_components_and_single_reward_rows_pass(tmp_path: Path, nemo: bool) -> None:
    same = _findings(_tree(tmp_path / "same", nemo=nemo, rollouts=_rows()), "GYM409")["GYM409"]
    assert _statuses(same) == {"pass"}, same
    plain = [_rollout(n, task=n) for n in range(5)]
    none = _findings(_tree(tmp_path / "none", nemo=nemo, rollouts=plain), "GYM409")["GYM409"]
    assert _statuses(none) == {"pass"}, none


@pytest.mark.parametrize(("nemo", "status"), [(True, "warn"), (False, "fail")])
def test_a_key_mismatch_warns_upstream_and_fails_in_a_gymkit_gym(tmp_path: Path, nemo: bool, status: str) -> None:
    rows = _rows({"correctness": 1.0, "style": 0.5}, None)
    found = _findings(_tree(tmp_path, nemo=nemo, rollouts=rows), "GYM409")["GYM409"]
    assert [(f.status, f.line) for f in found] == [(status, 1), (status, 2)], found
    assert "missing {format}; extra {style}" in found[0].message
    assert (
        "no keys differ from the other rows' {correctness, format}: missing {correctness, format}" in found[1].message
    )
    assert ("should remain consistent" in found[0].message) is nemo


@pytest.mark.parametrize("nemo", [True, False])
@pytest.mark.parametrize(
    ("value", "shown"),
    [("1", "format='1'"), (None, "format=None"), (True, "format=True"), ({"a": 1}, "format={'a': 1}")],
)
def test_a_component_that_is_not_a_finite_number_fails_everywhere(
    tmp_path: Path, nemo: bool, value: object, shown: str
) -> None:
    rows = _rows({}, {"correctness": 1.0, "format": value})
    found = _findings(_tree(tmp_path, nemo=nemo, rollouts=rows), "GYM409")["GYM409"]
    bad = [f for f in found if f.line == 2]
    assert [str(f.status) for f in bad] == ["fail"] and shown in bad[0].message, found


def test_components_that_are_not_a_mapping_fail(tmp_path: Path) -> None:
    found = _findings(_tree(tmp_path, rollouts=_rows([1.0, 0.0])), "GYM409")["GYM409"]
    assert [(str(f.status), f.line, f.message) for f in found] == [
        ("fail", 1, "reward_components is list, not a mapping")
    ]
