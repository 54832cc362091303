"""Step 4 · Example rollouts.

GYM401 the file exists, GYM402 valid rows with rewards in [0, 1], GYM403 one rollout per
example row, GYM404 re-verification reproduces the stored rewards, GYM405 the README says
how to start the server.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from gymkit.checks.fixtures import Fixtures
from gymkit.checks.registry import Check, Finding, Skip, problem, register
from gymkit.reverify import match_rollouts

__all__ = ["GYM401", "GYM402", "GYM403", "GYM404", "GYM405"]

ROLLOUTS = "data/example_rollouts.jsonl"


class Step4(Check):
    step = 4


@register
class GYM401(Step4):
    """data/example_rollouts.jsonl exists"""

    def check(self, fx: Fixtures) -> Iterable[Finding] | Skip:
        """Generate it with `gymkit rollouts NAME` (the embedded model needs no GPU or network) and commit
        it with the server."""
        path = fx.paths.example_rollouts
        # A FIFO or a symlink out of the repository is there: GYM402 says why it cannot be read.
        present = path.exists() or path.is_symlink()
        return [] if present else [problem(f"{ROLLOUTS} is missing", ROLLOUTS)]


@register
class GYM402(Step4):
    """Every example rollout is a valid rollout row with a finite reward in [0, 1]"""

    requires = frozenset({"GYM401"})

    def check(self, fx: Fixtures) -> Iterable[Finding] | Skip:
        """Regenerate the file with `gymkit rollouts NAME` rather than editing it by hand; if a reward is
        out of range or not finite, fix verify so it returns a reward between 0 and 1."""
        problems = fx.rollout_problems
        if problems is None:
            return Skip(f"no {ROLLOUTS}")
        return [problem(p.message, fx.rel(p.path), p.line) for p in problems]


@register
class GYM403(Step4):
    """One rollout per example row, each matching its example's input"""

    requires = frozenset({"GYM102", "GYM402"})

    def check(self, fx: Fixtures) -> Iterable[Finding] | Skip:
        """Regenerate the rollouts from the current `data/example.jsonl` with `gymkit rollouts NAME`: the
        examples changed since the rollouts were collected."""
        examples, rollouts = fx.example_rows, fx.rollout_rows
        if examples is None or rollouts is None:
            return Skip("examples or rollouts did not parse")
        matched = match_rollouts([row for _, row in examples], rollouts)
        problems = [
            problem("this rollout's input matches no row of data/example.jsonl", ROLLOUTS, line)
            for line, index in matched.items()
            if index is None
        ]
        covered = {index for index in matched.values() if index is not None}
        problems += [
            problem("this example has no rollout in " + ROLLOUTS, "data/example.jsonl", line)
            for index, (line, _) in enumerate(examples)
            if index not in covered
        ]
        return problems


@register
class GYM404(Step4):
    """Re-verification: verify reproduces every stored reward"""

    requires = frozenset({"GYM202", "GYM203", "GYM402"})
    slow = True

    @classmethod
    def prefetch(cls, fx: Fixtures) -> None:
        if fx.options.reverify:
            fx.reverify  # noqa: B018 - computing the cached fixture is the point

    def check(self, fx: Fixtures) -> Iterable[Finding] | Skip:
        """Run `gymkit reproduce NAME` to see each differing row. If verify changed on purpose,
        regenerate the rollouts (`gymkit rollouts NAME`); if it should not have changed, verify is not
        deterministic (randomness, time, network) - make it depend only on its input."""
        if not fx.options.reverify:
            return Skip("re-verification turned off (--no-reverify)")
        report = fx.reverify
        if report.error:
            return [problem(report.error, "app.py")]
        if report.reverify_mode == "unsupported":
            return Skip("the server declares reverify_mode 'unsupported'")
        problems = []
        for row in report.differences:
            if row.error:
                problems.append(problem(row.error, ROLLOUTS, row.line))
            else:
                problems.append(
                    problem(f"stored reward {row.stored}, verify now returns {row.reward}", ROLLOUTS, row.line)
                )
        return problems


_START_COMMAND = re.compile(r"gymkit\s+(serve|reproduce|rollouts)|ng_run", re.IGNORECASE)


@register
class GYM405(Step4):
    """The README shows the command that starts the server"""

    requires = frozenset({"GYM210"})

    def check(self, fx: Fixtures) -> Iterable[Finding] | Skip:
        """Add the command a reviewer runs, e.g. `gymkit serve NAME` (and `gymkit rollouts NAME` for the
        example rollouts), in a code block of README.md."""
        assert fx.readme is not None
        text = "\n".join(fx.readme.lines)
        return (
            [] if _START_COMMAND.search(text) else [problem("no `gymkit serve NAME` command in README.md", "README.md")]
        )
