"""``python -m gymkit.generate`` (``nox -s generate``): write every copy of a rule that must be a file.

copier.yml, the PR template, the PR-comment script and the docs cannot import gymkit, so
the rules they carry (:mod:`gymkit.rules`, :class:`gymkit.runtime.config.Domain` and
:class:`~gymkit.runtime.config.DatasetLicense`, the checklist's steps and statuses, the PR sections,
the embedded model's pin) are rendered into them here, and the artifacts' JSON Schemas into
docs/schemas/. Files people also edit get a block between two marker lines
(``BEGIN GENERATED name`` … ``END GENERATED name``); the model pin is replaced wherever its
package is named with ``==``. ``tests/test_generated.py`` regenerates into a temporary
folder and fails when a committed copy differs.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
import textwrap
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from gymkit.errors import GymkitError
from gymkit.jsonl import atomic_write_bytes

__all__ = ["BLOCKS", "PINNED", "Block", "generate", "main", "render"]


@dataclass(frozen=True)
class Block:
    """A generated block in ``path``: the lines between the two markers, indented as the first marker."""

    path: str
    name: str
    comment: str  # what starts a comment line in that file: "#", "//" or "<!--"
    body: Callable[[], str]

    def begin(self) -> str:
        return f"BEGIN GENERATED {self.name} (nox -s generate; edit gymkit, not this block)"

    def end(self) -> str:
        return f"END GENERATED {self.name}"


def _quoted(words: Iterable[str]) -> str:
    return ", ".join(f"'{w}'" for w in words)


def _copier_name_and_domain() -> str:
    from gymkit.rules import MAX_SERVER_NAME, PYTHON_KEYWORDS, YAML_WORDS, server_name_regex
    from gymkit.runtime.config import Domain

    keywords = textwrap.wrap(_quoted(PYTHON_KEYWORDS), 96)
    keyword_lines = "\n".join("    " + line for line in keywords)
    choices = "\n".join(f"    - {d.value}" for d in Domain)
    return f"""\
