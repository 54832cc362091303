"""The resource server as a TRL environment: one instance per rollout, tools over HTTP.

TRL's ``environment_factory`` takes a class whose public methods are the tools offered to
the model (their schema comes from the signature and a Google-style docstring) and whose
``reset`` starts a rollout. Here ``reset`` posts the task row to ``/seed_session``, each
tool method posts its arguments to ``POST /<tool>`` and hands the server's raw answer back
to the model, and :func:`verify_reward` posts the finished rollout to ``/verify``: the
reward GRPO trains on is the server's own. Each instance carries its own cookie jar, so the
server's signed session cookie ties a rollout's tool calls to its seed_session.
"""

from __future__ import annotations

import inspect
import json
import threading
from dataclasses import dataclass, field
from typing import Any

import httpx

from gymkit.rollouts.convert import complete_response
from gymkit.runtime.server import RESERVED_ROUTES

__all__ = [
    "ServerRolloutError",
    "ServerStats",
    "close_environments",
    "environment_class",
    "to_response",
    "tool_specs",
    "verify_reward",
]

_JSON_TYPES: dict[str, Any] = {"string": str, "integer": int, "number": float, "boolean": bool, "array": list}


class ServerRolloutError(RuntimeError):
    """The server refused a seed_session or verify: the run stops, since its rewards would be wrong."""


@dataclass
class ServerStats:
    """Requests this run sent to the server, for the metrics log (read and reset per logged step)."""

    seed_sessions: int = 0
    tool_calls: int = 0
    tool_errors: int = 0
    verifies: int = 0
    rewards: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def take(self) -> dict[str, float]:
        with self.lock:
            out: dict[str, float] = {
                "server/seed_sessions": self.seed_sessions,
                "server/tool_calls": self.tool_calls,
                "server/tool_errors": self.tool_errors,
                "server/verifies": self.verifies,
            }
            self.seed_sessions = self.tool_calls = self.tool_errors = self.verifies = 0
            self.rewards.clear()
        return out


class _Client:
    """JSON over HTTP to one server for one rollout; ``reset`` forgets the session cookie."""

    def __init__(self, url: str, timeout: float) -> None:
        self.http = httpx.Client(base_url=url.rstrip("/"), timeout=timeout)

    def reset(self) -> None:
        self.http.cookies.clear()

    def post(self, route: str, body: Any) -> tuple[int, str]:
        """Status and body text; a 4xx/5xx still has a body the model should see."""
        response = self.http.post(f"/{route}", json=body)
        return response.status_code, response.text

    def must_post(self, route: str, body: Any) -> tuple[int, str]:
        """``post`` for seed_session and verify, whose failure to answer stops the run."""
        try:
            return self.post(route, body)
        except httpx.HTTPError as exc:
            raise ServerRolloutError(f"/{route} did not answer: {exc!r}") from None


class ServerEnvironment:
    """Base of the generated environment class; its tool methods are added per server."""

    server_url: str = ""
    timeout: float = 120.0
    stats: ServerStats = ServerStats()

    clients: list[_Client] = []  # every instance's, closed by close_environments

    def __init__(self) -> None:
        self.client = _Client(self.server_url, self.timeout)
        self.clients.append(self.client)
        self.row: dict[str, Any] = {}
        self.allowed: frozenset[str] = frozenset()

    def reset(self, **columns: Any) -> None:
        """Start a rollout of the dataset row TRL passes (its ``gymkit_row`` column is the task row)."""
        from gymkit.rollouts.agent import declared_tools

        self.client.reset()
        self.row = json.loads(columns["gymkit_row"])
        self.allowed = declared_tools(self.row["responses_create_params"])
        status, text = self.client.must_post("seed_session", self.row)
        with self.stats.lock:
            self.stats.seed_sessions += 1
        if status >= 300:
            # A task the server cannot seed is a broken server, not a bad rollout: stop the run.
            raise ServerRolloutError(f"/seed_session answered HTTP {status}: {text[:300]}")

    def _call(self, name: str, arguments: dict[str, Any]) -> str:
        if name not in self.allowed:
            # Like the rollout agent: a tool this task does not declare never reaches the server.
            with self.stats.lock:
                self.stats.tool_errors += 1
            return json.dumps({"error": f"Unknown tool {name!r}: not one of this task's tools"})
        try:
            status, text = self.client.post(name, arguments)
        except httpx.HTTPError as exc:
            status, text = 599, json.dumps({"error": f"tool call failed: {exc}"})
        with self.stats.lock:
            self.stats.tool_calls += 1
            self.stats.tool_errors += status >= 400
        return text


