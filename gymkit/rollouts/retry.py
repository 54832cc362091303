"""When to retry a model call and how long to wait: full-jitter exponential backoff, Retry-After honoured.

Kept apart from the HTTP code so the arithmetic can be tested without a server. Every retry
counts against one budget (``max_retries``) and one clock (``max_time``): a rate-limited
endpoint that never recovers costs at most that long, not the ten minutes it used to.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime

__all__ = ["RetryPolicy", "parse_retry_after"]


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 5
    backoff: float = 0.5  # the first retry waits up to this long; the cap doubles each retry
    max_backoff: float = 30.0
    max_time: float = 300.0  # seconds from the first attempt after which nothing is retried

    def delay(self, retry: int, retry_after: float | None, rng: random.Random | None = None) -> float:
        """Seconds to wait before retry number ``retry`` (1-based).

        Full jitter (uniform in [0, cap]) spreads thousands of rollouts that failed together
        over the window instead of having them retry in lockstep. A server that says when to
        come back is believed, even when that is longer than our own cap.
        """
        cap = min(self.max_backoff, self.backoff * 2 ** min(retry - 1, 30))
        jitter = (rng or random).uniform(0.0, cap)
        return max(jitter, retry_after) if retry_after is not None else jitter

    def gives_up(self, retry: int, elapsed: float, delay: float) -> str | None:
        """Why retry number ``retry`` is not made after ``elapsed`` seconds and a wait of ``delay``; None = retry."""
        if retry > self.max_retries:
            return f"gave up after {self.max_retries} retries"
        if elapsed + delay > self.max_time:
            return f"gave up: the next retry would start after the {self.max_time:g}s retry limit"
        return None


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """A ``Retry-After`` header as seconds from now: delta-seconds or an HTTP-date; None if absent or unreadable."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:  # HTTP-dates are GMT; "-0000" parses without a zone
            when = when.replace(tzinfo=UTC)
        seconds = when.timestamp() - (time.time() if now is None else now)
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)
