"""The smoke test: serve a resource server under uvicorn and talk to it the way a trainer does.

It checks ``GET /``, that every tool route answers a malformed body with a 422 JSON
error (not a 500 or a hang), and that ``/seed_session`` then ``/verify`` return a valid
reward for every example row, once with an empty response and once with the row's
``expected_answer`` when it has one. Each verify gets its own session, as a rollout does.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
from pydantic import ValidationError

from gymkit.errors import GymkitError, InvalidDataError
from gymkit.jsonl import parse_line, validation_problem
from gymkit.project import ServerPaths, load_server, resolve_server
from gymkit.runtime.serving import serving_in_thread
from gymkit.runtime.wire import BaseRunRequest, reward_problem
from gymkit.validation import DataProblem, server_data_problems

__all__ = ["DEFAULT_TIMEOUT", "SmokeReport", "answer_response", "empty_response", "main", "shown", "smoke_test"]

DEFAULT_TIMEOUT = 30.0
_INVALID_BODY = b"[]"  # valid JSON that no request model accepts
_NOT_SENT = "row not sent (gymkit validate-data lists every problem of the file)"


@dataclass
class SmokeReport:
    server: str
    url: str = ""
    passed: int = 0
    problems: list[DataProblem] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems


class _NoAnswer(Exception):
    """The server did not answer (in time, or at all); further requests would fare no better."""


def empty_response() -> dict[str, Any]:
    """A Responses API response in which the model said nothing."""
    # parallel_tool_calls, tool_choice and tools are required of a response by the Responses API, and
    # NeMo Gym's servers refuse a verify body without them (HTTP 422).
    return {
        "id": "resp_smoke",
        "object": "response",
        "created_at": 0,
        "model": "gymkit-smoke",
        "output": [],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
    }


def answer_response(text: str) -> dict[str, Any]:
    """A response whose only output is an assistant message with ``text``."""
    message = {
        "type": "message",
        "id": "msg_smoke",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    }
    return {**empty_response(), "output": [message], "status": "completed"}


class _Client:
    """An HTTP client with a cookie jar of its own: a fresh one per rollout, so each gets its own session."""

    def __init__(self, base: str, timeout: float) -> None:
        self.timeout = timeout
        # The server is on loopback: a proxy named in the environment must not carry these calls.
        self._http = httpx.Client(base_url=base, timeout=timeout, trust_env=False, follow_redirects=True)

    def __enter__(self) -> _Client:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._http.close()

    def call(self, method: str, route: str, body: bytes | None = None) -> tuple[int, Any]:
        try:
            reply = self._http.request(method, route, content=body, headers={"Content-Type": "application/json"})
        except httpx.TimeoutException:
            raise _NoAnswer(f"{method} {route} did not answer within {self.timeout:g} s") from None
        except httpx.TransportError as exc:
            raise _NoAnswer(f"{method} {route} failed: {exc}") from None
        raw = reply.content
        try:
            return reply.status_code, json.loads(raw) if raw else None
        except ValueError:
            return reply.status_code, raw.decode("utf-8", "replace")[:200]


class _RaiseLog(logging.Handler):
    """Keeps where the server's code raised, so a 500 can name the file and line."""

    def __init__(self, server_dir: Path) -> None:
        super().__init__(logging.ERROR)
        self.server_dir = server_dir
        self._resolved = server_dir.resolve()
        self.last: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        tb = record.exc_info[2] if record.exc_info else None
        where = None
        while tb is not None:
            path = Path(tb.tb_frame.f_code.co_filename).resolve()
            if path.is_relative_to(self._resolved):
                where = f"{self.server_dir / path.relative_to(self._resolved)}:{tb.tb_lineno}"
            tb = tb.tb_next
        self.last = where


@contextlib.contextmanager
def _capture_server_errors(server_dir: Path) -> Iterator[_RaiseLog]:
    # The runtime logs a traceback for every exception in a route; the smoke test turns
    # each into one line that names the server's file and line instead.
    logger = logging.getLogger("gymkit.runtime.server")
    handler = _RaiseLog(server_dir)
    logger.addHandler(handler)
    propagate, logger.propagate = logger.propagate, False
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


def _error_text(status: int, body: Any, raised: _RaiseLog) -> str:
    message = body.get("error") if isinstance(body, dict) and "error" in body else body
    where = f" (at {raised.last})" if status == 500 and raised.last else ""
    raised.last = None
    return f"HTTP {status}: {message}{where}"