def _tool_method(spec: dict[str, Any]) -> Any:
    """A method named after the tool whose signature and docstring render the tool's JSON schema."""
    name = spec["name"]
    schema = spec.get("parameters") or {}
    properties: dict[str, Any] = schema.get("properties") or {}
    required = set(schema.get("required") or ())

    def tool(self: ServerEnvironment, **arguments: Any) -> str:
        return self._call(name, arguments)

    params = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    annotations: dict[str, Any] = {}
    doc_args = []
    # Required before optional: a Python signature cannot put a defaulted parameter first.
    for prop, prop_schema in sorted(properties.items(), key=lambda kv: kv[0] not in required):
        kind = _JSON_TYPES.get(str(prop_schema.get("type")), dict if prop_schema.get("type") == "object" else Any)
        annotations[prop] = kind
        default = inspect.Parameter.empty if prop in required else None
        params.append(inspect.Parameter(prop, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=kind))
        description = " ".join(str(prop_schema.get("description") or prop).split())
        if "enum" in prop_schema:
            description += f" (choices: {json.dumps(prop_schema['enum'])})"
        doc_args.append(f"    {prop}: {description}")
    annotations["return"] = str
    tool.__name__ = tool.__qualname__ = name
    tool.__signature__ = inspect.Signature(params, return_annotation=str)  # type: ignore[attr-defined]
    tool.__annotations__ = annotations
    summary = " ".join(str(spec.get("description") or f"The {name} tool.").split())
    tool.__doc__ = summary + ("\n\nArgs:\n" + "\n".join(doc_args) if doc_args else "")
    return tool


def tool_specs(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The function tools the rows declare (flat or Chat-style), one spec per name, reserved routes left out."""
    specs: dict[str, dict[str, Any]] = {}
    for row in rows:
        for tool in row["responses_create_params"].get("tools") or []:
            if not isinstance(tool, dict) or tool.get("type", "function") != "function":
                continue
            spec = raw if isinstance(raw := tool.get("function"), dict) else tool
            name = spec.get("name")
            if isinstance(name, str) and name.isidentifier() and name not in RESERVED_ROUTES:
                specs.setdefault(name, spec)
    return list(specs.values())


def environment_class(
    name: str, server_url: str, specs: list[dict[str, Any]], timeout: float = 120.0
) -> type[ServerEnvironment]:
    """A ServerEnvironment subclass for one running server, with a method per tool in ``specs``."""
    members: dict[str, Any] = {"server_url": server_url, "timeout": timeout, "stats": ServerStats(), "clients": []}
    members |= {spec["name"]: _tool_method(spec) for spec in specs}
    return type(f"{name.title().replace('_', '')}Environment", (ServerEnvironment,), members)


def close_environments(env_class: type) -> None:
    """Close the HTTP connections of every instance of ``env_class`` (TRL keeps its instances to the end)."""
    for client in env_class.clients:  # type: ignore[attr-defined]
        client.http.close()
    env_class.clients.clear()  # type: ignore[attr-defined]


def to_response(completion: list[dict[str, Any]], params: dict[str, Any] | None = None) -> dict[str, Any]:
    """A Responses API ``response`` for the messages TRL generated (assistant turns and tool results).

    Completed with the fields of ``params`` (the task's responses_create_params) an endpoint
    echoes, as ``gymkit rollouts`` sends it: NeMo Gym's /verify requires them.
    """
    output: list[dict[str, Any]] = []
    pending: list[str] = []  # call ids awaiting their tool message, in order
    for i, message in enumerate(completion):
        if message.get("role") == "tool":
            call_id = pending.pop(0) if pending else f"call_orphan_{i}"
            output.append({"type": "function_call_output", "call_id": call_id, "output": str(message["content"])})
            continue
        content = message.get("content") or ""
        if content:
            text = content if isinstance(content, str) else "".join(str(p.get("text", "")) for p in content)
            output.append({"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": text}]})
        for j, call in enumerate(message.get("tool_calls") or []):
            function = call.get("function") or {}
            arguments = function.get("arguments")
            call_id = f"call_{i}_{j}"
            pending.append(call_id)
            output.append(
                {
                    "type": "function_call",
                    "call_id": call_id,
                    "name": str(function.get("name", "")),
                    "arguments": arguments if isinstance(arguments, str) else json.dumps(arguments or {}),
                }
            )
    return complete_response({"object": "response", "output": output, "status": "completed"}, params or {})


def verify_reward(completions: list[list[dict[str, Any]]], environments: list[Any], **_: Any) -> list[float]:
    """GRPO's reward: each rollout posted to the server's ``/verify``, its ``reward`` returned."""
    rewards = []
    for completion, env in zip(completions, environments, strict=True):
        response = to_response(completion, env.row["responses_create_params"])
        status, text = env.client.must_post("verify", {**env.row, "response": response})
        if status >= 300:
            raise ServerRolloutError(f"/verify answered HTTP {status}: {text[:300]}")
        reward = json.loads(text).get("reward")
        if not isinstance(reward, int | float) or isinstance(reward, bool):
            raise ServerRolloutError(f"/verify answered reward {reward!r}, not a number")
        with env.stats.lock:
            env.stats.verifies += 1
            env.stats.rewards.append(float(reward))
        rewards.append(float(reward))
    return rewards


verify_reward.__name__ = "verify"  # TRL logs each reward function under its name: rewards/verify/mean
