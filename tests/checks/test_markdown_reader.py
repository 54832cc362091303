"""Headings as a Markdown renderer sees them: a ``#`` line in a code block is code, not a section."""

from __future__ import annotations

import inspect

from gymkit.contribution.readme import Readme, placeholder_lines
from gymkit.prbody import PR_SECTIONS, check_pr_body

# A shell comment in a tilde fence, and a fence of four backticks around a three-backtick one:
# both keep their "#" lines as code.
README = inspect.cleandoc(
    """
    # demo

    ## Description

    Run it:

    ~~~bash
    # Licensing information
    pip install demo  # TODO pin
    ~~~

    ````markdown
    ```
    ## Task source
    ```
    ````

    ## Verification logic

    Exact match.
    """
)


def test_hash_lines_inside_fenced_code_are_not_sections() -> None:
    readme = Readme.parse(README)
    assert [s.title for s in readme.sections] == ["demo", "Description", "Verification logic"]
    assert readme.licensing_section() is None
    assert readme.section("Task source") is None
    description = readme.section("Description")
    assert description is not None
    assert "# Licensing information" in description.text
    assert "## Task source" in description.text


def test_placeholders_inside_any_fence_are_examples() -> None:
    assert placeholder_lines(Readme.parse(README)) == []
    unfenced = Readme.parse(README.replace("~~~bash", "").replace("~~~", ""))
    assert [text for _, text in placeholder_lines(unfenced)] == ["TODO"]


def _pr_body(**sections: str) -> str:
    return "\n\n".join(f"## {name}\n\n{sections.get(name, 'Filled in.')}" for name, _ in PR_SECTIONS)


def test_a_pr_section_shown_in_a_code_block_does_not_count() -> None:
    example = "Write it like this:\n\n```markdown\n## Synthetic data\n\nNone\n```"
    body = _pr_body().replace("## Synthetic data\n\nFilled in.", example)
    problems = check_pr_body(body)
    assert [(p.section, p.message.split(" (")[0]) for p in problems] == [
        ("Synthetic data", "no '## Synthetic data' section")
    ]
    assert check_pr_body(_pr_body()) == []


def test_setext_and_closing_hashes_are_headings_as_rendered() -> None:
    readme = Readme.parse("Description\n===========\n\nA demo.\n\n## Task source ##\n\nGSM8K.\n")
    assert [(s.title, s.line) for s in readme.sections] == [("Description", 1), ("Task source", 6)]
    description = readme.section("Description")
    assert description is not None and description.text == "A demo."


def test_line_numbers_hold_for_windows_line_ends() -> None:
    text = "# demo\n\n## Licensing information\n\n- Code licence: MIT\n- Data licence: TODO\n"
    unix, windows = Readme.parse(text), Readme.parse(text.replace("\n", "\r\n"))
    assert windows.lines == unix.lines
    assert [(s.title, s.line) for s in windows.sections] == [("demo", 1), ("Licensing information", 3)]
    assert windows.licensing() == unix.licensing() == {"code": (5, "MIT"), "data": (6, "TODO")}
    assert placeholder_lines(windows) == placeholder_lines(unix) == [(6, "TODO")]
