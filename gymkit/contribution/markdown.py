"""A Markdown document's headings as a renderer sees them, from markdown-it-py's token stream.

A ``#`` line inside a fenced or indented code block is code, a setext underline makes a
heading, and ``## Title ##`` is titled ``Title``: the README and PR-description rules read
the same sections a reviewer sees on GitHub.
"""

from __future__ import annotations

from dataclasses import dataclass

from markdown_it import MarkdownIt

__all__ = ["Document", "Heading", "read_markdown"]

_PARSER = MarkdownIt("commonmark")


@dataclass(frozen=True)
class Heading:
    level: int
    text: str
    line: int
    # (line number, text) of every line up to the next heading, blank and code lines included.
    body: tuple[tuple[int, str], ...]


@dataclass(frozen=True)
class Document:
    lines: tuple[str, ...]
    headings: tuple[Heading, ...]
    # Line numbers (1-based) a renderer shows as a heading or as code, not as prose.
    heading_lines: frozenset[int]
    code_lines: frozenset[int]


def read_markdown(text: str) -> Document:
    """Headings of the document's top level (not those quoted or inside list items)."""
    # markdown-it counts lines after normalising line ends; split the same way so numbers agree.
    lines = tuple(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
    if lines and lines[-1] == "":
        lines = lines[:-1]
    tokens = _PARSER.parse(text)
    spans: list[tuple[int, str, int, int]] = []
    code: set[int] = set()
    for index, token in enumerate(tokens):
        if token.map is None:
            continue
        start, end = token.map
        if token.type in ("fence", "code_block"):
            code.update(range(start + 1, end + 1))
        elif token.type == "heading_open" and token.level == 0:
            spans.append((int(token.tag[1:]), tokens[index + 1].content.strip(), start, end))
    headings = []
    for number, (level, title, start, end) in enumerate(spans):
        stop = spans[number + 1][2] if number + 1 < len(spans) else len(lines)
        body = tuple((n + 1, lines[n]) for n in range(end, stop))
        headings.append(Heading(level, title, start + 1, body))
    heading_lines = frozenset(n + 1 for _, _, start, end in spans for n in range(start, end))
    return Document(lines, tuple(headings), heading_lines, frozenset(code))
