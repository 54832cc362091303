"""A progress bar with rollouts/s, time left, the running mean reward and the model calls; silent off a terminal.

The second line shows model calls in flight against the limit, their latency and calls/s:
what the limiter (limiter.py) sees, so a run that is slow because the endpoint is full can
be told from one that does not feed it.

The rate counts this run's rollouts only (a resume starts with rows done earlier, which
would make the first seconds look impossibly fast) and the time left is what is still to do
at that rate.
"""

from __future__ import annotations

import time
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
from rich.progress import Progress as RichProgress

from gymkit.rollouts.limiter import LimiterStats

__all__ = ["Progress"]


class Progress:
    def __init__(self, *, total: int, done: int = 0, enabled: bool = True) -> None:
        self.total = total
        self.done = done
        self.rewards = 0.0
        self.scored = 0
        self.finished = 0
        self._start = time.monotonic()
        self._calls = (self._start, 0)
        self.call_line = ""
        console = Console(stderr=True)
        self._bar: RichProgress | None = None
        if enabled and console.is_terminal:
            self._bar = RichProgress(
                TextColumn("rollouts"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]:.1f}/s  ETA {task.fields[eta]}  mean reward {task.fields[mean]}"),
                TimeElapsedColumn(),
                TextColumn("{task.fields[calls]}"),
                console=console,
                transient=False,
            )
            self._task = self._bar.add_task(
                "rollouts", total=total, completed=done, rate=0.0, eta="-", mean="-", calls=""
            )

    def rate(self, now: float | None = None) -> float:
        """Rollouts finished per second by this run."""
        elapsed = max((time.monotonic() if now is None else now) - self._start, 1e-9)
        return self.finished / elapsed

    def eta(self, now: float | None = None) -> float | None:
        """Seconds until every rollout is done at the current rate; None before the first finishes."""
        rate = self.rate(now)
        if not self.finished or rate <= 0:
            return None
        return max(0, self.total - self.done - self.finished) / rate

    def advance(self, reward: float | None) -> None:
        self.finished += 1
        if reward is not None:
            self.rewards += reward
            self.scored += 1
        if self._bar is not None:
            mean = f"{self.rewards / self.scored:.3f}" if self.scored else "-"
            self._bar.update(self._task, advance=1, rate=self.rate(), eta=_clock(self.eta()), mean=mean)

    def calls(self, stats: LimiterStats) -> None:
        """Show the model calls: in flight / limit, latency, calls per second since the last update."""
        now = time.monotonic()
        per_second = (stats.calls - self._calls[1]) / max(now - self._calls[0], 1e-9)
        self._calls = (now, stats.calls)
        self.call_line = call_line(stats, per_second)
        if self._bar is not None:
            self._bar.update(self._task, calls=self.call_line)

    def __enter__(self) -> Progress:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._bar is not None:
            self._bar.stop()


def call_line(stats: LimiterStats, per_second: float) -> str:
    latency = f"{stats.latency * 1000:.0f} ms" if stats.latency is not None else "-"
    queued = f", {stats.waiting} waiting" if stats.waiting else ""
    return f"model calls {stats.in_flight}/{stats.limit} in flight{queued}, {latency}, {per_second:.0f}/s"


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes, secs = divmod(int(seconds + 0.5), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
