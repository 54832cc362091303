"""Step 8 · Review and reproduction: what a reviewer needs to re-run the procedure.

GYM801 rollouts record their model, GYM802 the recorded model is one a reviewer can reach.
`gymkit reproduce NAME` does the re-run itself.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterable

from gymkit.artifacts.rollout import KEY, read_rollout_meta, rollout_meta
from gymkit.checks.fixtures import Fixtures
from gymkit.checks.registry import Check, Finding, Skip, problem, register
from gymkit.errors import InvalidDataError

__all__ = ["GYM801", "GYM802"]

ROLLOUTS = "data/example_rollouts.jsonl"


class Step8(Check):
    step = 8
    requires = frozenset({"GYM402"})


@register
class GYM801(Step8):
    """Every example rollout records the model and endpoint that produced it"""

    def check(self, fx: Fixtures) -> Iterable[Finding] | Skip:
        """Collect the rollouts with `gymkit rollouts NAME`, which stamps each row's `_gymkit` with the
        model, endpoint and sampling settings a reviewer needs to re-collect them. NeMo Gym's rollouts carry
        no such record, and re-verification needs none: there a row without it passes."""
        if fx.rollout_rows is None:
            return Skip("rollouts did not parse")
        problems = []
        for line, row in fx.rollout_rows:
            try:
                meta = read_rollout_meta(row, fx.paths.example_rollouts, line)
            except InvalidDataError as exc:
                problems.append(problem(exc.problem, ROLLOUTS, line))
                continue
            if meta is None and fx.gym == "nemo-gym":
                continue
            if meta is None or not meta.model or not meta.endpoint:
                problems.append(problem(f"no {KEY}.model/{KEY}.endpoint on this rollout", ROLLOUTS, line))
        return problems


@register
class GYM802(Step8):
    """The recorded endpoint is reproducible and carries no credentials"""

    requires = frozenset({"GYM801"})

    def check(self, fx: Fixtures) -> Iterable[Finding] | Skip:
        """Never commit an endpoint URL with a user or password in it; regenerate the rollouts. With a
        hosted model, a reviewer needs access to the same endpoint; the embedded model (`gymkit rollouts
        NAME` without `--base-url`) needs nothing."""
        assert fx.rollout_rows is not None
        problems = []
        for line, row in fx.rollout_rows:
            meta = rollout_meta(row)
            if meta is None or meta.endpoint is None:
                continue  # a NeMo Gym rollout: GYM801 lets it pass without a record
            endpoint = meta.endpoint
            if endpoint == "embedded":
                continue
            parsed = urllib.parse.urlsplit(endpoint)
            if parsed.username or parsed.password:
                problems.append(problem("the recorded endpoint URL contains credentials", ROLLOUTS, line))
            else:
                message = f"recorded with {endpoint}; a reviewer needs access to it to re-collect"
                problems.append(problem(message, ROLLOUTS, line, level="warn"))
        # One warning per file is enough when every row came from the same endpoint.
        unique = {p.message: p for p in problems if p.status == "warn"}
        return [p for p in problems if p.status == "fail"] + list(unique.values())
