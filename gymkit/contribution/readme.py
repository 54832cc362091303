"""A server README as the checklist reads it: required sections, licensing fields, placeholders.

The scaffold's README template and these rules are one contract: a section is a Markdown
heading whose text starts with one of :data:`README_SECTIONS`; the licensing section holds
``Code licence: ...``, ``Data licence: ...`` and ``Dependencies: ...`` lines (bullets,
bold labels and table rows are fine).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from gymkit.contribution.markdown import read_markdown

__all__ = ["LICENSING_FIELDS", "README_SECTIONS", "Readme", "Section", "placeholder_lines"]

README_SECTIONS = ("Description", "Task source", "Verification logic", "Licensing information")
LICENSING_FIELDS = {"code": "Code licence", "data": "Data licence", "dependencies": "Dependencies"}

_FIELD = re.compile(
    r"^\s*(?:[-*+]\s+|\|\s*)?\**\s*(?P<label>code|software|data(?:set)?s?|dependenc(?:y|ies))\b[^:|]*?\**\s*[:|]\s*(?P<value>.*)$",
    re.IGNORECASE,
)
# What the template leaves for the contributor, and what people write when they mean to come back.
_PLACEHOLDER = re.compile(r"\bTODO\b|\bTBD\b|\bFIXME\b|\bXXX\b|\{\{.*?\}\}|\{%.*?%\}|<(?:your|fill|insert)[^>]*>", re.I)
# A code span as CommonMark reads it: a run of backticks closed by a run of the same length.
_CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`).+?(?<!`)\1(?!`)")
_BULLET = re.compile(r"^[-*+]\s+")
_BARE_VALUE = re.compile(r"^(?:\?+|\.\.\.|…|-|n/?a)?$", re.IGNORECASE)


@dataclass
class Section:
    title: str
    line: int
    body: list[tuple[int, str]] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(text for _, text in self.body).strip()


@dataclass
class Readme:
    lines: list[str]
    sections: list[Section]
    # Headings and code: lines whose TODOs and template syntax are not the contributor's prose.
    not_prose: frozenset[int] = frozenset()

    @classmethod
    def parse(cls, text: str) -> Readme:
        document = read_markdown(text)
        sections = [Section(h.text, h.line, list(h.body)) for h in document.headings]
        return cls(list(document.lines), sections, document.heading_lines | document.code_lines)

    def section(self, name: str) -> Section | None:
        """The first section whose heading starts with ``name`` (case-insensitive)."""
        wanted = _norm(name)
        return next((s for s in self.sections if _norm(s.title).startswith(wanted)), None)

    def licensing_section(self) -> Section | None:
        return self.section("Licensing") or self.section("License") or self.section("Licence")

    def licensing_field_lines(self) -> set[int]:
        """Numbers of the licensing section's ``Code:``, ``Data:`` and ``Dependencies:`` lines."""
        section = self.licensing_section()
        return {number for number, line in section.body if _FIELD.match(line)} if section else set()

    def licensing(self) -> dict[str, tuple[int, str]]:
        """``{"code"|"data"|"dependencies": (line, value)}`` from the licensing section."""
        section = self.licensing_section()
        found: dict[str, tuple[int, str]] = {}
        if section is None:
            return found
        body = section.body
        for index, (number, line) in enumerate(body):
            match = _FIELD.match(line)
            if not match:
                continue
            label = match["label"].lower()
            key = "code" if label in ("code", "software") else "data" if label.startswith("data") else "dependencies"
            found.setdefault(key, (number, _value(match) or _list_below(body[index + 1 :])))
        return found


def _list_below(lines: list[tuple[int, str]]) -> str:
    """``Data:`` over a bullet list (NeMo Gym's READMEs): the list's items, joined, are the value."""
    items: list[str] = []
    for _, line in lines:
        stripped = line.strip()
        if not stripped and not items:
            continue
        # The next label ("- Dependencies: ...") ends the list, bulleted as it may be.
        if not _BULLET.match(stripped) or _FIELD.match(line):
            break
        items.append(_BULLET.sub("", stripped))
    return "; ".join(items)


def _value(match: re.Match[str]) -> str:
    return match["value"].strip().strip("|").strip().strip("*`").strip()


def _norm(text: str) -> str:
    return re.sub(r"[^a-z ]", "", text.lower()).strip()


def placeholder_lines(readme: Readme) -> list[tuple[int, str]]:
    """Lines still holding a placeholder: TODO/TBD, template syntax, or a label with no value."""
    hits: list[tuple[int, str]] = []
    licensing = readme.licensing_section()
    licensing_lines = {n for n, _ in licensing.body} if licensing else set()
    for number, line in enumerate(readme.lines, start=1):
        if number in readme.not_prose:
            continue
        # `<fill>` or `TODO` quoted as code is what the text is about, not a gap in it.
        match = _PLACEHOLDER.search(_CODE_SPAN.sub("", line))
        if match:
            hits.append((number, match.group(0)))
        elif licensing and number in licensing_lines and (field := _FIELD.match(line)):
            below = [(n, t) for n, t in licensing.body if n > number]
            if _BARE_VALUE.match(_value(field) or _list_below(below)):
                hits.append((number, line.strip()))
    return hits
