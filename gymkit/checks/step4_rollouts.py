"""Step 4 · Example rollouts.

GYM401 the file exists, GYM402 valid rows with rewards in [0, 1], GYM403 one rollout per
example row, GYM404 re-verification reproduces the stored rewards, GYM405 the README says
how to start the server, GYM406 every tool the examples advertise is served, GYM407 no
example rollout's tool call got an error back (a warning), GYM408 NeMo Gym's
data/example_metrics.json is there and counts the example rows.

GYM406 reads the routes from the running server's OpenAPI document: what it serves, whatever
runtime, base classes or helper modules define its tools. It starts the server, so
``--no-reverify`` skips it with the other checks that do, and it starts nothing when no row
advertises a tool.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx

from gymkit.checks.elsewhere import elsewhere_warning, service_warning
from gymkit.checks.fixtures import GYMNASIUM_SKIP, JUDGE_SKIP, Fixtures
from gymkit.checks.registry import Check, Finding, Skip, problem, register
from gymkit.errors import GymkitError
from gymkit.reverify import MATERIALIZED_INPUTS, RowResult, match_rollouts

__all__ = ["GYM401", "GYM402", "GYM403", "GYM404", "GYM405", "GYM406", "GYM407", "GYM408", "served_routes"]

ROLLOUTS = "data/example_rollouts.jsonl"
EXAMPLES = "data/example.jsonl"
METRICS = "data/example_metrics.json"
NEMO_ROLLOUTS = 5
NEMO_FIVE = f"NeMo Gym's CONTRIBUTING.md asks for exactly {NEMO_ROLLOUTS} example rollouts"


class Step4(Check):
    step = 4


@register
class GYM401(Step4):
    """data/example_rollouts.jsonl exists"""

    def check(self, fx: Fixtures) -> Iterable[Finding] | Skip:
        """Generate it with `gymkit rollouts NAME` (the embedded model needs no GPU or network) and commit
        it with the server."""
        path = fx.paths.example_rollouts
        # A FIFO or a symlink out of the repository is there: GYM402 says why it cannot be read.
        present = path.exists() or path.is_symlink()
        return [] if present else [problem(f"{ROLLOUTS} is missing", ROLLOUTS)]


# gymkit's rules that NeMo Gym does not have: a warning there, naming what upstream allows.
_NEMO_ALLOWS = {
    "reward range": " (gymkit's rule: NeMo Gym allows any finite reward, e.g. -1 for a lost game)",
    "empty input": " (gymkit's rule: NeMo Gym allows an empty input when the environment supplies the prompt)",
}


@register
class GYM402(Step4):
    """Every example rollout is a valid rollout row with a finite reward in [0, 1]"""

    requires = frozenset({"GYM401"})

    def check(self, fx: Fixtures) -> Iterable[Finding] | Skip:
        """Regenerate the file with `gymkit rollouts NAME` rather than editing it by hand; if a reward is
        out of range or not finite, fix verify so it returns a reward between 0 and 1."""
        from gymkit.validation import REWARD_EPSILON, clamped_reward

        problems = fx.rollout_problems
        if problems is None:
            return Skip(f"no {ROLLOUTS}")
        upstream = fx.gym == "nemo-gym"
        rows = dict(fx.rollout_rows or [])
        stepped = {line: steps for line, row in rows.items() if upstream and (steps := _transitions(row))}
        found = [
            problem(p.message + _NEMO_ALLOWS[p.gymkit_rule], fx.rel(p.path), p.line, level="warn")
            if upstream and p.gymkit_rule in _NEMO_ALLOWS
            else problem(p.message, fx.rel(p.path), p.line)
            for p in problems
            if not (p.line in stepped and p.kind == "schema")
        ]
        found += [f for line, steps in stepped.items() if (f := _stepped_problem(rows[line], steps, line))]
        for line, row in rows.items():
            bound = clamped_reward(row.get("reward"))
            if bound is not None:
                message = f"reward {row['reward']!r} is read as {bound:g} (within {REWARD_EPSILON:g} of [0, 1])"
                found.append(problem(message, ROLLOUTS, line, level="warn"))
        return found


def _transitions(row: dict[str, Any]) -> list[list[Any]] | None:
    """The steps of a row upstream's aviary agent wrote with `contains_transitions: true`, else None.

    That agent (`return_transitions`, on by default) stores ``response.output`` as one list per step, each
    the whole conversation so far, which the Responses API's single list of items does not admit.
    """
    response = row.get("response")
    if not isinstance(response, dict) or response.get("contains_transitions") is not True:
        return None
    output = response.get("output")
    if isinstance(output, list) and output and all(isinstance(step, list) for step in output):
        return output
    return None


def _stepped_problem(row: dict[str, Any], steps: list[list[Any]], line: int) -> Finding | None:
    """A stepped row validated as its last step, the whole conversation, says: what fails there fails."""
    from pydantic import ValidationError

    from gymkit.jsonl import validation_problem
    from gymkit.runtime.wire import RolloutRow

    last = {**row, "response": {**row["response"], "output": steps[-1]}}
    try:
        RolloutRow.model_validate(last)
    except ValidationError as exc:
        # An environment that deals the task itself (aviary's task_idx) stores an empty input, as GYM402
        # allows upstream; anything else wrong in the row fails.
        if any(e["loc"] != ("responses_create_params", "input") for e in exc.errors()):
            return problem(f"{validation_problem(exc)} (in the last of its {len(steps)} steps)", ROLLOUTS, line)
    note = "" if row["responses_create_params"].get("input") else "; its input is empty" + _NEMO_ALLOWS["empty input"]
    message = (
        f"response.output holds {len(steps)} steps (upstream's aviary agent, `contains_transitions: true`),"
        f" read as its last, the whole conversation{note}"
    )
    return problem(message, ROLLOUTS, line, level="warn")


@register
class GYM403(Step4):
    """One rollout per example row, each matching its example's input"""

    requires = frozenset({"GYM102", "GYM402"})

    def check(self, fx: Fixtures) -> Iterable[Finding] | Skip:
        """Regenerate the rollouts from the current `data/example.jsonl` with `gymkit rollouts NAME`: the
        examples changed since the rollouts were collected. In a NeMo Gym checkout, commit exactly five
        rollouts (`ng_collect_rollouts` with `+limit=5`)."""
        examples, rollouts = fx.example_rows, fx.rollout_rows
        if examples is None or rollouts is None:
            return Skip("examples or rollouts did not parse")
        matched = match_rollouts([row for _, row in examples], rollouts)
        unmatched = [line for line, index in matched.items() if index is None]
        covered = {index for index in matched.values() if index is not None}
        uncovered = [line for index, (line, _) in enumerate(examples) if index not in covered]
        # NeMo Gym asks for five rollouts, not one per example (upstream's come from its datasets):
        # there a mismatch is one note for the reviewer, not a failure per row.
        upstream = fx.gym == "nemo-gym"
        if upstream:
            problems = []
            if unmatched or uncovered:
                message = (
                    f"{len(unmatched)} rollout(s) match no row of {EXAMPLES} and {len(uncovered)} example(s) have "
                    f"no rollout ({NEMO_FIVE} and does not ask that they come from {EXAMPLES})"
                )
                problems.append(problem(message, ROLLOUTS, unmatched[0] if unmatched else None, level="warn"))
        else:
            problems = [
                problem(f"this rollout's input matches no row of {EXAMPLES}", ROLLOUTS, line) for line in unmatched
            ]
            problems += [problem(f"this example has no rollout in {ROLLOUTS}", EXAMPLES, line) for line in uncovered]
        if upstream and len(rollouts) != NEMO_ROLLOUTS:
            problems.append(problem(f"{len(rollouts)} rollouts; {NEMO_FIVE}", ROLLOUTS))
        return problems


