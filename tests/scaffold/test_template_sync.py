"""copier.yml (its rule blocks generated, tests/test_generated.py) refuses what gymkit refuses."""

from __future__ import annotations

from pathlib import Path

import copier
import pytest
import yaml

from .conftest import REPO

QUESTIONS = yaml.safe_load((REPO / "copier.yml").read_text())


def test_template_settings() -> None:
    assert QUESTIONS["_subdirectory"] == "templates/resource_server"
    assert QUESTIONS["_answers_file"] == ".copier-answers.yml"
    for name, question in QUESTIONS.items():
        if not name.startswith("_"):
            assert question.get("help") and question.get("type"), name


@pytest.mark.parametrize(
    ("answers", "refusal"),
    [
        ({"server_name": "Bad-Name"}, "use a snake_case identifier"),
        ({"server_name": "class"}, "class is a Python keyword"),
        ({"server_name": "my_task\n"}, "use a snake_case identifier"),
        ({"server_name": "a" * 65}, "use a snake_case identifier"),
        ({"server_name": "yes"}, "yes means true, false or null in YAML"),
        ({"server_name": "ok_name", "code_license": "Apache 2"}, "use an SPDX licence identifier"),
    ],
)
def test_plain_copier_refuses_what_gymkit_refuses(tmp_path: Path, answers: dict[str, str], refusal: str) -> None:
    # Someone running copier by hand on a copy of the template meets the same rules.
    source = tmp_path / "template"
    source.mkdir()
    (source / "copier.yml").write_text((REPO / "copier.yml").read_text())
    (source / "templates").symlink_to(REPO / "templates")
    with pytest.raises(ValueError, match=refusal):
        copier.run_copy(str(source), tmp_path / "out", data=answers, defaults=True, quiet=True)
    assert not (tmp_path / "out").exists()
