"""A freshly scaffolded server fails exactly what its contributor still owes, each with a fix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gymkit.cli import app

ROOT = Path(__file__).resolve().parents[2]
OWED = {
    "GYM103": "train/validation data licence is TBD",
    "GYM212": "README TODOs: task source and data licence",
    "GYM303": "a result of gymkit test (the new server's tests have not run yet)",
    "GYM401": "example rollouts",
    "GYM501": "reward profile",
    "GYM601": "training evidence",
    "GYM701": "PR information (task source, licences, synthetic data)",
}


@pytest.mark.slow
def test_new_server_fails_exactly_what_the_contributor_owes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if not (ROOT / "copier.yml").is_file():
        pytest.skip("no template in this checkout")
    (tmp_path / "resources_servers").mkdir()
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    created = runner.invoke(app, ["new", "fresh", "--defaults", "--template", str(ROOT)])
    assert created.exit_code == 0, created.output
    result = runner.invoke(app, ["check", "fresh", "--format", "json"])
    assert result.exit_code == 1, result.output
    findings = json.loads(result.output)["servers"][0]["findings"]
    failing = [f for f in findings if f["status"] == "fail"]
    assert {f["code"] for f in failing} == set(OWED), failing
    assert all(f["fix"] for f in failing)
    readme_lines = {f["line"] for f in failing if f["code"] == "GYM212"}
    text = (tmp_path / "resources_servers" / "fresh" / "README.md").read_text().splitlines()
    assert all("TODO" in text[n - 1] or "TBD" in text[n - 1] for n in readme_lines)
    # What the template itself provides passes: config, app, tests, README structure, code licence.
    passing = {f["code"] for f in findings if f["status"] == "pass"}
    assert {"GYM101", "GYM102", "GYM202", "GYM203", "GYM210", "GYM213", "GYM214", "GYM302"} <= passing
