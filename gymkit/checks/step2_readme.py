"""Step 2 · Implementation: the README the contribution guide asks for.

GYM210 sections, GYM211 licensing fields, GYM212 placeholders, GYM213-GYM214 code licence
(SPDX, compatibility), GYM215 data licences against the config.

In a NeMo Gym checkout the README follows upstream's template (``# Description`` and
``# Licensing information`` with ``Code:``, ``Data:`` and ``Dependencies``; its environment
guide asks for the licensing): only missing licensing fails there, and where gymkit asks more
(more sections, SPDX spelling) the finding is a warning naming upstream's rule.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from gymkit.checks.fixtures import Fixtures
from gymkit.checks.registry import Check, Finding, Skip, problem, register
from gymkit.checks.step1_tasks import config_docs
from gymkit.contribution.licenses import compatibility, licence_by_name, parse_spdx, repository_license
from gymkit.contribution.readme import LICENSING_FIELDS, README_SECTIONS, placeholder_lines
from gymkit.runtime.config import DatasetLicense

__all__ = ["GYM210", "GYM211", "GYM212", "GYM213", "GYM214", "GYM215"]

README = "README.md"
NEMO_SECTIONS = ("Description", "Licensing information")
_UPSTREAM = "NeMo Gym's README template has only '# Description' and '# Licensing information'"
_UPSTREAM_PLACEHOLDERS = "NeMo Gym asks only that the template's licensing lines be filled in"
_MENTIONS_LICENCE = re.compile(r"licen[cs]", re.IGNORECASE)


class Step2Readme(Check):
    step = 2


@register
class GYM210(Step2Readme):
    """README.md has Description, Task source, Verification logic and Licensing sections"""

    def check(self, fx: Fixtures) -> Iterable[Finding] | Skip:
        """Add each missing section as a `## Heading` in README.md and write at least a sentence under
        it: what the environment is, where the tasks come from and which domain they cover, how verify
        computes the reward, and the licences of code, data and dependencies. In a NeMo Gym checkout
        upstream's template is the rule: `# Description` and `# Licensing information`, and only missing
        licensing information fails."""
        if fx.readme is None:
            return [problem("README.md is missing or unreadable", README)]
        nemo = fx.gym == "nemo-gym"
        problems = []
        for name in README_SECTIONS:
            section = fx.readme.section(name) or (fx.readme.licensing_section() if name.startswith("Lic") else None)
            upstream = name in NEMO_SECTIONS
            if section is None:
                problems.append(
                    _missing(fx, name) if nemo and upstream else _gymkit_only(nemo, f"no '## {name}' section")
                )
            elif not section.text:
                message = f"section '{section.title}' is empty"
                problems.append(problem(message, README, section.line, level="warn" if nemo else "fail"))
        return problems


def _gymkit_only(nemo: bool, message: str, line: int | None = None, upstream: str = _UPSTREAM) -> Finding:
    """A rule gymkit holds and NeMo Gym does not: a warning naming upstream's rule in its checkouts."""
    if nemo:
        return problem(f"{message} (gymkit's rule; {upstream})", README, line, level="warn")
    return problem(message, README, line)


def _missing(fx: Fixtures, name: str) -> Finding:
    assert fx.readme is not None
    if name == "Description":
        return problem(f"no '# {name}' section ({_UPSTREAM})", README, level="warn")
    # Upstream's environment guide asks for licensing information, not for a heading over it.
    if any(_MENTIONS_LICENCE.search(line) for line in fx.readme.lines):
        return problem(f"no '# {name}' heading over the licensing text ({_UPSTREAM})", README, level="warn")
    return problem(f"no '# {name}': NeMo Gym's environment guide asks for the README's licensing", README)


@register
class GYM211(Step2Readme):
    """README licensing names the code licence, the data licence and the dependencies' licences"""

    requires = frozenset({"GYM210"})

    def check(self, fx: Fixtures) -> Iterable[Finding] | Skip:
        """Under `## Licensing information`, write one line per item:
        `- Code licence: Apache-2.0` (an SPDX expression), `- Data licence: CC BY-SA 4.0` (as in the
        config's datasets) and `- Dependencies: ...` (the licences of what requirements.txt installs)."""
        assert fx.readme is not None
        section = fx.readme.licensing_section()
        fields = fx.readme.licensing()
        line = section.line if section else None
        missing = [label for key, label in LICENSING_FIELDS.items() if key not in fields]
        if fx.gym == "nemo-gym":
            return [
                problem(f"no '{_NEMO_LABELS[label]}:' line in the licensing section", README, line, level="warn")
                for label in missing
            ]
        return [problem(f"no '{label}:' line in the licensing section", README, line) for label in missing]


# Upstream's template spells the fields this way.
_NEMO_LABELS = {"Code licence": "Code", "Data licence": "Data", "Dependencies": "Dependencies"}


@register
class GYM212(Step2Readme):
    """README has no placeholders left (TODO, TBD, ?, template syntax)"""

    requires = frozenset({"GYM210"})

    def check(self, fx: Fixtures) -> Iterable[Finding] | Skip:
        """Replace every `TODO:`/`TBD` the template left with the real text, and give every licensing
        line a value; a `?` is not a licence. In a NeMo Gym checkout only the licensing lines fail
        (upstream's guide asks the README's licensing information to be filled in); a TODO elsewhere
        warns, as upstream sets no rule on the rest of the README."""
        assert fx.readme is not None
        hits = placeholder_lines(fx.readme)
        if fx.gym != "nemo-gym":
            return [problem(f"placeholder left: {text!r}", README, line) for line, text in hits]
        licensing = fx.readme.licensing_field_lines()
        return [
            problem(f"placeholder left: {text!r}", README, line)
            if line in licensing
            else _gymkit_only(True, f"placeholder left: {text!r}", line, _UPSTREAM_PLACEHOLDERS)
            for line, text in hits
        ]


