"""Re-verification: call a server's verify on each stored rollout and compare the rewards.

The body sent for a rollout is what verify saw when the rollout was collected, plus the stored
``response`` - not the stored rollout itself, whose verifier extras are outputs of the last
verify, not inputs. Where NeMo Gym wrote the materialized inputs beside the rollouts
(``example_rollouts_materialized_inputs.jsonl``), that is upstream's own rule: the input with the
rollout's task and rollout index, ``| {"response": ...}``. Else it is the example row the rollout
came from (with the rollout's ``_ng_*`` bookkeeping and ``agent_ref``). A rollout that matches
neither is sent with the fields a task row has (those of any example row), its bookkeeping and
its response: its other fields are what the last verify returned. A row whose reward differs is tried once more as its
rollout ran, in one session: ``seed_session``, the stored tool calls in order, then verify, for
servers whose verify reads what the tools did to the session. No model is called either way.
The server runs in a child process with a timeout per request, so a verify that raises or never
returns is reported, never waited on forever.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import httpx
from pydantic import ValidationError

from gymkit.errors import GymkitError
from gymkit.inputs import finite_number
from gymkit.jsonl import iter_rows
from gymkit.launch import start_server as ServerProcess  # the runtime the server is written for
from gymkit.nemo.detect import server_kind
from gymkit.project import ServerPaths
from gymkit.replay_mcp import mcp_endpoint, replay_over_mcp
from gymkit.runtime.wire import ResponseCreateParams, tool_route

__all__ = [
    "MATERIALIZED_INPUTS",
    "TOLERANCE",
    "ReverifyReport",
    "RowResult",
    "StoredInputs",
    "match_rollouts",
    "reverify_rollouts",
    "tool_calls",
    "verify_body",
    "without_nulls",
]

TOLERANCE = 1e-9
# After this many timeouts in a row the server is presumed stuck (a blocking verify
# freezes its event loop), and the remaining rows are not sent.
_MAX_CONSECUTIVE_TIMEOUTS = 2
_BOOKKEEPING = ("_ng_task_index", "_ng_rollout_index", "_ng_rollout_id", "agent_ref")
MATERIALIZED_INPUTS = "example_rollouts_materialized_inputs.jsonl"


@dataclass
class RowResult:
    line: int
    stored: float | None
    reward: float | None = None
    error: str | None = None
    # False when neither a materialized input nor an example row has the rollout's input: its body is a guess.
    paired: bool = True

    @property
    def matches(self) -> bool:
        return (
            self.error is None
            and self.stored is not None
            and self.reward is not None
            and abs(self.reward - self.stored) <= TOLERANCE
        )


@dataclass
class ReverifyReport:
    path: Path
    rows: list[RowResult] = field(default_factory=list)
    error: str | None = None
    reverify_mode: str | None = None

    @property
    def differences(self) -> list[RowResult]:
        return [row for row in self.rows if not row.matches]

    @property
    def ok(self) -> bool:
        return self.error is None and bool(self.rows) and not self.differences


def _params_key(row: dict[str, Any]) -> str | None:
    try:
        params = ResponseCreateParams.model_validate(row.get("responses_create_params"))
    except ValidationError:
        return None
    # NeMo Gym stores the materialized request: every field, unset ones as null (``user`` as "").
    # A field at its default, null or empty asks for nothing, on either side.
    dumped = params.model_dump(exclude_none=True, exclude_defaults=True)
    dumped = {k: v for k, v in dumped.items() if v != "" or k == "input"}
    dumped.setdefault("input", params.input)
    if isinstance(dumped["input"], list):
        # NeMo Gym stores each input message with its implied "type": "message"; the task row may leave it out.
        items = dumped["input"]
        dumped["input"] = [{"type": "message", **i} if isinstance(i, dict) and "role" in i else i for i in items]
    return json.dumps(dumped, sort_keys=True)


# What an agent's config sets on every request it sends (sampling, length): not part of the task.
_SAMPLING = ("max_output_tokens", "temperature", "top_p", "seed", "metadata")


def _prompt_key(key: str | None) -> str | None:
    """A params key without the sampling fields an agent's config may add; the task's tools and choice stay."""
    if key is None:
        return None
    return json.dumps({k: v for k, v in json.loads(key).items() if k not in _SAMPLING}, sort_keys=True)


def match_rollouts(examples: list[dict[str, Any]], rollouts: list[tuple[int, dict[str, Any]]]) -> dict[int, int | None]:
    """Rollout line -> index of its example row (by ``_ng_task_index``, checked against the input,
    else by equal ``responses_create_params``, else by the one example equal but for sampling fields),
    or None when no example has its input."""
    keys = [_params_key(row) for row in examples]
    by_key: dict[str, int] = {}
    for index, key in enumerate(keys):
        if key is not None:
            by_key.setdefault(key, index)
    # An agent's config may add sampling fields (swerl_llm_judge's `max_output_tokens: 4096`) that the
    # rows lack: a rollout whose request differs from exactly one example's only there came from it.
    by_prompt: dict[str, list[int]] = {}
    for index, key in enumerate(keys):
        if (prompt := _prompt_key(key)) is not None:
            by_prompt.setdefault(prompt, []).append(index)
    matched: dict[int, int | None] = {}
    for line, rollout in rollouts:
        key = _params_key(rollout)
        task = rollout.get("_ng_task_index")
        if isinstance(task, int) and 0 <= task < len(examples) and key is not None and keys[task] == key:
            matched[line] = task
        elif key is not None and key in by_key:
            matched[line] = by_key[key]
        else:
            same = by_prompt.get(_prompt_key(key) or "", [])
            matched[line] = same[0] if len(same) == 1 else None
    return matched


def verify_body(
    rollout: dict[str, Any],
    example: dict[str, Any] | None,
    *,
    upstream: bool = False,
    input_keys: frozenset[str] | None = None,
) -> dict[str, Any]:
    """The body /verify gets for a stored rollout. ``upstream`` (a server written for nemo_gym): the request's
    null fields are left out, as upstream's agent never sends them. ``input_keys``: the fields a task row has,
    which is all an unmatched rollout keeps of its own besides its bookkeeping and response."""
    if example is None:
        body = {k: v for k, v in rollout.items() if k not in ("reward", "_gymkit") and not k.startswith("_ng_failure")}
        if input_keys:
            keep = input_keys | {"responses_create_params", "response", *_BOOKKEEPING}
            body = {k: v for k, v in body.items() if k in keep or k.startswith("_ng_")}
    else:
        body = dict(example)
        body.update({k: rollout[k] for k in _BOOKKEEPING if k in rollout})
        body["response"] = rollout.get("response")
    return without_nulls(body) if upstream else body


@dataclass
class StoredInputs:
    """What verify saw for each stored rollout: upstream's materialized inputs, else the example rows."""

    examples: list[dict[str, Any]]
    materialized: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    upstream: bool = False

    @classmethod
    def read(cls, paths: ServerPaths, examples: list[dict[str, Any]] | None = None) -> StoredInputs:
        """Never raises: an unreadable file leaves its part empty (GYM1xx/GYM4xx report the file).
        ``examples``: the example rows, when the caller has read them already."""
        materialized: dict[tuple[int, int], dict[str, Any]] = {}
        if examples is None:
            examples = []
            with contextlib.suppress(GymkitError):
                if paths.example.is_file():
                    examples = [row for _, row in iter_rows(paths.example)]
        with contextlib.suppress(GymkitError):
            if (paths.data / MATERIALIZED_INPUTS).is_file():
                for _, row in iter_rows(paths.data / MATERIALIZED_INPUTS):
                    key = _indices(row)
                    if key is not None:
                        materialized[key] = row
        return cls(examples, materialized, server_kind(paths.dir) == "nemo_gym")

    def bodies(self, rollouts: list[tuple[int, dict[str, Any]]]) -> dict[int, dict[str, Any]]:
        """Rollout line -> the body /verify gets for it."""
        return self.pair(rollouts)[0]

    def pair(self, rollouts: list[tuple[int, dict[str, Any]]]) -> tuple[dict[int, dict[str, Any]], frozenset[int]]:
        """(rollout line -> the body /verify gets for it, the lines no stored input was found for)."""
        matched = match_rollouts(self.examples, rollouts)
        input_keys = frozenset(k for row in self.examples for k in row)
        bodies = {}
        unpaired = set()
        for line, rollout in rollouts:
            key = _indices(rollout)
            if key is not None and key in self.materialized:
                body = {**self.materialized[key], "response": rollout.get("response")}
                bodies[line] = without_nulls(body) if self.upstream else body
                continue
            index = matched.get(line)
            example = self.examples[index] if index is not None else None
            if example is None:
                unpaired.add(line)
            bodies[line] = verify_body(rollout, example, upstream=self.upstream, input_keys=input_keys)
        return bodies, frozenset(unpaired)