@register
class GYM404(Step4):
    """Re-verification: verify reproduces every stored reward"""

    requires = frozenset({"GYM202", "GYM203", "GYM402"})
    slow = True

    @classmethod
    def prefetch(cls, fx: Fixtures) -> None:
        if fx.options.reverify and not fx.gymnasium:
            fx.reverify  # noqa: B018 - computing the cached fixture is the point

    def check(self, fx: Fixtures) -> Iterable[Finding] | Skip:
        """Run `gymkit reproduce NAME` to see each differing row. If verify changed on purpose,
        regenerate the rollouts (`gymkit rollouts NAME`); if it should not have changed, verify is not
        deterministic (randomness, time, network) - make it depend only on its input."""
        if fx.gymnasium:
            return Skip(GYMNASIUM_SKIP.format(what="re-verification's /verify"))
        if not fx.options.reverify:
            return Skip("re-verification turned off (--no-reverify)")
        report = fx.reverify
        if fx.judge_models and (report.error or report.differences):
            # What differs may be the judge's part of the reward: nothing here says which.
            return Skip(JUDGE_SKIP.format(models=fx.judge_models, what="re-verification"))
        if report.error:
            found = elsewhere_warning(fx, "re-verification", [report.error])
            return found or service_warning(fx, "the server", [report.error], ()) or [problem(report.error, "app.py")]
        if report.reverify_mode == "unsupported":
            return Skip("the server declares reverify_mode 'unsupported'")
        errors = [row.error for row in report.differences if row.error]
        if len(errors) == len(report.differences) and (found := elsewhere_warning(fx, "verify", errors, ROLLOUTS)):
            return found
        shown = [
            row.error or f"line {row.line}: stored reward {row.stored}, verify now returns {row.reward}"
            for row in report.differences
        ]
        if found := service_warning(fx, "verify", shown, (row.reward for row in report.differences), ROLLOUTS):
            return found
        problems = []
        differences = report.differences
        if fx.gym == "nemo-gym":
            # NeMo Gym re-verifies a rollout with its materialized input, which upstream does not ask to commit:
            # a rollout that carries not what verify needs, with no input stored for it, is not upstream's failure.
            unfit = [row for row in differences if not row.paired and row.error and _REFUSED.search(row.error)]
            if unfit:
                problems.append(_unpaired_warning(unfit))
                differences = [row for row in differences if row not in unfit]
        for row in differences:
            if row.error:
                problems.append(problem(row.error, ROLLOUTS, row.line))
            else:
                problems.append(
                    problem(f"stored reward {row.stored}, verify now returns {row.reward}", ROLLOUTS, row.line)
                )
        return problems


