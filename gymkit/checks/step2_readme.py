"""Step 2 · Implementation: the README the contribution guide asks for.

GYM210 sections, GYM211 licensing fields, GYM212 placeholders, GYM213-GYM214 code licence
(SPDX, compatibility), GYM215 data licences against the config.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from gymkit.checks.fixtures import Fixtures
from gymkit.checks.registry import Check, Finding, Skip, problem, register
from gymkit.contribution.licenses import compatibility, parse_spdx, repository_license
from gymkit.contribution.readme import LICENSING_FIELDS, README_SECTIONS, placeholder_lines
from gymkit.runtime.config import DatasetLicense

__all__ = ["GYM210", "GYM211", "GYM212", "GYM213", "GYM214", "GYM215"]

README = "README.md"


class Step2Readme(Check):
    step = 2


@register
class GYM210(Step2Readme):
    """README.md has Description, Task source, Verification logic and Licensing sections"""

    def check(self, fx: Fixtures) -> Iterable[Finding] | Skip:
        """Add each missing section as a `## Heading` in README.md and write at least a sentence under
        it: what the environment is, where the tasks come from and which domain they cover, how verify
        computes the reward, and the licences of code, data and dependencies."""
        if fx.readme is None:
            return [problem("README.md is missing or unreadable", README)]
        problems = []
        for name in README_SECTIONS:
            section = fx.readme.section(name) or (fx.readme.licensing_section() if name.startswith("Lic") else None)
            if section is None:
                problems.append(problem(f"no '## {name}' section", README))
            elif not section.text:
                problems.append(problem(f"section '{section.title}' is empty", README, section.line))
        return problems


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
        return [
            problem(f"no '{label}:' line in the licensing section", README, section.line if section else None)
            for key, label in LICENSING_FIELDS.items()
            if key not in fields
        ]


@register
class GYM212(Step2Readme):
    """README has no placeholders left (TODO, TBD, ?, template syntax)"""

    requires = frozenset({"GYM210"})

    def check(self, fx: Fixtures) -> Iterable[Finding] | Skip:
        """Replace every `TODO:`/`TBD` the template left with the real text, and give every licensing
        line a value; a `?` is not a licence."""
        assert fx.readme is not None
        return [problem(f"placeholder left: {text!r}", README, line) for line, text in placeholder_lines(fx.readme)]


@register
class GYM213(Step2Readme):
    """The code licence is a valid SPDX expression"""

    requires = frozenset({"GYM211"})

    def check(self, fx: Fixtures) -> Iterable[Finding] | Skip:
        """Write the code licence as an SPDX identifier or expression, e.g. `Apache-2.0`, `MIT`,
        `BSD-3-Clause`, `Apache-2.0 OR MIT` (list: https://spdx.org/licenses/)."""
        assert fx.readme is not None
        line, value = fx.readme.licensing()["code"]
        _, error = parse_spdx(value)
        return (
            [problem(f"code licence {value!r} is not a valid SPDX expression: {error}", README, line)] if error else []
        )


@register
class GYM214(Step2Readme):
    """The code licence is compatible with the repository's licence (no GPL-family code)"""

    requires = frozenset({"GYM213"})

    def check(self, fx: Fixtures) -> Iterable[Finding] | Skip:
        """The server is distributed with the repository, so its code needs a permissive licence
        (Apache-2.0, MIT, BSD). Copyleft code (GPL, AGPL, ...) cannot be merged: relicense it if you
        own it, or reimplement it. Weak copyleft (LGPL, MPL, EPL) needs a maintainer's approval."""
        assert fx.readme is not None
        line, value = fx.readme.licensing()["code"]
        expression, _ = parse_spdx(value)
        verdict, culprits = compatibility(expression)
        repo = repository_license(fx.paths.dir)
        if verdict == "copyleft":
            return [
                problem(
                    f"code licence {value} is copyleft ({', '.join(culprits)}); the repository is {repo}", README, line
                )
            ]
        if verdict == "weak-copyleft":
            message = f"code licence {value} is weak copyleft ({', '.join(culprits)}); a maintainer must approve it"
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
        assert fx.readme is not None and fx.config is not None
        line, text = fx.readme.licensing()["data"]
        declared = {d.license.value for d in fx.config.datasets() if d.license is not None}
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
        return problems
