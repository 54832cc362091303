from __future__ import annotations

import inspect

import pytest

from gymkit.contribution.licenses import compatibility, licence_by_name, parse_spdx, repository_license
from gymkit.contribution.readme import Readme, placeholder_lines

README = inspect.cleandoc(
    """
    # demo

    ## Description

    What is 2 + 3? A question mark in prose is fine.

    ## Licensing information

    | item | licence |
    |---|---|
    | **Code** | MIT |
    - Data licence: CC BY-SA 4.0
    - Dependencies: ?

    ```
    TODO inside a code block is an example, not a placeholder
    ```
    """
)


def test_sections_and_licensing_fields_are_read_from_lists_and_tables() -> None:
    readme = Readme.parse(README)
    assert readme.section("description") is not None
    assert readme.section("Task source") is None
    fields = readme.licensing()
    assert fields["code"][1] == "MIT"
    assert fields["data"] == (12, "CC BY-SA 4.0")
    assert fields["dependencies"][1] == "?"


def test_placeholders_are_found_outside_code_blocks_only() -> None:
    hits = placeholder_lines(Readme.parse(README))
    assert [line for line, _ in hits] == [13]
    assert placeholder_lines(Readme.parse("## Description\n\nTODO: write me\n{{ server_name }}\n")) == [
        (3, "TODO"),
        (4, "{{ server_name }}"),
    ]


@pytest.mark.parametrize(
    ("expression", "verdict"),
    [
        ("Apache-2.0", "ok"),
        ("MIT OR GPL-3.0-only", "ok"),
        ("GPL-3.0-or-later", "copyleft"),
        ("AGPL-3.0-only", "copyleft"),
        ("GPL-2.0-only WITH Classpath-exception-2.0", "copyleft"),
        ("MIT AND LGPL-2.1-only", "weak-copyleft"),
        ("MPL-2.0", "weak-copyleft"),
        ("CC-BY-NC-4.0", "restricted"),  # no commercial use: the prefix lists this replaced read it as ok
        ("BUSL-1.1", "restricted"),
        ("ODbL-1.0", "copyleft"),
        ("MIT OR CC-BY-NC-4.0", "ok"),
        ("CECILL-2.1", "copyleft"),  # ScanCode says limited; it reaches a combined work as the GPL does
        ("LicenseRef-scancode-unknown", "unclear"),
        ("Apache-2.0 WITH LicenseRef-scancode-commons-clause", "restricted"),  # the exception forbids selling
        ("Apache-2.0 WITH LLVM-exception", "ok"),
        ("LicenseRef-scancode-nvidia", "unclear"),  # permissive to ScanCode, but no SPDX licence: a maintainer's call
    ],
)
def test_code_licence_compatibility(expression: str, verdict: str) -> None:
    parsed, error = parse_spdx(expression)
    assert error is None
    assert compatibility(parsed)[0] == verdict


@pytest.mark.parametrize(
    ("name", "spdx", "verdict"),
    [
        ("Apache 2.0", "Apache-2.0", "ok"),
        ("Apache License, Version 2.0", "Apache-2.0", "ok"),
        ("The MIT License.", "MIT", "ok"),
        ("CC0 1.0", "CC0-1.0", "ok"),
        ("GPLv3", "GPL-3.0-only", "copyleft"),
        ("GNU GPL 3.0", "GPL-3.0-only", "copyleft"),
        ("GNU General Public License v3.0", "GPL-3.0-only", "copyleft"),
        ("AGPLv3", "AGPL-3.0-only", "copyleft"),
        ("GNU Lesser General Public License v2.1", "LGPL-2.1-only", "weak-copyleft"),
        # Names ScanCode knows and SPDX does not: they were read as permissive because no prefix matched.
        ("AGPL 2.0", "LicenseRef-scancode-agpl-2.0", "copyleft"),
        ("Other Copyleft", "LicenseRef-scancode-other-copyleft", "copyleft"),
        ("Unknown", "LicenseRef-scancode-unknown", "unclear"),
        ("Other Permissive", "LicenseRef-scancode-other-permissive", "unclear"),
        ("CC BY-NC 4.0", "CC-BY-NC-4.0", "restricted"),
    ],
)
def test_a_licence_named_as_people_write_it_is_that_licence(name: str, spdx: str, verdict: str) -> None:
    assert licence_by_name(name) == spdx
    assert compatibility(parse_spdx(spdx)[0])[0] == verdict


def test_a_name_that_keys_two_licences_is_none_of_them() -> None:
    from gymkit.contribution.licenses import _by_key

    shared = [key for key, ids in _by_key().items() if len(ids) > 1]
    assert shared, "the licence index has no key shared by two licences any more"
    assert all(licence_by_name(key) is None for key in shared)


def test_reading_a_name_stays_linear_on_unclosed_tags() -> None:
    assert licence_by_name("<" * 100_000 + "MIT") is None  # quadratic before: minutes on this


@pytest.mark.parametrize("text", ["Apache 2.0", "?", "", "Foo-1.0"])
def test_invalid_spdx_expressions_are_refused(text: str) -> None:
    parsed, error = parse_spdx(text)
    assert parsed is None and error


def test_repository_licence_comes_from_pyproject(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "resources_servers" / "x").mkdir(parents=True)
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "gym"\nlicense = "MIT"\n')
    assert repository_license(tmp_path / "resources_servers" / "x") == "MIT"
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "gym"\n')
    assert repository_license(tmp_path / "resources_servers" / "x") == "Apache-2.0"
    (tmp_path / "LICENSE").write_text("MIT License\n\nCopyright (c) the gym authors\n")
    assert repository_license(tmp_path / "resources_servers" / "x") == "MIT"
