"""copier.yml must offer exactly the values gymkit's config accepts, and refuse what gymkit refuses."""

from __future__ import annotations

import keyword
import re
from pathlib import Path

import copier
import pytest
import yaml

from gymkit.config import DatasetLicense, Domain

from .conftest import REPO

QUESTIONS = yaml.safe_load((REPO / "copier.yml").read_text())


def test_domain_choices_are_the_domain_enum() -> None:
    assert QUESTIONS["domain"]["choices"] == [d.value for d in Domain]
    assert QUESTIONS["domain"]["default"] in QUESTIONS["domain"]["choices"]


def test_data_licence_choices_are_the_licence_enum() -> None:
    assert QUESTIONS["data_license"]["choices"] == [lic.value for lic in DatasetLicense]
    assert QUESTIONS["data_license"]["default"] in QUESTIONS["data_license"]["choices"]


def test_name_validator_lists_every_lowercase_keyword() -> None:
    validator = QUESTIONS["server_name"]["validator"]
    listed = set(re.findall(r"'([a-z]+)'", validator[validator.index("{% elif server_name in ['and'") :]))
    assert listed == {k for k in keyword.kwlist if k.islower()}


def test_name_validator_lists_the_yaml_words_gymkit_refuses() -> None:
    from gymkit.scaffold.new import _YAML_WORDS

    (words,) = re.findall(r"server_name in (\['y'.*?\])", QUESTIONS["server_name"]["validator"], re.DOTALL)
    assert set(yaml.safe_load(words)) == _YAML_WORDS


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
