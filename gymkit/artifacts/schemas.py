"""The JSON Schemas of gymkit's artifacts, for tools that read the files without gymkit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from gymkit.artifacts.check_report import CheckReport
from gymkit.artifacts.io import Artifact
from gymkit.artifacts.profile import RewardProfile
from gymkit.artifacts.rollout import RolloutMeta
from gymkit.artifacts.run import RunIdentity
from gymkit.artifacts.stamp import TestStampFile
from gymkit.artifacts.training import TrainingReport
from gymkit.jsonl import atomic_write_bytes

__all__ = ["ARTIFACTS", "schemas", "write_schemas"]

ARTIFACTS: tuple[type[Artifact], ...] = (
    RewardProfile,
    TrainingReport,
    TestStampFile,
    RunIdentity,
    RolloutMeta,
    CheckReport,
)
_SUFFIX = ".schema.json"


def schemas() -> dict[str, dict[str, Any]]:
    """Schema file name (``reward_profile.schema.json``) -> its JSON Schema."""
    out = {}
    for model in ARTIFACTS:
        schema = model.model_json_schema()
        schema["$id"] = f"{model.SCHEMA_NAME}{_SUFFIX}"
        schema["x-schema-version"] = model.SCHEMA_VERSION
        out[f"{model.SCHEMA_NAME}{_SUFFIX}"] = schema
    return out


def write_schemas(directory: Path) -> list[Path]:
    """Write every schema into ``directory`` (atomically, each file); stale schema files there are removed."""
    written = []
    generated = schemas()
    for name, schema in generated.items():
        path = directory / name
        atomic_write_bytes(path, orjson.dumps(schema, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n")
        written.append(path)
    for stale in directory.glob(f"*{_SUFFIX}"):
        if stale.name not in generated:
            stale.unlink()
    return written