class _Smoke:
    def __init__(self, paths: ServerPaths, report: SmokeReport, timeout: float, progress: Callable[[str], None]):
        self.paths = paths
        self.report = report
        self.timeout = timeout
        self.progress = progress

    def fail(self, path: Path, line: int | None, message: str) -> None:
        problem = DataProblem(path, line, message)
        self.report.problems.append(problem)
        self.progress(f"FAIL {problem}")

    def ok(self, message: str) -> None:
        self.report.passed += 1
        self.progress(f"ok   {message}")

    def liveness(self, client: _Client) -> None:
        status, body = client.call("GET", "/")
        if status == 200 and isinstance(body, dict) and body.get("status") == "ok":
            self.ok("GET / answers")
        else:
            self.fail(self.paths.app, None, f"GET / answered HTTP {status}: {body}")

    def tools(self, client: _Client, names: list[str], raised: _RaiseLog) -> None:
        for name in names:
            status, body = client.call("POST", f"/{name}", _INVALID_BODY)
            if status == 422 and isinstance(body, dict) and "error" in body:
                self.ok(f"POST /{name} rejects an invalid body with 422")
            else:
                self.fail(
                    self.paths.app,
                    None,
                    f"tool /{name} answered an invalid body with {_error_text(status, body, raised)}; expected 422",
                )

    def rollout(self, line: int, row: dict[str, Any], response: dict[str, Any], raised: _RaiseLog) -> float | None:
        with _Client(self.report.url, self.timeout) as client:
            example = self.paths.example
            status, body = client.call("POST", "/seed_session", json.dumps(row).encode())
            if status != 200:
                self.fail(example, line, f"/seed_session answered {_error_text(status, body, raised)}")
                return None
            status, body = client.call("POST", "/verify", json.dumps({**row, "response": response}).encode())
            if status != 200:
                self.fail(example, line, f"/verify answered {_error_text(status, body, raised)}")
                return None
            reward = body.get("reward") if isinstance(body, dict) else None
            problem = reward_problem(reward)
            if problem:
                self.fail(example, line, f"/verify returned no valid reward: {problem}")
                return None
            assert isinstance(reward, int | float)
            return float(reward)

    def rows(self, raised: _RaiseLog) -> None:
        example = self.paths.example
        if not example.is_file():
            self.fail(example, None, "file not found: add example tasks, one JSON object per line")
            return
        with example.open("rb") as handle:
            lines = list(enumerate(handle, start=1))
        for line, raw in lines:
            if not raw.strip():
                continue
            try:
                row = parse_line(example, line, raw)
                BaseRunRequest.model_validate(row)
            except InvalidDataError as exc:
                self.fail(example, line, f"{exc.problem}; {_NOT_SENT}")
                continue
            except ValidationError as exc:
                self.fail(example, line, f"{validation_problem(exc)}; {_NOT_SENT}")
                continue
            rewards = [("empty response", self.rollout(line, row, empty_response(), raised))]
            # A verify that fails on the empty response would most likely fail the same way again.
            if "expected_answer" in row and rewards[0][1] is not None:
                answer = row["expected_answer"]
                text = answer if isinstance(answer, str) else json.dumps(answer)
                rewards.append(("reply = expected_answer", self.rollout(line, row, answer_response(text), raised)))
            if all(reward is not None for _, reward in rewards):
                summary = ", ".join(f"{what} -> reward {reward:g}" for what, reward in rewards)
                self.ok(f"{example.name}:{line} verify: {summary}")


def smoke_test(
    paths: ServerPaths, *, timeout: float = DEFAULT_TIMEOUT, progress: Callable[[str], None] | None = None
) -> SmokeReport:
    """Serve the server on 127.0.0.1 and run the checks; ``progress`` gets one line per check.

    Raises :class:`~gymkit.errors.ServerLoadError` or a config error when the server does
    not load; every other failure is a problem in the report.
    """
    started = time.perf_counter()
    server = load_server(paths)
    report = SmokeReport(server=server.name)
    smoke = _Smoke(paths, report, timeout, progress or (lambda _line: None))
    with _capture_server_errors(paths.dir) as raised, serving_in_thread(server.app) as url:
        report.url = url
        try:
            with _Client(url, timeout) as client:
                smoke.liveness(client)
                smoke.tools(client, sorted(server.tools()), raised)
            smoke.rows(raised)
        except _NoAnswer as exc:
            smoke.fail(paths.app, None, f"{exc}; stopped here (a handler blocks or loops)")
    report.seconds = time.perf_counter() - started
    return report


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def shown(paths: ServerPaths) -> ServerPaths:
    """The server's folder relative to the current one when it is below it: short, clickable paths."""
    try:
        return ServerPaths(paths.dir.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return paths


def _print_error(exc: GymkitError) -> None:
    print(f"error: {exc}" + (f"\nhint: {exc.hint}" if exc.hint else ""), file=sys.stderr, flush=True)


def _smoke_stage(paths: ServerPaths, timeout: float) -> bool:
    started = time.perf_counter()
    try:
        report = smoke_test(paths, timeout=timeout, progress=lambda line: print(f"  {line}", flush=True))
    except GymkitError as exc:  # the server does not load: that is the smoke test's finding
        _print_error(exc)
        print(f"smoke: FAILED in {time.perf_counter() - started:.2f} s, the server did not load", flush=True)
        return False
    verdict = "passed" if report.ok else f"FAILED ({_plural(len(report.problems), 'problem')})"
    print(f"smoke: {verdict} in {report.seconds:.2f} s, {_plural(report.passed, 'check')} ok", flush=True)
    return report.ok


def _data_stage(paths: ServerPaths) -> bool:
    started = time.perf_counter()
    problems = server_data_problems(paths)
    for problem in problems:
        print(f"  FAIL {problem}", flush=True)
    verdict = "passed" if not problems else f"FAILED ({_plural(len(problems), 'problem')})"
    print(f"data: {verdict} in {time.perf_counter() - started:.2f} s", flush=True)
    return not problems


def main(argv: list[str] | None = None) -> int:
    """``python -m gymkit.smoke DIR [--data]``: the smoke and data stages of ``nox -s test-server``.

    The same checks as ``gymkit smoke`` and ``gymkit validate-data``, in one process: the
    ``gymkit`` command loads all of its commands on start, which would cost the session
    seconds per server. Exit status: 0 ok, 1 smoke failed, 2 data failed, 3 both.
    """
    parser = argparse.ArgumentParser(prog="python -m gymkit.smoke", description="Smoke test a resource server.")
    parser.add_argument("server", help="the server's folder (or its name under resources_servers/)")
    parser.add_argument("--data", action="store_true", help="validate the data files after the smoke test")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds to wait for each request")
    args = parser.parse_args(argv)
    try:
        paths = shown(resolve_server(args.server))
    except GymkitError as exc:
        _print_error(exc)
        return 1
    status = 0 if _smoke_stage(paths, args.timeout) else 1
    if args.data and not _data_stage(paths):
        status |= 2
    return status


if __name__ == "__main__":
    sys.exit(main())