def _indices(row: dict[str, Any]) -> tuple[int, int] | None:
    task, rollout = row.get("_ng_task_index"), row.get("_ng_rollout_index")
    if all(isinstance(v, int) and not isinstance(v, bool) for v in (task, rollout)):
        return cast(int, task), cast(int, rollout)
    return None


def without_nulls(body: dict[str, Any]) -> dict[str, Any]:
    """A stored verify body for a server written for nemo_gym: its request without null fields."""
    params = body.get("responses_create_params")
    if not isinstance(params, dict):
        return body
    # Rollouts written under an older nemo_gym schema store `tool_choice: null`, which today's schema
    # refuses (HTTP 422). Its agent sends the request model's dump, where every nullable field defaults
    # to null and the rest to a value: a left-out key reads as that default, as the agent would send it.
    return {**body, "responses_create_params": {k: v for k, v in params.items() if v is not None}}


def _post(
    client: httpx.Client, url: str, body: dict[str, Any], timeout: float, *, keep_session: bool = False
) -> tuple[float | None, str | None]:
    # Each rollout was verified on its own: no session cookie of an earlier row goes with it.
    if not keep_session:
        client.cookies.clear()
    try:
        reply = client.post(url, content=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    except httpx.TimeoutException:
        return None, f"verify did not answer within {timeout:g}s"
    except httpx.TransportError as exc:
        return None, f"verify request failed: {exc}"
    if not reply.is_success:
        detail: Any = reply.text
        with contextlib.suppress(json.JSONDecodeError, AttributeError):
            detail = json.loads(detail).get("error", detail)
        return None, f"verify answered HTTP {reply.status_code}: {str(detail)[:300]}"
    try:
        payload = reply.json()
    except json.JSONDecodeError as exc:
        return None, f"verify request failed: {exc}"
    reward = payload.get("reward") if isinstance(payload, dict) else None
    if isinstance(reward, bool) or not isinstance(reward, int | float):
        return None, "verify's response has no numeric reward"
    return float(reward), None


def tool_calls(response: object) -> list[tuple[str, dict[str, Any]]]:
    output = response.get("output") if isinstance(response, dict) else None
    calls = []
    for item in output if isinstance(output, list) else []:
        if isinstance(item, dict) and item.get("type") == "function_call" and isinstance(item.get("name"), str):
            try:
                arguments = json.loads(item.get("arguments") or "{}")
            except (TypeError, json.JSONDecodeError):
                arguments = None
            calls.append((item["name"], arguments if isinstance(arguments, dict) else {}))
    return calls


def _replayed(client: httpx.Client, url: str, body: dict[str, Any], timeout: float) -> tuple[float | None, str | None]:
    """Verify after replaying the rollout in one session: seed_session, then the stored tool calls, in order.

    A stateful server (a counter the tools change, a game) rewards what its session holds, which a
    bare /verify does not rebuild. The tools' answers are not compared: the stored response is what
    verify reads. Only rows whose plain re-verification differed are replayed, so a stateless
    server's tools are called for nothing only when something is wrong already.
    """
    client.cookies.clear()
    calls = [(tool_route(name), arguments) for name, arguments in tool_calls(body.get("response"))]
    try:
        seeded = client.post(f"{url}/seed_session", json=body)
        mcp = mcp_endpoint(_json(seeded))
        over_mcp = []
        for index, (name, arguments) in enumerate(calls):
            if client.post(f"{url}/{name}", json=arguments).status_code == 404 and mcp is not None:
                # No HTTP route: an MCP-only server (upstream's @gym_tool). The rest go there too, in order.
                over_mcp = calls[index:]
                break
    except httpx.TimeoutException:
        return None, f"replaying the rollout's tool calls did not answer within {timeout:g}s"
    except httpx.TransportError as exc:
        return None, f"replaying the rollout's tool calls failed: {exc}"
    if over_mcp and mcp is not None:
        path, headers = mcp
        if (why := replay_over_mcp(url + path, headers, over_mcp, timeout)) is not None:
            return None, why
    return _post(client, f"{url}/verify", body, timeout, keep_session=True)


def _json(reply: httpx.Response) -> object:
    try:
        return reply.json() if reply.is_success else None
    except json.JSONDecodeError:
        return None


def _reverify_mode(client: httpx.Client, url: str) -> str | None:
    try:
        reply = client.get(f"{url}/reverify_mode")
        value = reply.json() if reply.is_success else None
    except (httpx.HTTPError, json.JSONDecodeError):
        return None
    return value if isinstance(value, str) else None


def reverify_rollouts(
    paths: ServerPaths,
    rollouts_path: Path | None = None,
    *,
    verify_timeout: float = 30.0,
    startup_timeout: float = 60.0,
) -> ReverifyReport:
    """Start the server, POST every stored rollout to /verify, compare rewards; never raises on bad input."""
    path = rollouts_path or paths.example_rollouts
    report = ReverifyReport(path)
    try:
        rollouts = list(iter_rows(path))
    except GymkitError as exc:
        report.error = exc.message
        return report
    bodies, unpaired = StoredInputs.read(paths).pair(rollouts)
    try:
        # The server is on loopback: a proxy named in the environment must not carry these calls.
        with (
            ServerProcess(paths.dir, timeout=startup_timeout) as server,
            httpx.Client(timeout=verify_timeout, trust_env=False, follow_redirects=True) as client,
        ):
            report.reverify_mode = _reverify_mode(client, server.url)
            timeouts = 0
            for line, rollout in rollouts:
                stored = rollout.get("reward")
                result = RowResult(line, float(stored) if finite_number(stored) else None, paired=line not in unpaired)
                report.rows.append(result)
                if timeouts >= _MAX_CONSECUTIVE_TIMEOUTS:
                    result.error = "not sent: the server stopped answering"
                    continue
                body = bodies[line]
                result.reward, result.error = _post(client, f"{server.url}/verify", body, verify_timeout)
                if not result.matches and result.error is None:
                    result.reward, result.error = _replayed(client, server.url, body, verify_timeout)
                timeouts = timeouts + 1 if result.error and "did not answer" in result.error else 0
    except GymkitError as exc:
        report.error = f"the server did not start: {exc.message}"
    return report
