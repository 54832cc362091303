"""``gymkit audit``: start the server, send every probe three times, judge the rewards.

Every case goes out in two concurrent passes (the second in reverse order, so requests
overlap differently) and one sequential pass; the three rewards must be equal. The
probes' rules are in :mod:`gymkit.audit.probes`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from gymkit.audit.fields import Pool
from gymkit.audit.fixture import FixtureCase, gold_cases, load_fixture
from gymkit.audit.http import Outcome, Sender
from gymkit.audit.probes import EPS, PROBES, Case, build_cases
from gymkit.audit.report import AuditFinding, excerpt, finding
from gymkit.errors import GymkitError, UserError
from gymkit.findings import Status, apply_waivers, load_waivers
from gymkit.jsonl import iter_rows
from gymkit.launch import start_server as ServerProcess  # the runtime the server is written for
from gymkit.nemo.detect import gym_kind
from gymkit.project import ServerPaths
from gymkit.reverify import MATERIALIZED_INPUTS, tool_calls

__all__ = ["AuditOptions", "AuditResult", "run_audit"]

POOL_ROWS = 200  # distractors from train/validation: enough variety, little reading
_MALFORMED: list[tuple[str, Callable[[dict[str, Any]], dict[str, Any] | bytes]]] = [
    ("not JSON", lambda row: b"{not json"),
    ("a JSON array", lambda row: b"[]"),
    ("an empty object", lambda row: {}),
    ("the row without a response", lambda row: row),
    ("a response that is a string", lambda row: {**row, "response": "Answer: 42"}),
    ("response.output a string", lambda row: {**row, "response": {"id": "r", "output": "Answer: 42"}}),
    (
        "a message whose content is a number",
        lambda row: {**row, "response": {"output": [{"type": "message", "content": 42}]}},
    ),
    (
        "a response without the task's fields",
        lambda row: {"responses_create_params": row.get("responses_create_params"), "response": {"output": []}},
    ),
]


@dataclass
class AuditOptions:
    target: str  # how the user named the server, for the reproduce commands
    probes: set[str] | None = None
    rows: set[int] | None = None
    timeout: float = 30.0
    startup_timeout: float = 60.0
    concurrency: int = 16
    # Seconds the two repeat passes may take; a slower verifier (a sandbox per request) has only
    # its telling cases repeated, so an audit stays quick enough to run on every change.
    repeat_budget: float = 4.0


@dataclass
class AuditResult:
    findings: list[AuditFinding] = field(default_factory=list)
    cases: int = 0
    requests: int = 0
    seconds: float = 0.0


def _rows(paths: ServerPaths) -> tuple[list[dict[str, Any]], Pool]:
    if not paths.example.is_file():
        raise UserError(f"{paths.example} not found: the audit builds its probes from the example rows")
    examples = [row for _, row in iter_rows(paths.example)]
    extra: list[dict[str, Any]] = []
    for name in ("validation.jsonl", "train.jsonl"):
        path = paths.data / name
        if path.is_file():
            # Distractors only: a broken file is validate-data's finding, not the audit's.
            with contextlib.suppress(GymkitError):
                extra += [row for _, row in islice(iter_rows(path), POOL_ROWS)]
    return examples, Pool([*examples, *extra])


def _fixture_cases(fixture: list[FixtureCase] | None) -> list[Case]:
    cases = []
    for case in fixture or []:
        if case.kind in ("zero_reward", "determinism"):
            note = f"tests/verifier_cases.jsonl:{case.line} ({case.kind} {case.name!r})"
            cases.append(
                Case(f"fixture:{case.line}", "fixture", None, case.request, "expect", note, None, case.expected_reward)
            )
    return cases


class _Audit:
    def __init__(self, paths: ServerPaths, options: AuditOptions) -> None:
        self.paths, self.options = paths, options
        self.findings: list[AuditFinding] = []
        self.partial_repeats: int | None = None
        self.replayed = False  # every case's tool calls were made in its session before verify
        self.upstream = gym_kind(paths.root) == "nemo-gym"  # its rollouts may come without their inputs

    def wanted(self, probe: str) -> bool:
        return self.options.probes is None or probe in self.options.probes

    def repro(self, probe: str, row: int | None) -> str:
        return f"gymkit audit {self.options.target} --probe {probe}" + (f" --row {row}" if row is not None else "")

    def fail(self, probe: str, case: Case | None, message: str, reward: float | None = None) -> None:
        row = case.row if case else None
        where = f"row {row} (data/example.jsonl:{row + 1})" if row is not None else (case.note if case else "")
        text = f"{where}: {message}" if where else message
        if case is not None and case.rule != "expect":
            text += f"; sent {excerpt(case.body.get('response'))}"
        reproduce = self.repro(probe, row)
        response = case.body.get("response") if case else None
        self.findings.append(
            finding(
                probe,
                Status.FAIL,
                f"{text}; reproduce: {reproduce}",
                row=row,
                reward=reward,
                reproduce=reproduce,
                response=response,
            )
        )

    async def stateful(self, sender: Sender, cases: list[Case], first: dict[str, Outcome]) -> bool:
        """Whether verify reads what the tools did to the session: a gold case with tool calls missed its
        reward sent alone and earns it with its calls replayed first, as its rollout made them."""
        for case in cases:
            got = first[case.id]
            if case.rule != "expect" or case.expected is None or got.reward == case.expected:
                continue
            if not tool_calls(case.body.get("response")):
                continue
            again = await sender.verify(case.body, replay=True)
            if again.reward == case.expected:
                return True
        return False

    def repeated(self, cases: list[Case], first: dict[str, Outcome], seconds: float) -> list[Case]:
        """The cases sent twice more: all of them when that fits the time budget, else the ones
        whose reward matters most (gold, fixture, any that earned reward) and one of every probe."""
        if 2 * seconds <= self.options.repeat_budget:
            return cases
        seen: set[str] = set()
        chosen = []
        for case in cases:
            got = first[case.id]
            if case.rule == "expect" or (got.reward or 0) > EPS or case.probe not in seen:
                chosen.append(case)
            seen.add(case.probe)
        self.partial_repeats = len(chosen)
        return chosen

    def judge(self, cases: list[Case], passes: list[dict[str, Outcome]]) -> None:
        first = passes[0]
        for case in cases:
            outcomes = [p[case.id] for p in passes if case.id in p]
            got = outcomes[0]
            if any(not o.same_as(got) for o in outcomes[1:]):
                seen = ", ".join(o.describe() for o in outcomes)
                self.fail("determinism", case, f"{case.probe} got different answers to one request: {seen}")
            if case.rule == "expect" and not case.stored_input and self.upstream and _lacks_a_field(case, got):
                self.no_gold(case, got)
                continue
            if got.error:
                got_what = f"{case.probe} {case.note + ' ' if case.note else ''}got {got.error}"
                self.fail("reward_range", case, got_what, got.reward)
                continue
            assert got.reward is not None
            self.rule(case, got.reward, first)

    def no_gold(self, case: Case, got: Outcome) -> None:
        """A stored rollout that lacks what verify needs, with no input stored for it, is refused for the
        rollout's sake, not verify's: NeMo Gym commits rollouts without the materialized input it verifies with."""
        message = (
            f"{case.note}: verify refuses what this rollout carries ({(got.error or '')[:160]}), and neither"
            f" data/example.jsonl nor data/{MATERIALIZED_INPUTS} has its input, so it cannot serve as a gold"
            " answer; commit that file, or collect the rollouts from the example rows"
        )
        self.findings.append(finding("fixture", Status.WARN, message, reproduce=self.repro("fixture", None)))

    def rule(self, case: Case, reward: float, first: dict[str, Outcome]) -> None:
        ref = first.get(case.ref) if case.ref else None
        bound = ref.reward if ref is not None else None
        note = f" ({case.note})" if case.note else ""
        if case.rule == "zero" and reward > EPS:
            self.fail(case.probe, case, f"earned reward {reward:g}{note}; expected 0", reward)
        elif case.rule == "below_gold" and bound is not None and bound > EPS and reward >= bound - EPS:
            self.fail(case.probe, case, f"a wrong value earned {reward:g}{note}, the gold earns {bound:g}", reward)
        elif case.rule == "not_above" and bound is not None and reward > bound + EPS:
            self.fail(case.probe, case, f"earned {reward:g}{note}, one wrong value alone earns {bound:g}", reward)
        elif case.rule == "expect" and case.expected is not None and reward != case.expected:
            self.fail("fixture", case, f"{case.note}: reward {reward:g}, the fixture expects {case.expected:g}", reward)

    async def malformed(self, sender: Sender, row: dict[str, Any], fixture: list[FixtureCase] | None) -> None:
        bodies: list[tuple[str, dict[str, Any] | bytes, str | None]] = [
            (what, make(row), None) for what, make in _MALFORMED
        ]
        bodies += [
            (f"fixture case {c.name!r}", c.request, c.expected_error) for c in fixture or [] if c.kind == "malformed"
        ]
        outcomes = await asyncio.gather(*(sender.verify(body, seed=False) for _, body, _ in bodies))
        for (what, body, expected_error), got in zip(bodies, outcomes, strict=True):
            shown = body.decode() if isinstance(body, bytes) else json.dumps(body)[:160]
            rejected = got.status is not None and 400 <= got.status < 500
            if not rejected and not (got.status == 200 and got.reward == 0.0):
                self.fail("malformed", None, f"{what} got {got.describe()}; sent {shown}")
            elif expected_error and rejected and expected_error.lower() not in got.body_text.lower():
                self.fail("fixture", None, f"{what} was rejected without {expected_error!r} in the error: {got.error}")

    async def send(self, url: str, cases: list[Case], row: dict[str, Any], fixture: list[FixtureCase] | None) -> int:
        async with Sender(url, timeout=self.options.timeout, concurrency=self.options.concurrency) as sender:
            started = time.perf_counter()
            outcomes = await asyncio.gather(*(sender.verify(c.body) for c in cases))
            passes = [{c.id: o for c, o in zip(cases, outcomes, strict=True)}]
            if await self.stateful(sender, cases, passes[0]):
                sender.replay = self.replayed = True
                started = time.perf_counter()
                outcomes = await asyncio.gather(*(sender.verify(c.body) for c in cases))
                passes = [{c.id: o for c, o in zip(cases, outcomes, strict=True)}]
            again = self.repeated(cases, passes[0], time.perf_counter() - started)
            outcomes = await asyncio.gather(*(sender.verify(c.body) for c in again[::-1]))
            passes.append({c.id: o for c, o in zip(again[::-1], outcomes, strict=True)})
            passes.append({c.id: await sender.verify(c.body) for c in again})
            self.judge(cases, passes)
            if self.wanted("malformed"):
                await self.malformed(sender, row, fixture)
            return sender.sent

    def passes(self, cases: list[Case]) -> None:
        failed = {f.probe for f in self.findings}
        counted: dict[str, int] = {}
        for case in cases:
            counted[case.probe] = counted.get(case.probe, 0) + 1
        for name, spec in PROBES.items():
            if not self.wanted(name) or name in failed:
                continue
            n = counted.get(name, 0)
            if name == "reward_range":
                n = len(cases)
            elif name == "determinism":
                n = len(cases) if self.partial_repeats is None else self.partial_repeats
            elif name == "malformed":
                n = len(_MALFORMED)
            status = Status.PASS if n else Status.SKIP
            reason = f"{spec.title} ({n} case{'s' if n != 1 else ''})" if n else "no row offers this probe"
            if n and self.replayed:
                reason += "; verify reads what the tools did to the session, so each case's tool calls ran first"
            self.findings.append(finding(name, status, reason))


# gymkit's runtime words a validation error so (gymkit.runtime.server); NeMo Gym's is FastAPI's JSON.
_GYMKIT_MISSING = re.compile(r"^invalid body for /(?:verify|seed_session): (.+)$")
_MISSING_PART = re.compile(r"^(\w+): Field required$")


def _missing_fields(body_text: str) -> list[str] | None:
    """The request fields a 422 says are missing, when missing fields are all it says; else None."""
    try:
        answer = json.loads(body_text)
    except ValueError:
        return None
    if not isinstance(answer, dict):
        return None
    if isinstance(error := answer.get("error"), str) and (m := _GYMKIT_MISSING.match(error)):
        parts = [_MISSING_PART.match(part) for part in m.group(1).split("; ")]
        return [part.group(1) for part in parts if part] if all(parts) else None
    detail = answer.get("detail")
    if not isinstance(detail, list) or not detail:
        return None
    fields = []
    for error in detail:
        loc = error.get("loc") if isinstance(error, dict) else None
        if error.get("type") != "missing" or not isinstance(loc, list) or len(loc) != 2 or loc[0] != "body":
            return None
        fields.append(str(loc[1]))
    return fields


def _lacks_a_field(case: Case, got: Outcome) -> bool:
    """Whether verify, or the seed before it, refused the body (422) only for request fields it lacks, none
    of them the response: what a rollout committed without its materialized input lacks, not a verifier's
    own rejection."""
    fields = _missing_fields(got.body_text) if got.status == 422 else None
    return bool(fields) and all(f != "response" and f not in case.body for f in fields or ())


def run_audit(paths: ServerPaths, options: AuditOptions) -> AuditResult:
    """Audit one server; raises :class:`UserError` when it cannot start or has nothing to audit."""
    started = time.perf_counter()
    unknown = sorted((options.probes or set()) - set(PROBES))
    if unknown:
        raise UserError(f"unknown probe {unknown[0]!r}; probes: {', '.join(PROBES)}")
    examples, pool = _rows(paths)
    if not examples:
        raise UserError(f"{paths.example} has no rows to build probes from")
    if options.rows and (bad := sorted(r for r in options.rows if not 0 <= r < len(examples))):
        raise UserError(f"--row {bad[0]}: {paths.example} has rows 0 to {len(examples) - 1}")
    fixture = load_fixture(paths)
    golds = gold_cases(paths, examples, fixture)
    audit = _Audit(paths, options)
    cases = build_cases(examples, golds, pool) + _fixture_cases(fixture)
    needed = {c.ref for c in cases if c.ref}
    # Determinism and the reward range are judged over whatever is sent: asked for alone, they get every case.
    every = options.probes is not None and bool(options.probes & {"determinism", "reward_range"})
    keep = [
        c
        for c in cases
        if c.id in needed
        or (
            (options.rows is None or c.row in options.rows) and (every or audit.wanted(c.probe) or c.probe == "fixture")
        )
    ]
    try:
        with ServerProcess(paths.dir, timeout=options.startup_timeout) as server:
            sent = asyncio.run(audit.send(server.url, keep, examples[min(options.rows or {0})], fixture))
    except GymkitError as exc:
        raise UserError(f"{paths.name} did not start: {exc.message}") from None
    audit.findings = [f for f in audit.findings if audit.wanted(f.probe or "")]
    audit.passes(keep)
    findings = apply_waivers(audit.findings, load_waivers(paths.dir, paths.root))
    return AuditResult(findings, len(keep), sent, time.perf_counter() - started)
