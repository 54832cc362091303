"""Failures that are this machine's, not the server's: in a NeMo Gym checkout, a warning, not a failure.

Upstream's servers may need what a sandbox on a CI runner does not give them: the network (a
dataset from the Hugging Face Hub, a git dependency, a search API), an API key or a setting in
``env.yaml``. NeMo Gym has no rule that a server runs offline and unconfigured, so a check that
starts one here and fails for that reason says "could not run here", with the words that show it,
and the reviewer runs it where it has what it needs. A failure any of whose messages shows another
cause stays a failure: a wrong reward next to a network error is still a wrong reward. gymkit's own
gyms keep the stricter rule (a server runs offline, confined), so there these stay failures.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from gymkit.checks.fixtures import Fixtures
from gymkit.checks.registry import Finding, problem

__all__ = ["NEEDS", "cause_elsewhere", "elsewhere_warning"]

# What the server needs, and the words by which its failure shows it. Loopback is the server itself:
# a refused connection to 127.0.0.1 is the server's own failure, never the network's.
NEEDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "the network",
        re.compile(
            r"Could not resolve host|Temporary failure in name resolution|Name or service not known"
            r"|Network is unreachable|No address associated with hostname|getaddrinfo failed|NameResolutionError"
            r"|Failed to resolve '|Failed to establish a new connection|couldn't connect to 'https?://"
            r"|LocalEntryNotFoundError|OfflineModeIsEnabled|Cannot reach https?://|ConnectTimeout"
            r"|unable to access 'https?://|'git', 'clone'|git clone https?://"
            r"|Check your internet connection|offline mode"
            r"|HTTPSConnectionPool\(host='(?!127\.|localhost)"
        ),
    ),
    (
        "an API key or a setting it reads from env.yaml or the environment",
        re.compile(
            r"(?i:api[_ ]key)|Missing mandatory value|MissingMandatoryValue|environment variable"
            r"|KeyError: '[A-Z][A-Z0-9_]*(?:KEY|TOKEN|SECRET|URL|ENDPOINT|_CX|_ID)'"
            # ng_run fills a config's ${...} and its required fields from env.yaml; a server started alone has none.
            r"|InterpolationKeyError: Interpolation key '[^']+' not found"
            r"|validation error for \w*Config\w*; \w+; Field required"
        ),
    ),
)


def cause_elsewhere(messages: Iterable[str]) -> tuple[str, str] | None:
    """(what the server needs, the words that show it) when every message shows one such need; else None."""
    found: tuple[str, str] | None = None
    seen = False
    for message in messages:
        seen = True
        hit = next(((need, m.group(0)) for need, pattern in NEEDS if (m := pattern.search(message))), None)
        if hit is None:
            return None
        found = found or hit
    return found if seen else None


def elsewhere_warning(fx: Fixtures, what: str, messages: list[str], where: str = "app.py") -> list[Finding] | None:
    """In a NeMo Gym checkout, one warning in place of failures that all show this machine lacks something."""
    if fx.gym != "nemo-gym":
        return None
    cause = cause_elsewhere(messages)
    if cause is None:
        return None
    need, words = cause
    first = messages[0] if len(messages[0]) <= 240 else messages[0][:237] + "..."
    more = f" ({len(messages) - 1} more like it)" if len(messages) > 1 else ""
    message = (
        f"could not run here: {what} needs {need} ({words!r}), which this machine or its sandbox does not give it"
        f" (gymkit's rule that a server runs offline and unconfigured is stricter than NeMo Gym's, which has no"
        f" such rule); run it where it has that. First message: {first}{more}"
    )
    return [problem(message, where, level="warn")]