server_name:
  type: str
  help: Server name, snake_case (the folder under resources_servers/ and the Python module's prefix)
  default: "{{{{ _copier_conf.dst_path.name }}}}"
  validator: >-
    {{% if '\\n' in server_name or not (server_name | regex_search('{server_name_regex()}')) %}}
    use a snake_case identifier: lowercase letters, digits and underscores,
    starting with a letter, at most {MAX_SERVER_NAME}
    {{% elif server_name in [{_quoted(sorted(YAML_WORDS))}] %}}
    {{{{ server_name }}}} means true, false or null in YAML; choose another name
    {{% elif server_name in [
{keyword_lines}] %}}
    {{{{ server_name }}}} is a Python keyword; choose another name
    {{% endif %}}

domain:
  type: str
  help: Domain of the tasks (prefer a specific one over agent; other is the catch-all)
  default: {Domain.MATH.value}
  choices:
{choices}
"""


def _copier_licences() -> str:
    from gymkit.rules import SPDX_SHAPE
    from gymkit.runtime.config import DatasetLicense

    choices = "\n".join(f"    - {lic.value}" for lic in DatasetLicense)
    return f"""\
code_license:
  type: str
  help: Licence of the server's code, as an SPDX identifier or expression
  default: Apache-2.0
  validator: >-
    {{% if not (code_license | regex_search('{SPDX_SHAPE}')) %}}
    use an SPDX licence identifier such as Apache-2.0, MIT or BSD-3-Clause
    {{% endif %}}

data_license:
  type: str
  help: Licence of the train and validation data (TBD until you know it)
  default: {DatasetLicense.TBD.value}
  choices:
{choices}
"""


def _comment_constants() -> str:
    from gymkit.checks import STEPS
    from gymkit.findings import Status
    from gymkit.rules import server_name_regex

    steps = "".join(f"  {json.dumps(title)},\n" for title in STEPS.values())
    icons = ", ".join(f"{s.value}: {json.dumps(f'{s.emoji} {s.value}', ensure_ascii=False)}" for s in Status.by_rank())
    ranks = ", ".join(f"{s.value}: {s.rank}" for s in Status.by_rank())
    return (
        f"const SERVER_NAME = /{server_name_regex()}/;\nconst STEPS = [\n{steps}];\n"
        f"const ICON = {{ {icons} }};\nconst RANK = {{ {ranks} }};\n"
    )


def _pr_sections() -> str:
    from gymkit.prbody import PR_SECTIONS

    return "".join(f"\n## {name}\n\n<!-- {what[0].upper()}{what[1:]}. -->\n" for name, what in PR_SECTIONS) + "\n"


# What each step of the checklist asks, as the PR template puts it; the titles are the registry's.
CHECKLIST = {
    1: "`data/example.jsonl` has at least 5 tasks.",
    2: "`app.py` with `verify()`, a config with a valid `domain`, `requirements.txt`, and a README with "
    "licensing information.",
    3: '`nox -s "test-server(NAME)"` passes.',
    4: "`gymkit rollouts NAME` wrote `data/example_rollouts.jsonl`.",
    5: "`gymkit profile` wrote `reports/reward_profile/`.",
    6: "`gymkit training-report` wrote `reports/training/`.",
    7: "every section above is filled in.",
    8: "`gymkit check NAME` passes and `gymkit reproduce NAME` reproduces the example rollouts.",
}


def _pr_checklist() -> str:
    from gymkit.checks import STEPS

    if set(STEPS) != set(CHECKLIST):
        missing = sorted(set(STEPS) ^ set(CHECKLIST))
        raise GymkitError(
            f"gymkit/generate.py: CHECKLIST and the checklist's steps differ at {missing}; edit CHECKLIST"
        )
    return "".join(f"- [ ] {step}. {title}: {CHECKLIST[step]}\n" for step, title in STEPS.items())


def _scaffold_choices() -> str:
    from gymkit.rules import MAX_SERVER_NAME
    from gymkit.runtime.config import DatasetLicense, Domain

    return (
        "| answer | accepted |\n|---|---|\n"
        f"| `--domain` | {', '.join(f'`{d.value}`' for d in Domain)} |\n"
        f"| `--data-license` | {', '.join(f'`{lic.value}`' for lic in DatasetLicense)} |\n"
        f"| `NAME` | lowercase letters, digits and `_`, starting with a letter; at most {MAX_SERVER_NAME} "
        "characters |\n"
    )


BLOCKS = (
    Block("copier.yml", "server_name and domain", "#", _copier_name_and_domain),
    Block("copier.yml", "code_license and data_license", "#", _copier_licences),
    # The NeMo Gym template asks the same questions under the same rules.
    Block("templates/nemo_resource_server/copier.yml", "server_name and domain", "#", _copier_name_and_domain),
    Block("templates/nemo_resource_server/copier.yml", "code_license and data_license", "#", _copier_licences),
    Block(".github/workflows/pr-comment.yml", "comment constants", "//", _comment_constants),
    Block(".github/PULL_REQUEST_TEMPLATE.md", "sections", "<!--", _pr_sections),
    Block(".github/PULL_REQUEST_TEMPLATE.md", "checklist", "<!--", _pr_checklist),
    Block("docs/scaffold.md", "scaffold choices", "<!--", _scaffold_choices),
)

# Files that name the embedded model's pin in commands people copy; each must name it.
PINNED = (
    "README.md",
    ".ci/run",
    ".github/workflows/pr.yml",
    "docs/rollouts.md",
    "docs/training.md",
)


def _marker(block: Block, text: str) -> str:
    return f"{block.comment} {text} -->" if block.comment == "<!--" else f"{block.comment} {text}"


def _fill(text: str, block: Block) -> str:
    lines = text.splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if line.strip() == _marker(block, block.begin())]
    ends = [i for i, line in enumerate(lines) if line.strip() == _marker(block, block.end())]
    if len(starts) != 1 or len(ends) != 1 or ends[0] < starts[0]:
        raise GymkitError(
            f"{block.path}: expected one '{_marker(block, block.begin())}' line and one "
            f"'{_marker(block, block.end())}' line after it; put them back around the generated block"
        )
    indent = lines[starts[0]][: len(lines[starts[0]]) - len(lines[starts[0]].lstrip())]
    body = [f"{indent}{line}" if line.strip() else line for line in block.body().splitlines(keepends=True)]
    return "".join(lines[: starts[0] + 1] + body + lines[ends[0] :])


def _pin(path: str, text: str) -> str:
    from gymkit.rules import embedded_model_requirement

    pin = embedded_model_requirement()
    pattern = re.compile(rf"(?<![\w.-]){re.escape(pin.name)}==[\w.+!-]*\w")
    if not pattern.search(text):
        raise GymkitError(f"{path}: names no {pin.name}==VERSION; add the install command or drop it from PINNED")
    return pattern.sub(str(pin), text)


def _schemas() -> dict[str, bytes]:
    """docs/schemas/: the JSON Schema of each artifact gymkit writes (gymkit.artifacts.schemas)."""
    from gymkit.artifacts.schemas import write_schemas

    with tempfile.TemporaryDirectory() as scratch:
        written = write_schemas(Path(scratch))
        return {f"docs/schemas/{p.relative_to(scratch).as_posix()}": p.read_bytes() for p in written}


def _read(root: Path, path: str) -> str:
    try:
        return (root / path).read_text(encoding="utf-8")
    except OSError as exc:
        raise GymkitError(f"{root / path}: cannot read it ({exc.strerror}); run from the gymkit checkout") from None


def render(root: Path) -> dict[str, bytes]:
    """What every generated file holds for the rules as they are now, by path relative to ``root``."""
    texts: dict[str, str] = {}
    for block in BLOCKS:
        texts[block.path] = _fill(texts.get(block.path) or _read(root, block.path), block)
    for path in PINNED:
        texts[path] = _pin(path, texts.get(path) or _read(root, path))
    return {path: text.encode("utf-8") for path, text in texts.items()} | _schemas()


def generate(root: Path, dest: Path | None = None) -> list[str]:
    """Write what :func:`render` gives under ``dest`` (default: ``root``); the paths whose bytes changed."""
    dest = dest or root
    changed = []
    for path, data in sorted(render(root).items()):
        target = dest / path
        if target.is_file() and target.read_bytes() == data:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(target, data)
        changed.append(path)
    return changed


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    root = Path(args[0]) if args else Path.cwd()
    try:
        changed = generate(root)
    except GymkitError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    for path in changed:
        print(f"wrote {path}")
    if not changed:
        print("every generated copy is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
