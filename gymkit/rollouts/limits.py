"""Limits a run takes from its surroundings: the turn limit a server's config sets, the open-files limit."""

from __future__ import annotations

import contextlib
import resource
from pathlib import Path

from gymkit.config import AgentConfig, find_config, load_config
from gymkit.errors import InvalidServerConfigError

__all__ = ["config_max_steps", "raise_open_files_limit"]


def raise_open_files_limit() -> None:
    # Thousands of rollouts in flight need thousands of sockets here and in the server
    # (a child inherits the limit).
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard if hard != resource.RLIM_INFINITY else 65536, hard))


def config_max_steps(server_dir: Path) -> int | None:
    """The smallest ``max_steps`` the server's agent blocks set; None when none does."""
    try:
        config = load_config(find_config(server_dir))
    except InvalidServerConfigError:
        return None  # starting the server reports a broken config; a --server-url run needs none
    steps = [a.fields.max_steps for a in config.agents if isinstance(a.fields, AgentConfig) and a.fields.max_steps]
    return min(steps) if steps else None
