"""What a server may need that a sandbox does not give it, and the words by which its failure shows it.

Read by the checks (``gymkit.checks.elsewhere``) and by an upstream server's failed start, which
quotes such words from its log when its final exception does not show them.
"""

from __future__ import annotations

import re

__all__ = ["NEEDS", "need_shown"]

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


def need_shown(text: str) -> tuple[str, str] | None:
    """(what is needed, the words that show it) for the first need ``text`` shows; None if none."""
    return next(((need, m.group(0)) for need, pattern in NEEDS if (m := pattern.search(text))), None)
