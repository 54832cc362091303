"""A collection estimated at over ten minutes says so early: how many rollouts, about how long, how to cut it.

``gymkit profile NAME`` with the embedded model plans 500 prompts x 16 samples, hours of
work, and used to start them without a word. The embedded model's pace is measured and kept
here, so its estimate comes before the first rollout; an endpoint's pace is only known once
it answers, so its estimate comes after the first few rollouts finish.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from gymkit.rollouts.progress import Progress

__all__ = [
    "EMBEDDED_ROLLOUTS_PER_MINUTE",
    "FIRST_COMPLETIONS",
    "LONG_RUN_SECONDS",
    "EstimatingProgress",
    "LongRunNotice",
]

LONG_RUN_SECONDS = 600.0
# Measured by benchmarks/bench_embedded.py (README, "Speed"): 4 slots on 2 shared cores.
EMBEDDED_ROLLOUTS_PER_MINUTE = 8.0
# Rollouts an endpoint finishes before its pace is taken: fewer and the ramp-up dominates.
FIRST_COMPLETIONS = 8


@dataclass(frozen=True)
class LongRunNotice:
    """Where the estimate goes (one line) and the command's own flags that make a run smaller."""

    emit: Callable[[str], None]
    smaller: str  # e.g. "--num-prompts N or --samples K"

    def tell(self, count: int, seconds: float, basis: str) -> None:
        """Emit the line when ``seconds`` is over the threshold (read at call time, so tests can lower it)."""
        if seconds > LONG_RUN_SECONDS:
            self.emit(f"note: {count:,} rollouts will take about {_duration(seconds)} ({basis}); {self.smaller}")

    def before_embedded(self, count: int) -> None:
        self.tell(count, count * 60 / EMBEDDED_ROLLOUTS_PER_MINUTE, "the embedded model's measured pace")


class EstimatingProgress(Progress):
    """The progress bar, which also tells the notice the run's length once the first rollouts are done."""

    def __init__(self, *, notice: LongRunNotice | None, total: int, done: int = 0, enabled: bool = True) -> None:
        super().__init__(total=total, done=done, enabled=enabled)
        self._notice = notice

    def advance(self, reward: float | None) -> None:
        super().advance(reward)
        if self._notice is None or self.finished != FIRST_COMPLETIONS:
            return
        left = self.eta()
        if left is not None:
            whole = time.monotonic() - self._start + left
            self._notice.tell(self.total - self.done, whole, f"at the pace of the first {FIRST_COMPLETIONS}")


def _duration(seconds: float) -> str:
    minutes = round(seconds / 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"
