"""A verify stuck waiting for a Ray node this machine lacks: read from the server's own Ray logs.

v0.5.0's wmt_translation scores in Ray actors that ask for ``extra_gpu``, which only the GPU node
of NeMo Gym's deployment advertises: here its verify never answered, and GYM304 and GYM404 failed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gymkit.checks.elsewhere import service_warning
from gymkit.checks.fixtures import CheckOptions, Fixtures
from gymkit.findings import Status
from gymkit.nemo.programs import ProgramWatch
from gymkit.nemo.ray_logs import unschedulable
from gymkit.project import ServerPaths
from tests.checks.conftest import build_server
from tests.checks.test_could_not_run_here import _as_nemo_checkout

RAYLET = (
    "[2026-12-03 10:56:46,305 W 10368 10368] (raylet) main.cc:985: The lease with ID 00ab cannot be scheduled"
    " right now. It requires {extra_gpu: 1, CPU: 1} for placement, however the cluster currently cannot provide"
    " the requested resources.\n"
)


def test_the_resources_ray_could_not_place_are_read_from_its_raylet_log(tmp_path: Path) -> None:
    logs = tmp_path / "ray" / "session_2026-12-03_10-56-33_1" / "logs"
    logs.mkdir(parents=True)
    (logs / "raylet.out").write_text("[...] (raylet) started\n" + RAYLET * 3)
    assert unschedulable(tmp_path) == ["{extra_gpu: 1, CPU: 1}"]
    assert unschedulable(tmp_path / "elsewhere") == []


def _fixtures(tmp_path: Path, placed: list[str]) -> Fixtures:
    server = build_server(tmp_path)
    _as_nemo_checkout(tmp_path)
    fx = Fixtures(ServerPaths(server), CheckOptions())
    watch = ProgramWatch()
    watch.unschedulable.extend(placed)
    fx._program_watches.append(watch)  # as a check's shared server leaves it once stopped
    return fx


@pytest.mark.parametrize(
    ("messages", "rewards", "warns"),
    [
        (["verify did not answer within 30s", "not sent: the server stopped answering"], [None, None], True),
        (["line 2: stored reward 1.0, verify now returns 0.0"], [0.0], True),
        (["verify answered HTTP 500: boom"], [None], False),  # an error of its own, not a wait
        (["line 2: stored reward 0.0, verify now returns 1.0"], [1.0], False),  # it paid: its own answer
    ],
)
def test_only_waits_and_zero_rewards_are_explained_by_a_node_ray_lacks(
    tmp_path: Path, messages: list[str], rewards: list[float | None], warns: bool
) -> None:
    found = service_warning(_fixtures(tmp_path, ["{extra_gpu: 1, CPU: 1}"]), "verify", messages, rewards)
    assert (found is not None) is warns
    if found:
        assert found[0].status == Status.WARN
        assert found[0].message.startswith("could not run here: verify asked the server's Ray for {extra_gpu: 1")


def test_without_an_unplaced_request_a_wait_stays_a_failure(tmp_path: Path) -> None:
    assert service_warning(_fixtures(tmp_path, []), "verify", ["verify did not answer within 30s"], [None]) is None


def _fixtures_missing(tmp_path: Path, program: str) -> Fixtures:
    fx = _fixtures(tmp_path, [])
    (fx.paths.dir / "runner.py").write_text(f'CMD = ["{program}", "run"]\n')  # the server's own code names it
    fx._program_watches[0].missing.append(program)
    return fx


@pytest.mark.parametrize(
    ("messages", "rewards", "warns"),
    [
        # v0.4.0's cvdp: verify runs docker, absent here, and answers a 500 of the FileNotFoundError.
        (["verify answered HTTP 500: \"FileNotFoundError(2, 'No such file or directory')\""], [None], True),
        (["verify answered HTTP 500: KeyError: 'answer'"], [None], False),  # another error: its own
        (["line 2: stored reward 0.0, verify now returns 1.0"], [1.0], False),
    ],
)
def test_an_error_for_a_file_not_found_is_explained_by_a_missing_program(
    tmp_path: Path, messages: list[str], rewards: list[float | None], warns: bool
) -> None:
    found = service_warning(_fixtures_missing(tmp_path, "docker"), "verify", messages, rewards)
    assert (found is not None) is warns
    if found:
        assert found[0].message.startswith("could not run here: verify tried to run 'docker', which is not installed")
