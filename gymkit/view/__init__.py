"""``gymkit view``: a local page to read rollouts, their groups and the figures behind a profile."""

from __future__ import annotations

from gymkit.view.index import RolloutIndex, build_index
from gymkit.view.server import create_app, loopback_hosts

__all__ = ["RolloutIndex", "build_index", "create_app", "loopback_hosts"]
