"""``<output stem>.run.json``: the settings a rollout collection was started with.

``--resume`` compares these with its own and refuses any difference, so the keys other than
the informational ones must mean the same thing in every gymkit that reads the file.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from gymkit.artifacts.io import Artifact

__all__ = ["INFO_KEYS", "RunIdentity"]

# Recorded for the person reading the file; a difference does not change the rows.
INFO_KEYS = frozenset({"input", "gymkit_version", "started_at"})


class RunIdentity(Artifact):
    SCHEMA_NAME: ClassVar[str] = "run"

    # Every key may be absent: a file from an older gymkit recorded fewer, and a resume
    # compares only the keys both sides have.
    input: str | None = Field(default=None, description="The task file as given on the command line.")
    input_sha256: str | None = None
    limit: int | None = None
    repeats: int | None = None
    model: str | None = None
    endpoint: str | None = None
    api: str | None = None
    sampling: dict[str, Any] | None = None
    max_steps: int | None = None
    gymkit_version: str | None = None
    started_at: str | None = None

    def settings(self) -> dict[str, Any]:
        """What a resume must match: every recorded key but the informational ones."""
        return {k: v for k, v in self.model_dump(exclude_unset=True).items() if k not in INFO_KEYS | {"schema_version"}}
