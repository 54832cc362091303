"""Step 4 · GYM409: the example rollouts' reward components agree.

A multi-reward environment (NeMo Gym's ``BaseMultiRewardVerifyResponse``, gymkit's too) returns
``reward_components``, a mapping of objective name to number beside the scalar ``reward``. Trainers
and ``gymkit profile`` read one series per key, so a row that drops or renames a key splits a series,
and a value that is not a finite number poisons its mean.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from gymkit.checks.fixtures import Fixtures
from gymkit.checks.registry import Finding, Skip, problem, register
from gymkit.checks.step4_rollouts import ROLLOUTS, Step4
from gymkit.inputs import finite_number

__all__ = ["COMPONENTS", "GYM409"]

COMPONENTS = "reward_components"
# Upstream states the key rule only in a docstring, so in a checkout a mismatch is a warning quoting it.
_UPSTREAM_RULE = (
    " (NeMo Gym's BaseMultiRewardVerifyResponse: its objective keys"
    ' "should remain consistent across every task in the environment")'
)


def _keys(names: Iterable[str]) -> str:
    return "{" + ", ".join(sorted(names)) + "}" if names else "no keys"


@register
class GYM409(Step4):
    """When example rollouts carry reward_components, every one has the same keys, each a finite number"""

    requires = frozenset({"GYM402"})

    def check(self, fx: Fixtures) -> Iterable[Finding] | Skip:
        """Return the same objectives from verify for every task (the same names, each a finite number: 0.0 for
        an objective that does not apply, never a missing key, null or NaN), set `reward` to their aggregate, and
        collect the rollouts again (`gymkit rollouts NAME`)."""
        rows = fx.rollout_rows
        if rows is None:
            return Skip("rollouts did not parse")
        if not any(COMPONENTS in row for _, row in rows):
            return []  # a single-reward environment: nothing to compare
        found: list[Finding] = []
        key_sets: dict[int, frozenset[str]] = {}
        for line, row in rows:
            components: Any = row.get(COMPONENTS, {})
            if not isinstance(components, dict):
                found.append(problem(f"{COMPONENTS} is {type(components).__name__}, not a mapping", ROLLOUTS, line))
                continue
            key_sets[line] = frozenset(components)
            bad = {name: value for name, value in components.items() if not finite_number(value)}
            if bad:
                shown = ", ".join(f"{name}={value!r}" for name, value in sorted(bad.items()))
                found.append(problem(f"{COMPONENTS} not a finite number: {shown}", ROLLOUTS, line))
        if key_sets:
            found += _mismatches(key_sets, upstream=fx.gym == "nemo-gym")
        return sorted(found, key=lambda f: f.line or 0)


def _mismatches(key_sets: dict[int, frozenset[str]], *, upstream: bool) -> list[Finding]:
    """A finding for each row whose keys are not the commonest set (ties go to the earliest row)."""
    usual, _ = Counter(key_sets.values()).most_common(1)[0]
    found = []
    for line, keys in key_sets.items():
        if keys == usual:
            continue
        missing, extra = usual - keys, keys - usual
        parts = [f"missing {_keys(missing)}"] if missing else []
        parts += [f"extra {_keys(extra)}"] if extra else []
        message = f"{COMPONENTS} keys {_keys(keys)} differ from the other rows' {_keys(usual)}: {'; '.join(parts)}"
        if upstream:
            found.append(problem(message + _UPSTREAM_RULE, ROLLOUTS, line, level="warn"))
        else:
            found.append(problem(message, ROLLOUTS, line))
    return found
