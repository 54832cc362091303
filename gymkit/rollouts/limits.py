"""Limits a run takes from its surroundings: the turn limit a server's config sets, the open-files limit."""

from __future__ import annotations

import contextlib
import resource
from pathlib import Path

from gymkit.errors import InvalidServerConfigError
from gymkit.runtime.config import AgentConfig, find_config, load_config

__all__ = ["config_max_steps", "in_flight_ceiling", "raise_open_files_limit"]

MAX_CALLS = 1024  # model calls in flight at most unless pinned: vLLM's and NIM's batch caps are below it
MAX_ROLLOUTS = 8192
_RESERVED_FILES = 256  # the output files, the server's pipes, the event loop, imports
_ROLLOUT_BYTES = 256 * 1024  # a generous estimate of one rollout in flight: history, buffers, its task


def raise_open_files_limit() -> None:
    # Thousands of rollouts in flight need thousands of sockets here and in the server
    # (a child inherits the limit).
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard if hard != resource.RLIM_INFINITY else 65536, hard))


def in_flight_ceiling() -> tuple[int, int]:
    """(model calls, rollouts) the adaptive mode may reach: sockets and memory, each with room to spare.

    Every call holds a socket to the endpoint and every rollout one to the resource server,
    which also answers on a socket of its own when it runs here (a child inherits the limit).
    """
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    files = 65536 if soft == resource.RLIM_INFINITY else soft
    by_files = max(8, (files - _RESERVED_FILES) // 3)
    by_memory = MAX_ROLLOUTS
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                # A quarter of what is free: the model server and the resource server live here too.
                by_memory = max(8, int(line.split()[1]) * 1024 // 4 // _ROLLOUT_BYTES)
    rollouts = min(MAX_ROLLOUTS, by_files, by_memory)
    return min(MAX_CALLS, rollouts), rollouts


def config_max_steps(server_dir: Path) -> int | None:
    """The smallest ``max_steps`` the server's agent blocks set; None when none does."""
    try:
        config = load_config(find_config(server_dir))
    except InvalidServerConfigError:
        return None  # starting the server reports a broken config; a --server-url run needs none
    steps = [a.fields.max_steps for a in config.agents if isinstance(a.fields, AgentConfig) and a.fields.max_steps]
    return min(steps) if steps else None