# verify refused the body: the rollout lacks a field the request needs (a 422 from FastAPI's validation).
_REFUSED = re.compile(r"HTTP 422\b")


def _unpaired_warning(rows: list[RowResult]) -> Finding:
    first = rows[0]
    more = f" ({len(rows) - 1} more like it)" if len(rows) > 1 else ""
    why = (first.error or "")[:200]
    message = (
        f"cannot be re-verified: verify refuses what this rollout carries ({why}){more}, and neither"
        f" {EXAMPLES} nor data/{MATERIALIZED_INPUTS} has its input (gymkit's rule that the"
        " committed rollouts re-verify; NeMo Gym's reverify pairs each rollout with its materialized input, which"
        " it does not ask to commit: commit that file, or collect the rollouts from the example rows)"
    )
    return problem(message, ROLLOUTS, first.line, level="warn")


_START_COMMAND = re.compile(r"gymkit\s+(serve|reproduce|rollouts)|ng_run", re.IGNORECASE)


@register
class GYM405(Step4):
    """The README shows the command that starts the server"""

    requires = frozenset({"GYM210"})

    def check(self, fx: Fixtures) -> Iterable[Finding] | Skip:
        """Add the command a reviewer runs, e.g. `gymkit serve NAME` (and `gymkit rollouts NAME` for the
        example rollouts), in a code block of README.md."""
        assert fx.readme is not None
        text = "\n".join(fx.readme.lines)
        if _START_COMMAND.search(text):
            return []
        if fx.gym == "nemo-gym":
            # Upstream's README template has no such section: ng_run's command is the same for every server.
            message = "no `ng_run` command in README.md (gymkit's rule; NeMo Gym's README template does not ask for it)"
            return [problem(message, "README.md", level="warn")]
        return [problem("no `gymkit serve NAME` command in README.md", "README.md")]


def served_routes(server_dir: Path, *, startup_timeout: float, timeout: float) -> tuple[frozenset[str], str | None]:
    """The POST routes of the running server, from its OpenAPI document: (names, None) or (empty, why not)."""
    from gymkit.launch import start_server

    try:
        # Loopback only: the environment's proxy settings must not route the request elsewhere.
        with start_server(server_dir, timeout=startup_timeout) as server, httpx.Client(trust_env=False) as client:
            spec = client.get(f"{server.url}/openapi.json", timeout=timeout).raise_for_status().json()
    except GymkitError as exc:
        return frozenset(), f"the server did not start: {exc.message}"
    except (httpx.HTTPError, ValueError) as exc:  # a JSON error is a ValueError
        return frozenset(), f"GET /openapi.json did not answer with the server's routes: {exc}"
    paths = spec.get("paths") if isinstance(spec, dict) else None
    if not isinstance(paths, dict):
        return frozenset(), "the server's /openapi.json lists no paths"
    return frozenset(p.strip("/") for p, ops in paths.items() if isinstance(ops, dict) and "post" in ops), None


def _advertised(fx: Fixtures) -> dict[int, frozenset[str]]:
    from gymkit.rollouts.agent import declared_tools

    rows = fx.example_rows or []
    found = {}
    for line, row in rows:
        params = row.get("responses_create_params")
        tools = declared_tools(params) if isinstance(params, dict) else frozenset()
        if tools:
            found[line] = tools
    return found


def _served(fx: Fixtures) -> tuple[frozenset[str], str | None]:
    timeouts = {"startup_timeout": fx.options.startup_timeout, "timeout": fx.options.verify_timeout}

    def read() -> tuple[frozenset[str], str | None]:
        with fx.server():
            return served_routes(fx.paths.dir, **timeouts)

    return fx.memo("served_routes", read)


_NEMO_UNSERVED = (
    " (gymkit's rule; NeMo Gym allows it: its agent hands the model the server's 404 as the tool's output,"
    " and a server that scores the calls themselves need not serve them)"
)


