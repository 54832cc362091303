"""What an upstream server's own Ray cluster could not give it, read from that cluster's logs.

wmt_translation scores with xCOMET-XXL in Ray actors that ask for ``extra_gpu``, a resource
only the GPU node of NeMo Gym's deployment advertises. Started here, the actors wait for a node
that never comes and verify does not answer; nothing the server prints says why. Ray's raylet
does: "The lease ... cannot be scheduled right now. It requires {extra_gpu: 1, CPU: 1} for
placement". gymkit starts the server's Ray with its own temporary folder (RAY_TMPDIR), so the
logs read here are that server's, read before the folder is removed.
"""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["unschedulable"]

_WANTED = re.compile(r"cannot be scheduled right now\. It requires (\{[^{}]{1,200}\}) for placement")
_MAX_BYTES = 2_000_000  # of each raylet log's end
_MAX_KINDS = 4


def unschedulable(runtime: Path) -> list[str]:
    """The resource sets the server's Ray could not place (``{extra_gpu: 1, CPU: 1}``), first seen first."""
    found: list[str] = []
    for log in sorted(runtime.glob("ray/session_*/logs/raylet*.out")):
        try:
            with log.open("rb") as handle:
                handle.seek(max(0, log.stat().st_size - _MAX_BYTES))
                text = handle.read().decode("utf-8", "replace")
        except OSError:
            continue
        for match in _WANTED.finditer(text):
            if match.group(1) not in found:
                found.append(match.group(1))
                if len(found) == _MAX_KINDS:
                    return found
    return found