@register
class GYM213(Step2Readme):
    """The code licence is a valid SPDX expression"""

    requires = frozenset({"GYM211"})

    def check(self, fx: Fixtures) -> Iterable[Finding] | Skip:
        """Write the code licence as an SPDX identifier or expression, e.g. `Apache-2.0`, `MIT`,
        `BSD-3-Clause`, `Apache-2.0 OR MIT` (list: https://spdx.org/licenses/). In a NeMo Gym checkout a
        licence written by its name, as upstream's README template writes it (`Apache 2.0`), is read as
        the licence of that name, and GYM214 judges that one."""
        assert fx.readme is not None
        found = fx.readme.licensing().get("code")
        if found is None:
            return Skip("no code licence line")
        line, value = found
        _, error = parse_spdx(value)
        if not error:
            return []
        named = licence_by_name(value)
        if named and fx.gym == "nemo-gym":
            return []  # upstream's README template writes a licence by its name: 'Apache 2.0' is Apache-2.0
        message = f"code licence {value!r} is not a valid SPDX expression: {error}"
        if named:
            message += f"; by its name it is {named}: write that"
        if fx.gym == "nemo-gym":
            message += " (gymkit's rule; NeMo Gym's template writes e.g. 'Code: Apache 2.0')"
            return [problem(message, README, line, level="warn")]
        return [problem(message, README, line)]


@register
class GYM214(Step2Readme):
    """The code licence is compatible with the repository's licence (no GPL-family code)"""

    requires = frozenset({"GYM213"})

    def check(self, fx: Fixtures) -> Iterable[Finding] | Skip:
        """The server is distributed with the repository, so its code needs a permissive licence
        (Apache-2.0, MIT, BSD). Copyleft code (GPL, AGPL, ...) cannot be merged: relicense it if you
        own it, or reimplement it; so cannot code whose licence forbids commercial use or changes
        (CC-BY-NC, BUSL). Weak copyleft (LGPL, MPL, EPL), and a licence no class is known for, need a
        maintainer's approval."""
        assert fx.readme is not None
        found = fx.readme.licensing().get("code")
        if found is None:
            return Skip("no code licence line")
        line, value = found
        expression, _ = parse_spdx(value)
        if expression is None and fx.gym == "nemo-gym" and (named := licence_by_name(value)):
            expression, _ = parse_spdx(named)
        if expression is None:
            return Skip("the code licence is not an SPDX expression (GYM213)")
        verdict, culprits = compatibility(expression)
        repo = repository_license(fx.paths.dir)
        # NeMo Gym's CONTRIBUTING names LGPL with GPL and AGPL as licences it does not take.
        if fx.gym == "nemo-gym" and verdict != "restricted" and any(c.startswith("LGPL-") for c in culprits):
            verdict = "copyleft"
        if verdict == "copyleft":
            return [
                problem(
                    f"code licence {value} is copyleft ({', '.join(culprits)}); the repository is {repo}", README, line
                )
            ]
        if verdict == "restricted":
            named = ", ".join(culprits)
            message = f"code licence {value} restricts use or changes ({named}), which the repository's {repo} does not"
            return [problem(message, README, line)]
        if verdict == "weak-copyleft":
            message = f"code licence {value} is weak copyleft ({', '.join(culprits)}); a maintainer must approve it"
            return [problem(message, README, line, level="warn")]
        if verdict == "unclear":
            named = ", ".join(culprits)
            message = f"code licence {value} is of no class gymkit knows ({named}); a maintainer must check it"
            return [problem(message, README, line, level="warn")]
        return []


def _mentioned(text: str, licence: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(licence)}(?![\w-])", text, re.IGNORECASE) is not None


@register
class GYM215(Step2Readme):
    """The README's data licences agree with the config's datasets"""

    requires = frozenset({"GYM211", "GYM202"})

    def check(self, fx: Fixtures) -> Iterable[Finding] | Skip:
        """Name in `Data licence:` exactly the licences the config's datasets declare (spelled as in the
        config), and no others; change the config or the README so they agree."""
        assert fx.readme is not None
        found = fx.readme.licensing().get("data")
        if found is None:
            return Skip("no data licence line")
        line, text = found
        declared = {str(d["license"]) for doc in config_docs(fx) for d in doc.datasets() if d.get("license")}
        problems = [
            problem(f"the config declares data licence {lic!r}, the README does not name it", README, line)
            for lic in sorted(declared)
            if not _mentioned(text, lic)
        ]
        named = {lic.value for lic in DatasetLicense if _mentioned(text, lic.value)}
        # "CC BY-SA 4.0" and its long name are one licence; only flag names the config cannot explain.
        problems += [
            problem(f"the README names data licence {lic!r}, no dataset in the config has it", README, line)
            for lic in sorted(named - declared)
            if not any(lic in d or d in lic for d in declared)
        ]
        if not declared and not text:
            problems.append(problem("no data licence given", README, line))
        if fx.gym == "nemo-gym":
            # Upstream reads licences from the config only; the README's are for people.
            return [_gymkit_only(True, p.message, p.line) for p in problems]
        return problems