@register
class GYM406(Step4):
    """Every tool data/example.jsonl advertises is one the server serves"""

    requires = frozenset({"GYM102", "GYM202", "GYM203"})
    slow = True

    @classmethod
    def prefetch(cls, fx: Fixtures) -> None:
        if fx.options.reverify and _advertised(fx):
            _served(fx)

    def check(self, fx: Fixtures) -> Iterable[Finding] | Skip:
        """A row's `responses_create_params.tools` offers the model tools; a call to one the server does not
        serve gets an error back and teaches the model nothing. Rename the tool in the rows to the server's
        method name (a tool is an `async def NAME(self, body: Model)` of the server), add the method, or remove
        the tool from the rows."""
        advertised = _advertised(fx)
        if not advertised:
            return []
        if not fx.options.reverify:
            return Skip("reading the server's routes starts it; turned off with --no-reverify")
        from gymkit.runtime.server import RESERVED_ROUTES

        routes, error = _served(fx)
        if error:
            found = elsewhere_warning(fx, "starting the server", [error])
            return found or service_warning(fx, "the server", [error], ()) or [problem(error, "app.py")]
        if any(re.fullmatch(r"\{[^/{}]+\}", route) for route in routes):
            return []  # a route `/{path}` answers every tool name (workplace_assistant dispatches them itself)
        serves = ", ".join(sorted(routes - RESERVED_ROUTES)) or "no tools"
        # Upstream's servers that score the calls themselves (xlam_fc) serve no tools by design.
        upstream = fx.gym == "nemo-gym"
        note = _NEMO_UNSERVED if upstream else ""
        return [
            problem(
                f"advertises tool {name!r}, which the server does not serve (it serves: {serves}){note}",
                EXAMPLES,
                line,
                level="warn" if upstream else "fail",
            )
            for line, tools in advertised.items()
            for name in sorted(tools - routes)
        ]


@register
class GYM407(Step4):
    """No example rollout has a tool call that got an error back (a warning)"""

    requires = frozenset({"GYM402"})

    def check(self, fx: Fixtures) -> Iterable[Finding] | Skip:
        """A tool call whose output is an error (an unknown tool, arguments the tool's model refuses, a tool
        that raised) is a rollout the model learns little from. Open the row (`gymkit view NAME`): fix the tool
        or its description and schema in the rows, then collect the rollouts again (`gymkit rollouts NAME`)."""
        from gymkit.evaluate.summary import summarise
        from gymkit.profiling.grouping import tool_use

        if fx.rollout_rows is None:
            return Skip("rollouts did not parse")
        problems = []
        for line, row in fx.rollout_rows:
            summary = summarise(row)
            failed = summary.tool_errors + summary.invalid_arguments
            if not failed:
                continue
            use = tool_use(row)
            by_tool = {**use.invalid}
            for name, count in use.errors.items():
                by_tool[name] = by_tool.get(name, 0) + count
            names = ", ".join(f"{name} {count}" for name, count in sorted(by_tool.items()))
            message = f"{failed} of {summary.calls} tool call(s) got an error back" + (f" ({names})" if names else "")
            problems.append(problem(message, ROLLOUTS, line, level="warn"))
        return problems


_COUNT = "Number of examples"


@register
class GYM408(Step4):
    """In a NeMo Gym checkout, data/example_metrics.json exists and counts the example rows"""

    def check(self, fx: Fixtures) -> Iterable[Finding] | Skip:
        """NeMo Gym's CONTRIBUTING.md asks for `data/example_metrics.json` reporting `"Number of examples": 5`.
        Write it with upstream's own tool from the checkout: `ng_prepare_data "+config_paths=[CONFIG]"
        +output_dirpath=data +mode=example_validation`, and commit it with `data/example.jsonl`."""
        from gymkit.errors import InvalidDataError
        from gymkit.inputs import read_json

        if fx.gym != "nemo-gym":
            return []  # gymkit's gyms keep no example_metrics.json: nothing to hold to upstream's rule
        path = fx.paths.dir / METRICS
        if not (path.exists() or path.is_symlink()):
            return [problem(f"{METRICS} is missing", METRICS)]
        try:
            metrics = read_json(path, root=fx.paths.root)
        except InvalidDataError as exc:
            return [problem(f"cannot be read: {exc.problem}", METRICS, exc.line)]
        count = metrics.get(_COUNT) if isinstance(metrics, dict) else None
        if type(count) is not int:
            return [problem(f'no integer "{_COUNT}" in the file', METRICS)]
        rows = fx.example_rows
        if rows is not None and count != len(rows):
            return [problem(f'"{_COUNT}" is {count}, {EXAMPLES} has {len(rows)} rows; regenerate it', METRICS)]
        return []
