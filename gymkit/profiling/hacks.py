"""Model-found reward hacks: full-reward rollouts whose answer looks like one of the audit's probes.

GRPO finds a hackable verifier within a few steps; the reward profile (step 5) is the first
place a model's own attempts meet the verifier, so its full-reward rollouts are read with the
audit's criteria (``gymkit.audit.suspicious``: echoes, hedges, tool-output pastes, claims of
being correct). Reading costs milliseconds a rollout, so a large profile reads a bounded
number of them and says how many.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gymkit.audit.suspicious import suspicious

__all__ = ["MAX_READ", "HackFlags"]

MAX_READ = 2_000
MAX_EXAMPLES = 10


@dataclass
class HackFlags:
    threshold: float = 1.0
    read: int = 0
    rewarded: int = 0
    by_flag: Counter[str] = field(default_factory=Counter)
    flagged: int = 0
    examples: list[dict[str, Any]] = field(default_factory=list)

    def add(self, row: dict[str, Any], reward: float, path: Path | str, line: int | None) -> None:
        if reward < self.threshold:
            return
        self.rewarded += 1
        if self.read >= MAX_READ:
            return
        self.read += 1
        # A rollout row carries its task's fields, so it is its own task row.
        flags = suspicious(row, row)
        if not flags:
            return
        self.flagged += 1
        self.by_flag.update(flags)
        if len(self.examples) < MAX_EXAMPLES:
            where = {"file": str(path), "line": line, "task": row.get("_ng_task_index")}
            self.examples.append({**where, "flags": flags})

    def report(self) -> dict[str, Any]:
        return {
            "threshold": self.threshold,
            "rewarded": self.rewarded,
            "read": self.read,
            "flagged": self.flagged,
            "by_flag": dict(self.by_flag.most_common()),
            "examples": self.examples,
        }
