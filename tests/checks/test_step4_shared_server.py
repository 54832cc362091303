"""One upstream server for the checks that start it side by side (the audit, GYM404, GYM406).

Three Ray starts at once on two cores timed out; inside ``gymkit.launch.sharing`` the first caller
starts the server, the others wait for it and use it, and the last scope to close stops it. The
upstream runtime is replaced by a stand-in that counts starts: what is tested is the sharing.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

import gymkit.launch as launch
from gymkit.errors import ServerLoadError
from gymkit.runtime.serving import ServerProcess


class _StandIn:
    starts: list[str]
    stops: list[str]
    fail = False

    def __init__(self, server_dir: Path, *, timeout: float, programs: object = None) -> None:
        self.server_dir, self.timeout = server_dir, timeout

    def __enter__(self) -> _StandIn:
        time.sleep(0.2)  # a start takes a while: the other callers arrive during it
        if self.fail:
            self.starts.append("failed")
            raise ServerLoadError("did not answer within 180 s")
        self.url = f"http://127.0.0.1:{9000 + len(self.starts)}"
        self.name = "quiz"
        self.starts.append(self.url)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stops.append(self.url)

    def exited(self, timeout: float = 0.0) -> bool:
        return self.url in self.stops


@pytest.fixture
def upstream(monkeypatch: pytest.MonkeyPatch) -> type[_StandIn]:
    class Counted(_StandIn):
        starts: list[str] = []
        stops: list[str] = []

    monkeypatch.setattr(launch, "UpstreamServer", Counted)
    monkeypatch.setattr(launch, "server_kind", lambda folder: "nemo_gym")
    return Counted


def _use(folder: Path, hold: float = 0.0) -> str:
    with launch.sharing(folder), launch.start_server(folder) as server:
        time.sleep(hold)
        return server.url


def test_checks_side_by_side_share_one_server_stopped_after_the_last(tmp_path: Path, upstream: Any) -> None:
    with ThreadPoolExecutor(3) as pool:
        urls = list(pool.map(lambda hold: _use(tmp_path, hold), [0.0, 0.3, 0.6]))
    assert len(upstream.starts) == 1
    assert urls == upstream.starts * 3
    assert upstream.stops == upstream.starts


def test_the_server_runs_while_a_scope_is_open_and_a_later_scope_starts_a_fresh_one(
    tmp_path: Path, upstream: Any
) -> None:
    with launch.sharing(tmp_path):
        first = _use(tmp_path)
        assert _use(tmp_path) == first
        assert upstream.stops == []
    assert upstream.stops == [first]
    assert _use(tmp_path) != first
    assert len(upstream.starts) == 2


def test_a_failed_start_is_not_retried_by_each_waiting_caller(tmp_path: Path, upstream: Any) -> None:
    upstream.fail = True
    errors = []
    barrier = threading.Barrier(3)

    def use() -> None:
        with launch.sharing(tmp_path):
            barrier.wait()
            try:
                _use(tmp_path)
            except ServerLoadError as exc:
                errors.append(exc.message)
            barrier.wait()  # every scope still open: the callers are waiting on the same start

    with ThreadPoolExecutor(3) as pool:
        list(pool.map(lambda _: use(), range(3)))
    assert upstream.starts == ["failed"]
    assert errors == ["did not answer within 180 s"] * 3


def test_without_a_scope_each_caller_starts_its_own(tmp_path: Path, upstream: Any) -> None:
    for _ in range(2):
        with launch.start_server(tmp_path) as server:
            assert server.url
    assert len(upstream.starts) == 2 and upstream.stops == upstream.starts


def test_a_gymkit_server_is_not_shared(tmp_path: Path) -> None:
    server = tmp_path / "resources_servers" / "quiz"
    server.mkdir(parents=True)
    (server / "app.py").write_text("from gymkit import BaseResourcesServer\n")
    with launch.sharing(server):
        assert isinstance(launch.start_server(server), ServerProcess)
