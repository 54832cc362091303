"""A progress bar with rollouts/s and the running mean reward; silent when not on a terminal."""

from __future__ import annotations

import time
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
from rich.progress import Progress as RichProgress

__all__ = ["Progress"]


class Progress:
    def __init__(self, *, total: int, done: int = 0, enabled: bool = True) -> None:
        self.total = total
        self.done = done
        self.rewards = 0.0
        self.scored = 0
        self.finished = 0
        self._start = time.monotonic()
        console = Console(stderr=True)
        self._bar: RichProgress | None = None
        if enabled and console.is_terminal:
            self._bar = RichProgress(
                TextColumn("rollouts"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]:.1f}/s  mean reward {task.fields[mean]}"),
                TimeElapsedColumn(),
                console=console,
                transient=False,
            )
            self._task = self._bar.add_task("rollouts", total=total, completed=done, rate=0.0, mean="-")

    def advance(self, reward: float | None) -> None:
        self.finished += 1
        if reward is not None:
            self.rewards += reward
            self.scored += 1
        if self._bar is not None:
            elapsed = max(time.monotonic() - self._start, 1e-9)
            mean = f"{self.rewards / self.scored:.3f}" if self.scored else "-"
            self._bar.update(self._task, advance=1, rate=self.finished / elapsed, mean=mean)

    def __enter__(self) -> Progress:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._bar is not None:
            self._bar.stop()
