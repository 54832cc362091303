"""Waivers: ``gymkit: {waive: {CODE: reason}}`` in a server's config, applied by replacing findings."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from gymkit.findings.model import Finding

if TYPE_CHECKING:
    from gymkit.runtime.config import ServerConfigFile

__all__ = ["UNWAIVABLE", "apply_waivers", "load_waivers", "read_waivers"]

F = TypeVar("F", bound=Finding)

# The check that reports bad waivers cannot itself be waived.
UNWAIVABLE = frozenset({"GYM209"})


def read_waivers(config: ServerConfigFile | None) -> tuple[dict[str, Any], str | None]:
    """(waivers by code, why the block is malformed or None) from the resources-server block."""
    if config is None:
        return {}, None
    extra = config.resources_server.model_extra or {}
    block = extra.get("gymkit")
    if block is None:
        return {}, None
    waive = block.get("waive", {}) if isinstance(block, dict) else None
    if not isinstance(waive, dict):
        return {}, "`gymkit:` must be a mapping with `waive: {CODE: reason}`"
    return {str(code): reason for code, reason in waive.items()}, None


def load_waivers(server_dir: Path, root: Path) -> dict[str, Any]:
    """The waivers of the server in ``server_dir``; none when its config is absent or does not load."""
    from gymkit.errors import GymkitError
    from gymkit.runtime.config import find_config, load_config

    try:
        return read_waivers(load_config(find_config(server_dir), root_dir=root))[0]
    except GymkitError:
        return {}


def apply_waivers(findings: Iterable[F], waivers: Mapping[str, Any]) -> list[F]:
    """Each finding, replaced by its waived form where a written, non-empty reason names its code."""
    out = []
    for finding in findings:
        reason = waivers.get(finding.code)
        if isinstance(reason, str) and reason.strip() and finding.code not in UNWAIVABLE:
            finding = finding.waive(" ".join(reason.split()))
        out.append(finding)
    return out
