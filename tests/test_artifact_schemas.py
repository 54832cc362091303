"""The JSON Schemas committed in docs/schemas/ are the ones the artifact models give."""

from __future__ import annotations

import json
from pathlib import Path

from gymkit.artifacts.schemas import ARTIFACTS, schemas, write_schemas

COMMITTED = Path(__file__).resolve().parent.parent / "docs" / "schemas"


def test_committed_schemas_are_the_generated_ones(tmp_path: Path) -> None:
    written = write_schemas(tmp_path)
    assert {p.name for p in written} == set(schemas()) and len(written) == len(ARTIFACTS)
    differ = [
        p.name
        for p in written
        if not (COMMITTED / p.name).is_file() or (COMMITTED / p.name).read_bytes() != p.read_bytes()
    ]
    stale = sorted({p.name for p in COMMITTED.glob("*.schema.json")} - {p.name for p in written})
    assert not differ and not stale, (
        f"docs/schemas/: {', '.join(differ + stale)} not what the models give; run `nox -s generate` and commit"
    )


def test_a_schema_names_its_version_and_refuses_unknown_keys() -> None:
    for name, schema in schemas().items():
        assert schema["$id"] == name and schema["x-schema-version"] >= 1
        assert schema["additionalProperties"] is False, name
        assert "schema_version" in schema["properties"], name


def test_write_schemas_removes_a_schema_no_model_gives(tmp_path: Path) -> None:
    (tmp_path / "gone.schema.json").write_text(json.dumps({"title": "an artifact since removed"}))
    (tmp_path / "notes.md").write_text("not a schema: kept")
    write_schemas(tmp_path)
    assert not (tmp_path / "gone.schema.json").exists() and (tmp_path / "notes.md").is_file()
