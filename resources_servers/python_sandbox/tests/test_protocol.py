"""The grader's protocol against submissions that attack it rather than the sandbox.

A submission shares its process with the harness, so it can write anything the harness
can: to stdout, to the results file (whose descriptor it finds by walking frames), with
truncate and seek, dup2 or close. Each test runs a real sandboxed child and checks that
the run is parsed without raising, that a malformed results stream is a ``crashed`` run
(reward 0), and that ``layers`` are always the ones the harness reported before the
submission ran.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sandbox_runner import SandboxLimits, SandboxRun, run_sandboxed

FAST = {"cpu_seconds": 1, "wall_seconds": 4.0, "memory_mb": 256}
ADD = [[1, 2], [5, 7]]
# Finds the harness's results descriptor the way a hostile submission would.
FIND = (
    "import os, sys\n"
    "def _results_fd():\n"
    "    frame = sys._getframe()\n"
    "    while frame is not None:\n"
    "        if 'results_fd' in frame.f_locals:\n"
    "            return frame.f_locals['results_fd']\n"
    "        frame = frame.f_back\n"
    "    raise LookupError('no results_fd')\n"
)
ADD_DEF = "def add(a, b):\n    return a + b\n"


def _run(code: str, tests: list[list[Any]] | None = None) -> SandboxRun:
    return asyncio.run(run_sandboxed(code, "add", tests or ADD, SandboxLimits(**FAST)))


@pytest.fixture(scope="module")
def layers() -> list[str]:
    run = _run(ADD_DEF)
    assert run.status == "finished" and run.values == {0: 3, 1: 12}, run
    assert "seccomp" in run.layers and "audit_hook" in run.layers, run.layers
    return run.layers


def test_forged_layers_on_stdout_are_ignored(layers: list[str]) -> None:
    # Before the report pipe, these three lines made verify raise TypeError (HTTP 500),
    # and a list of strings replaced the reported layers.
    for forged in (b'{"layers": 5}', b'{"layers": null}', b'{"layers": ["forged"]}'):
        code = (
            "import os\nos.ftruncate(1, 0)\nos.lseek(1, 0, 0)\n"
            f"os.write(1, b'@@gymkit-sandbox@@ ' + {forged!r} + b'\\n')\n" + ADD_DEF
        )
        run = _run(code)
        assert run.status == "finished" and run.layers == layers, (forged, run)


def test_forged_layers_on_the_results_file_crash_the_run_and_keep_the_real_layers(layers: list[str]) -> None:
    code = (
        FIND + "fd = _results_fd()\nos.ftruncate(fd, 0)\nos.lseek(fd, 0, 0)\n"
        'os.write(fd, b\'{"layers": ["forged"]}\\n\')\n' + ADD_DEF
    )
    run = _run(code)
    assert run.status == "crashed" and "malformed" in run.detail, run
    assert run.layers == layers and run.values == {}


def test_deep_json_is_a_crashed_run_not_an_exception(layers: list[str]) -> None:
    deep = "b'{\"index\": 0, \"value\": ' + b'[' * 200000 + b']' * 200000 + b'}\\n'"
    on_stdout = _run(f"import os\nos.write(1, b'@@gymkit-sandbox@@ ' + {deep})\n" + ADD_DEF)
    assert on_stdout.status == "finished" and on_stdout.values == {0: 3, 1: 12}, on_stdout
    on_results = _run(FIND + f"os.write(_results_fd(), {deep})\n" + ADD_DEF)
    assert on_results.status == "crashed" and "not JSON (RecursionError)" in on_results.detail, on_results
    assert on_results.layers == layers


def test_a_result_reported_twice_or_cut_or_after_done_is_malformed() -> None:
    twice = _run(FIND + 'os.write(_results_fd(), b\'{"index": 0, "value": 3}\\n\')\n' + ADD_DEF)
    assert twice.status == "crashed" and "again" in twice.detail, twice
    cut = _run(FIND + 'os.write(_results_fd(), b\'{"index": 0, "val\')\n' + ADD_DEF)
    assert cut.status == "crashed" and "not JSON" in cut.detail, cut
    for payload in (
        b'{"index": 7, "value": 3}\n',
        b'{"index": true, "value": 3}\n',
        b'{"index": 0, "error": 5}\n',
        b"[]\n",
    ):
        run = _run(FIND + f"os.write(_results_fd(), {payload!r})\n" + ADD_DEF)
        assert run.status == "crashed", (payload, run)
    after = _run(
        FIND + "def add(a, b):\n    if a == 5:\n"
        '        os.write(_results_fd(), b\'{"index": 1, "value": 12}\\n{"done": true}\\n\')\n'
        '        os.write(_results_fd(), b\'{"index": 0, "value": 3}\\n\')\n'
        "        os._exit(0)\n    return a + b\n"
    )
    assert after.status == "crashed" and "after done" in after.detail, after


def test_many_fake_lines_crash_the_run_quickly() -> None:
    code = FIND + 'fd = _results_fd()\nfor i in range(20000):\n    os.write(fd, b\'{"index": 0, "value": 3}\\n\')\n'
    run = _run(code + ADD_DEF)
    assert run.status == "crashed" and run.values == {}, run
    on_stdout = _run(
        "import os\nfor i in range(20000):\n    os.write(1, b'@@gymkit-sandbox@@ {\"done\": true}\\n')\n" + ADD_DEF
    )
    assert on_stdout.status == "finished" and on_stdout.values == {0: 3, 1: 12}, on_stdout


def test_exit_statuses_of_the_harness_are_no_report() -> None:
    # 96 was the harness's "mechanism unavailable": from the submission it made verify raise (HTTP 500).
    fake = _run(
        "import os\nos.write(2, b'@@gymkit-sandbox@@ unavailable python_sandbox: no seccomp\\n')\nos._exit(96)\n"
        + ADD_DEF
    )
    assert fake.status == "crashed" and fake.returncode == 96, fake
    assert _run("import os\nos._exit(97)\n" + ADD_DEF).status == "violation"


def test_closing_or_redirecting_the_descriptors_only_costs_the_submission(layers: list[str]) -> None:
    closed_std = _run("import os\nos.close(1)\nos.close(2)\nprint('lost')\n" + ADD_DEF)
    assert closed_std.status in ("finished", "load_error"), closed_std
    quiet = _run("import os\nos.close(1)\nos.close(2)\n" + ADD_DEF)
    assert quiet.status == "finished" and quiet.values == {0: 3, 1: 12} and quiet.layers == layers, quiet
    redirected = _run(FIND + "os.dup2(1, _results_fd())\n" + ADD_DEF)
    assert redirected.status == "crashed" and redirected.values == {}, redirected
    closed = _run(FIND + "os.close(_results_fd())\n" + ADD_DEF)
    assert closed.status == "file_limit" and closed.values == {}, closed


def test_atexit_code_cannot_add_lines_after_done() -> None:
    run = _run(
        FIND + 'import atexit\natexit.register(os.write, _results_fd(), b\'{"index": 0, "value": 9}\\n\')\n' + ADD_DEF
    )
    assert run.status == "finished" and run.values == {0: 3, 1: 12}, run


def test_values_that_are_not_json_are_errors_and_huge_values_hit_the_file_limit() -> None:
    code = (
        "class Odd(Exception):\n    def __str__(self):\n        raise RuntimeError('no')\n"
        "def deep():\n    x = []\n    for _ in range(100000):\n        x = [x]\n    return x\n"
        "def cycle():\n    x = []\n    x.append(x)\n    return x\n"
        "def add(a, b):\n"
        "    values = {0: lambda: {1, 2}, 1: cycle, 2: object, 3: lambda: 10**5000, 4: deep}\n"
        "    if a in values:\n        return values[a]()\n"
        "    raise Odd()\n"
    )
    run = _run(code, [[0, 0], [1, 0], [2, 0], [3, 0], [4, 0], [5, 0]])
    assert run.status == "finished" and run.values == {}, run
    assert all(run.errors[i] == "the value is not JSON" for i in range(5)), run.errors
    assert run.errors[5] == "error (its message could not be shown)", run.errors
    huge = _run("def add(a, b):\n    return 'x' * 3_000_000\n")
    assert huge.status == "file_limit" and huge.values == {}, huge
