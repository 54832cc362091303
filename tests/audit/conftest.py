"""Audit test servers in a temporary gym: a server folder from servers/ plus task rows of one kind.

Rows ask for the code of a city from a small table. ``text`` rows give the table in the
prompt and want an "Answer: N" line; ``tool`` rows offer a lookup tool and their gold
calls it; ``json`` rows want {"code": N}. The gold answers live in a NeMo Gym verifier
fixture (tests/verifier_cases.jsonl), as a real server's would.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gymkit.audit import AuditOptions, AuditResult, run_audit
from gymkit.project import ServerPaths

SERVERS = Path(__file__).parent / "servers"
TABLE = {"Lima": 4821, "Oslo": 1930, "Quito": 7710, "Accra": 5264, "Hobart": 3057, "Tunis": 6148}
TOOL = {
    "type": "function",
    "name": "lookup",
    "description": "The code of a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string", "description": "City name"}},
        "required": ["city"],
        "additionalProperties": False,
    },
    "strict": True,
}


def message(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": text}]}


def task_row(city: str, kind: str) -> dict[str, Any]:
    listing = ", ".join(f"{c} {n}" for c, n in TABLE.items())
    if kind == "tool":
        prompt = f"What is the code of {city}? Use the lookup tool."
    elif kind == "json":
        prompt = f"Codes: {listing}. What is the code of {city}? Reply with only a JSON object with the key code."
    else:
        prompt = f"Codes: {listing}. What is the code of {city}? End with a line 'Answer: ' and the number."
    params: dict[str, Any] = {"input": [{"role": "user", "content": prompt}]}
    if kind == "tool":
        params["tools"] = [TOOL]
    return {"responses_create_params": params, "expected_answer": str(TABLE[city]), "kind": kind}


def gold(city: str, kind: str) -> dict[str, Any]:
    code = TABLE[city]
    if kind == "json":
        return {"output": [message(json.dumps({"code": code}))]}
    items: list[dict[str, Any]] = []
    if kind == "tool":
        items.append(
            {"type": "function_call", "call_id": "c1", "name": "lookup", "arguments": json.dumps({"city": city})}
        )
        items.append(
            {"type": "function_call_output", "call_id": "c1", "output": json.dumps({"city": city, "code": code})}
        )
    return {"output": [*items, message(f"I looked the code up.\nAnswer: {code}")]}


def write_server(tmp: Path, name: str, kind: str) -> Path:
    target = tmp / "resources_servers" / name
    shutil.copytree(SERVERS / name, target, ignore=shutil.ignore_patterns("__pycache__"))
    (target / "data").mkdir()
    (target / "tests").mkdir()
    rows = [task_row(city, kind) for city in TABLE]
    (target / "data" / "example.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    cases = [
        {
            "name": f"correct-{i}",
            "kind": "full_reward",
            "request": {**r, "response": gold(c, kind)},
            "expected_reward": 1.0,
        }
        for i, (c, r) in enumerate(zip(TABLE, rows, strict=True))
    ]
    cases.append(
        {
            "name": "wrong",
            "kind": "zero_reward",
            "request": {**rows[0], "response": {"output": [message("Answer: 1")]}},
            "expected_reward": 0.0,
        }
    )
    (target / "tests" / "verifier_cases.jsonl").write_text("".join(json.dumps(c) + "\n" for c in cases))
    return target


Audit = Callable[..., AuditResult]


@pytest.fixture
def audit(tmp_path: Path) -> Audit:
    """audit(server, kind, *probes) -> the result of auditing a fresh copy with those probes."""

    def run(name: str, kind: str = "text", *probes: str) -> AuditResult:
        folder = write_server(tmp_path / name, name, kind)
        return run_audit(ServerPaths(folder), AuditOptions(target=name, probes=set(probes) or None))

    return run


def caught(result: AuditResult) -> set[str]:
    return {f.probe for f in result.findings if f.status == "fail" and f.probe}
