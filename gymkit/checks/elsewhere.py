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
from gymkit.needs import need_shown

__all__ = ["cause_elsewhere", "elsewhere_warning", "service_warning"]


def cause_elsewhere(messages: Iterable[str]) -> tuple[str, str] | None:
    """(what the server needs, the words that show it) when every message shows one such need; else None."""
    found: tuple[str, str] | None = None
    seen = False
    for message in messages:
        seen = True
        hit = need_shown(message)
        if hit is None:
            return None
        found = found or hit
    return found if seen else None


def _first_of(messages: list[str]) -> str:
    """The first of the failures a warning stands for, shortened, and how many more there were."""
    first = messages[0] if len(messages[0]) <= 240 else messages[0][:237] + "..."
    more = f" ({len(messages) - 1} more like it)" if len(messages) > 1 else ""
    return f"First message: {first}{more}"


def elsewhere_warning(fx: Fixtures, what: str, messages: list[str], where: str = "app.py") -> list[Finding] | None:
    """In a NeMo Gym checkout, one warning in place of failures that all show this machine lacks something."""
    if fx.gym != "nemo-gym":
        return None
    cause = cause_elsewhere(messages)
    if cause is None:
        return None
    need, words = cause
    message = (
        f"could not run here: {what} needs {need} ({words!r}), which this machine or its sandbox does not give it"
        f" (gymkit's rule that a server runs offline and unconfigured is stricter than NeMo Gym's, which has no"
        f" such rule); run it where it has that. {_first_of(messages)}"
    )
    return [problem(message, where, level="warn")]


_MAX_NAMED = 8  # programs named in one warning

# How a start shows it waited for a service or could not reach it; any other failed start is the server's.
_UNREACHED = re.compile(
    r"did not answer within \d|not ready after|Connection refused|All connection attempts failed|\bConnectError\b"
    r"|Cannot connect to host"
)


def _names(message: str, program: str) -> bool:
    """Whether a message names the program as a word of its own: 'ld' is not in 'could not build'."""
    return re.search(rf"(?<![\w./-]){re.escape(program)}(?![\w.-])", message) is not None


# How a verify that waits for something shows: no answer within the bound, or none sent after one.
_STUCK = re.compile(r"(?:no answer|did not answer) within \d|not sent: the server stopped answering")


def _stuck_on_ray(fx: Fixtures, messages: list[str], rewards: list[float | None]) -> str | None:
    """Why verify waited, when its own Ray could not place what it asked for and every failure is such a wait
    (or a reward of 0); None otherwise."""
    wanted = fx.unschedulable if rewards else []
    if not wanted or len(rewards) != len(messages):
        return None
    if not all(r == 0.0 or (r is None and _STUCK.search(m)) for m, r in zip(messages, rewards, strict=True)):
        return None
    return (
        f"asked the server's Ray for {'; '.join(wanted)}, which no node of this machine's Ray provides (NeMo Gym's"
        " deployment adds the nodes that do, a GPU node for instance; gymkit starts the server alone), and waited;"
        " run it where that node is"
    )


# What verify's error says when the program it ran is not there.
_NOT_FOUND = re.compile(r"FileNotFoundError|No such file or directory")


def service_warning(
    fx: Fixtures, what: str, messages: list[str], rewards: Iterable[float | None], where: str = "app.py"
) -> list[Finding] | None:
    """One warning in place of failures that a loopback service the server names, or a program it runs,
    absent here, explains.

    Only for a service the server tried to reach while it ran (``fx.absent_services``: see
    gymkit.nemo.services) or a program it tried to start (``fx.missing_programs``: gymkit.nemo.programs),
    and only when verify answered reward 0 for every row that differs: a verifier without its service
    cannot pay, so a reward it pays, or an error, a 500 or a non-deterministic answer, is still its own
    failure; except an error that a file was not found, from a server that tried to run a missing program.
    ``rewards`` empty means the server did not start: then only a start that waited for a
    service or could not reach one, or that names the program it lacked, not one that crashed otherwise.
    """
    paid = list(rewards)
    if fx.gym != "nemo-gym" or not messages:
        return None
    stuck = _stuck_on_ray(fx, messages, paid)
    if stuck:
        return [problem(f"could not run here: {what} {stuck}. {_first_of(messages)}", where, level="warn")]
    # Errors, not rewards of 0, are a program's absence only where each says a file was not found (cvdp in
    # v0.4.0: a 500 of FileNotFoundError), and never a service's.
    erred = any(reward is None for reward in paid)
    if erred and not (
        len(paid) == len(messages)
        and all(r == 0.0 or (r is None and _NOT_FOUND.search(m)) for m, r in zip(messages, paid, strict=True))
    ):
        return None
    if any(reward not in (0.0, None) for reward in paid):
        return None
    absent = [] if erred else fx.absent_services
    if not paid and not all(_UNREACHED.search(message) for message in messages):
        absent = []  # a start that failed otherwise (an import error, a crash) is the server's own
    missing = [p for p in fx.missing_programs if paid or any(_names(message, p) for message in messages)]
    lacked = []
    if absent:
        lacked.append(f"tried to reach the service it names at {'; '.join(absent)}, and nothing listens there")
    if missing:
        failed = ", and failed for a file not found" if erred else ""
        lacked.append(f"tried to run {', '.join(map(repr, missing[:_MAX_NAMED]))}, which is not installed{failed}")
    if not lacked:
        return None
    message = (
        f"could not run here: {what} {'; and '.join(lacked)} on this machine (NeMo Gym's deployment provides"
        " it beside the server; gymkit starts the server alone); run it where it has that."
        f" {_first_of(messages)}"
    )
    return [problem(message, where, level="warn")]
