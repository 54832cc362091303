"""Step 6 · Training validation: reports/training/training.json.

GYM601 exists, parses and is training evidence (not a smoke run), GYM602 fresh (metrics file
unchanged), GYM603 shows improvement.
"""

from __future__ import annotations

from collections.abc import Iterable

from gymkit.artifacts import TrainingReport
from gymkit.checks.fixtures import Fixtures
from gymkit.checks.registry import Check, Finding, Skip, problem, register
from gymkit.hashing import file_sha256

__all__ = ["GYM601", "GYM602", "GYM603"]

TRAINING = "reports/training/training.json"


class Step6(Check):
    step = 6
    requires = frozenset({"GYM601"})

    @staticmethod
    def report(fx: Fixtures) -> TrainingReport:
        assert isinstance(fx.training, TrainingReport)
        return fx.training


@register
class GYM601(Step6):
    """Training evidence exists, parses and comes from training, not from a smoke run"""

    requires = frozenset()

    def check(self, fx: Fixtures) -> Iterable[Finding] | Skip:
        """Train with GRPO on a GPU with a real model (Qwen3-4B class): `gymkit train NAME` writes
        `reports/training/`; or export another trainer's metrics (CSV or JSONL with a step column and a
        reward/accuracy column) and run `gymkit training-report NAME --metrics METRICS`. Commit
        `reports/training/`. A CPU smoke (`gymkit train NAME --smoke`) shows the plumbing works, not that
        the model learns, so it is not training evidence."""
        if fx.training is None:
            if fx.gym == "nemo-gym":
                return Skip(f"{TRAINING} is missing; NeMo Gym does not require gymkit's training report")
            return [problem(f"{TRAINING} is missing", TRAINING)]
        if isinstance(fx.training, str):
            return [problem(f"{TRAINING} cannot be read: {fx.training}", TRAINING)]
        if fx.training.kind == "smoke":
            # Said first, in the message a waiver keeps: a waiver written when no training had been run
            # still matches once a smoke is committed, and its reason alone would not say so.
            message = (
                f"only a smoke is committed: {TRAINING} is smoke evidence (kind: smoke, a tiny model on CPU), "
                f"not training; training evidence comes from `gymkit train {fx.paths.name}` on a GPU with a real model"
            )
            return [problem(message, TRAINING)]
        return []


@register
class GYM602(Step6):
    """The training report is fresh: its metrics file is unchanged"""

    def check(self, fx: Fixtures) -> Iterable[Finding] | Skip:
        """Commit the metrics file the report names and re-run `gymkit training-report` after changing
        it."""
        metrics = self.report(fx).metrics_file
        path = fx.resolve(metrics.path)
        if not path.is_file():
            return [problem(f"the metrics file {metrics.path} is not in the repository", TRAINING)]
        if file_sha256(path) != metrics.sha256:
            return [problem(f"{metrics.path} changed since the report was made", TRAINING)]
        return []


@register
class GYM603(Step6):
    """Training shows improvement"""

    def check(self, fx: Fixtures) -> Iterable[Finding] | Skip:
        """The training reward did not rise significantly. Check the profile (GYM505: are prompts mixed?),
        the reward's correctness and the learning rate, then train again."""
        report = self.report(fx)
        if report.improved:
            return []
        train = report.train
        detail = f" (first {train.first}, last {train.last}, p={train.p_value})"
        return [problem(f"`improved` is {report.improved!r}{detail}", TRAINING)]
