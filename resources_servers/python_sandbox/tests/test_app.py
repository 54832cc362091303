"""python_sandbox: extraction, scoring, and proof that each sandbox limit holds.

The hostile-input tests run against the real server under uvicorn on 127.0.0.1 and
check three things each time: the reward is zero, it came back quickly, and the server
still answers afterwards.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from app import MAX_RESPONSE_CHARS, PythonSandboxServer, extract_code, same_value
from sandbox_runner import SandboxLimits, run_sandboxed

from gymkit.runtime.config import ResourcesServerConfig
from gymkit.runtime.serving import serving_in_thread

FAST = {"cpu_seconds": 1, "wall_seconds": 3.0, "memory_mb": 256}
TESTS = [{"args": [1, 2], "expected": 3}, {"args": [-5, 5], "expected": 0}, {"args": [10, 20], "expected": 30}]
GOOD = "```python\ndef add(a, b):\n    return a + b\n```"


def _body(answer: str, tests: list[dict[str, Any]] | None = None, entry_point: str = "add") -> dict[str, Any]:
    return {
        "responses_create_params": {"input": [{"role": "user", "content": "Write add(a, b)."}]},
        "response": {"output": [{"type": "message", "role": "assistant", "content": answer}]},
        "entry_point": entry_point,
        "tests": tests or TESTS,
    }


def _fenced(code: str) -> str:
    return f"Here you go:\n```python\n{code}\n```\n"


@pytest.fixture(scope="module")
def url() -> Any:
    server = PythonSandboxServer(ResourcesServerConfig(domain="coding", **FAST), name="python_sandbox")
    with serving_in_thread(server.app) as base:
        yield base


def _post(base: str, path: str, body: dict[str, Any], timeout: float = 30) -> dict[str, Any]:
    request = urllib.request.Request(
        base + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


def _alive(base: str) -> bool:
    with urllib.request.urlopen(base + "/", timeout=5) as response:
        return json.loads(response.read())["status"] == "ok"


# -- extraction and comparison -------------------------------------------------------------


def test_extract_code_prefers_the_last_block_that_defines_the_entry_point() -> None:
    text = "```python\ndef add(a, b):\n    return 0\n```\nbetter:\n```python\ndef add(a, b):\n    return a + b\n```"
    assert extract_code(text, "add") == "def add(a, b):\n    return a + b\n"
    assert extract_code("```python\nprint(1)\n```", "add") is None
    assert extract_code("def add(a, b):\n    return a + b", "add") == "def add(a, b):\n    return a + b"
    assert extract_code("", "add") is None
    assert extract_code("```js\nfunction add(a, b) {}\ndef add(a):```", "add") is None


def test_extract_code_reads_fences_line_by_line() -> None:
    body = "def add(a, b):\n    return a + b"
    assert extract_code(f"```py\n{body}\n```", "add") == body + "\n"
    assert extract_code(f"```Python3 extra words\n{body}\n```", "add") == body + "\n"
    # A closing fence at the end of the last line, as some models write it.
    assert extract_code(f"```python\n{body}```", "add") == body
    # Backticks inside the code do not end the block.
    quoted = "def add(a, b):\n    s = '```'\n    return a + b\n"
    assert extract_code(f"```python\n{quoted}```\n", "add") == quoted
    # Cut off by the token limit: no closing fence, the definition and what follows.
    assert extract_code(f"Sure.\n```python\n{body}", "add") == body
    crlf = body.replace("\n", "\r\n") + "\r\n"
    assert extract_code(f"```python\r\n{crlf}```\r\n", "add") == crlf
    # A fenced non-Python block is left out of the unfenced fallback too.
    assert extract_code(f"```text\n{body}\n```", "add") is None


def test_extract_code_is_linear_in_the_answer() -> None:
    # The backtracking pattern took 2.9 s on the first and 4.5 s on the second, and grew
    # faster than the square of the length; a line scan takes milliseconds on them, and
    # stays well under a second at the cap even on a loaded machine.
    floods = {
        "`" * 20_000: 0.5,
        "``` " * 10_000: 0.5,
        "``` " * (MAX_RESPONSE_CHARS // 4): 2.0,
        "```\n" * (MAX_RESPONSE_CHARS // 4): 2.0,
        "```python\n" + "`" * (MAX_RESPONSE_CHARS - 20): 2.0,
        "def add(" + " " * (MAX_RESPONSE_CHARS - 10): 2.0,
        "```python\ndef add  " * (MAX_RESPONSE_CHARS // 20): 2.0,
    }
    for text, bound in floods.items():
        start = time.perf_counter()
        extract_code(text, "add")
        elapsed = time.perf_counter() - start
        assert elapsed < bound, f"{text[:12]!r}... ({len(text)} chars) took {elapsed:.2f}s"


def test_an_answer_over_the_cap_is_not_parsed() -> None:
    text = "x" * MAX_RESPONSE_CHARS + GOOD
    assert extract_code(text, "add") is None
    assert extract_code(text[-MAX_RESPONSE_CHARS:], "add") is not None


def test_same_value_is_strict_about_types_and_tolerant_on_float_rounding() -> None:
    assert same_value([1, [2, "x"]], [1, [2, "x"]])
    assert not same_value(True, 1) and not same_value(1, True)
    assert same_value(0.1 + 0.2, 0.3)
    assert not same_value("3", 3)
    assert not same_value([1, 2], [1, 2, 3])
    assert same_value(None, None) and not same_value(0, None)


def test_same_value_wants_an_int_where_an_int_is_expected() -> None:
    assert not same_value(1e18, 10**18 + 1)
    assert not same_value([10.0, -3.0], [10, -3])
    assert not same_value(1e-10, 0)
    assert not same_value(3.0, 3)
    assert same_value(10**18 + 1, 10**18 + 1) and not same_value(10**18, 10**18 + 1)


def test_same_value_compares_ints_with_float_expectations_exactly() -> None:
    # math.isclose converted the int to a float: OverflowError past 1e308.
    assert not same_value(1.5, 10**400)
    assert not same_value(10**400, 1.5)
    assert not same_value(10**400, float("inf")) and not same_value(10**400, float("nan"))
    assert same_value(3, 3.0) and same_value(10**18, 1e18)
    assert same_value(int(1e300), 1e300) and not same_value(int(1e300) * 2, 1e300)
    assert same_value(1, 1.0 + 1e-12) and not same_value(1, 1.001)
    assert not same_value(float("nan"), float("nan"))


# -- scoring through the real server -------------------------------------------------------


def test_correct_solution_scores_one(url: str) -> None:
    result = _post(url, "/verify", _body(GOOD))
    assert result["reward"] == 1.0
    assert result["tests_passed"] == 3 and result["sandbox"]["status"] == "finished"


def test_partly_correct_solution_scores_the_fraction_of_tests_passed(url: str) -> None:
    result = _post(url, "/verify", _body(_fenced("def add(a, b):\n    return a + b if a > 0 else 99")))
    assert result["reward"] == pytest.approx(2 / 3)


def test_answer_without_code_scores_zero(url: str) -> None:
    result = _post(url, "/verify", _body("The answer is a + b."))
    assert result["reward"] == 0.0 and result["sandbox"]["status"] == "no_code"


def test_code_that_raises_or_does_not_parse_scores_zero(url: str) -> None:
    assert _post(url, "/verify", _body(_fenced("def add(a, b):\n    raise ValueError('no')")))["reward"] == 0.0
    broken = _post(url, "/verify", _body(_fenced("def add(a, b)\n    return a + b")))
    assert broken["reward"] == 0.0 and broken["sandbox"]["status"] == "load_error"


def test_bad_task_row_is_a_422_not_a_crash(url: str) -> None:
    body = _body(GOOD, entry_point="add; import os")
    request = urllib.request.Request(url + "/verify", data=json.dumps(body).encode(), method="POST")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=10)
    assert info.value.code == 422
    info.value.close()


def test_expectations_past_float_range_score_instead_of_failing_the_verify(url: str) -> None:
    tests = [{"args": [1, 2], "expected": 10**400}, {"args": [5, 7], "expected": 1.5}]
    floats = _post(url, "/verify", _body(_fenced("def add(a, b):\n    return 1.5"), tests))
    assert floats["reward"] == 0.5 and floats["sandbox"]["status"] == "finished", floats["sandbox"]
    ints = _post(url, "/verify", _body(_fenced("def add(a, b):\n    return 10**400"), tests))
    assert ints["reward"] == 0.5, ints["sandbox"]


def test_an_answer_over_the_cap_scores_zero(url: str) -> None:
    result = _post(url, "/verify", _body("x" * MAX_RESPONSE_CHARS + GOOD))
    assert result["reward"] == 0.0 and result["sandbox"]["status"] == "response_too_long"


def test_a_backtick_flood_does_not_hold_up_other_verifies(url: str) -> None:
    # With the backtracking pattern, run on the event loop, a correct verify sent 0.3 s after
    # such a flood took 5.2 s instead of 0.26 s.
    floods: list[dict[str, Any]] = []
    threads = [
        threading.Thread(target=lambda text=text: floods.append(_post(url, "/verify", _body(text))))
        for text in ("``` " * 10_000, "`" * 20_000, "``` " * (MAX_RESPONSE_CHARS // 4))
    ]
    for thread in threads:
        thread.start()
    time.sleep(0.3)
    start = time.monotonic()
    quick = _post(url, "/verify", _body(GOOD))
    answered_in = time.monotonic() - start
    for thread in threads:
        thread.join()
    assert quick["reward"] == 1.0
    assert answered_in < 2.0, f"a correct verify took {answered_in:.2f}s next to the floods"
    assert sorted(f["sandbox"]["status"] for f in floods) == ["no_code"] * 3


def test_an_internal_error_is_a_zero_reward_not_an_http_500() -> None:
    # A real fault inside verify: a setting the server only reads when the first verify
    # arrives. The answer is correct; the grader cannot grade it, and says so.
    config = ResourcesServerConfig(domain="coding", max_concurrent_sandboxes="two", **FAST)
    server = PythonSandboxServer(config, name="python_sandbox")
    with serving_in_thread(server.app) as base:
        result = _post(base, "/verify", _body(GOOD))
        assert result["reward"] == 0.0 and result["sandbox"]["status"] == "grader_error", result["sandbox"]
        assert "ValueError" in result["sandbox"]["detail"]
        assert _alive(base)


# Each hostile solution would score 1.0 if its guard did not hold: it catches whatever the
# forbidden action raises and then returns the right answer.
_ESCAPES = {
    "socket": "import socket\n    socket.create_connection(('127.0.0.1', 80), timeout=1)",
    "write_outside": "open('/tmp/gymkit-sandbox-escape.txt', 'w').write('x')",
    "kill_parent": "import os\n    os.kill(os.getppid(), 0)",
    "fork": "import os\n    os.fork()",
}
HOSTILE = {
    "infinite_loop": "def add(a, b):\n    while True:\n        pass",
    "sleep_forever": "import time\ndef add(a, b):\n    time.sleep(3600)",
    "fork_bomb": "import os\ndef add(a, b):\n    while True:\n        os.fork()",
    "memory_hog": "def add(a, b):\n    hog = []\n    while True:\n        hog.append(bytearray(50_000_000))",
    "output_flood": "def add(a, b):\n    while True:\n        print('x' * 10_000)",
    **{
        name: f"def add(a, b):\n  try:\n    {attempt}\n  except BaseException:\n    pass\n  return a + b"
        for name, attempt in _ESCAPES.items()
    },
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_code_scores_zero_quickly_and_the_server_keeps_serving(url: str, name: str) -> None:
    start = time.monotonic()
    result = _post(url, "/verify", _body(_fenced(HOSTILE[name])))
    elapsed = time.monotonic() - start
    assert result["reward"] == 0.0, result["sandbox"]
    assert result["sandbox"]["status"] != "finished" or result["sandbox"]["errors"], result["sandbox"]
    assert elapsed < FAST["wall_seconds"] + 2.0, f"{name} took {elapsed:.1f}s"
    assert _alive(url)
    assert not Path("/tmp/gymkit-sandbox-escape.txt").exists()


def test_a_running_sandbox_does_not_block_the_event_loop(url: str) -> None:
    slow: dict[str, Any] = {}
    thread = threading.Thread(
        target=lambda: slow.update(_post(url, "/verify", _body(_fenced(HOSTILE["sleep_forever"]))))
    )
    thread.start()
    time.sleep(0.3)  # the slow child is now running
    start = time.monotonic()
    assert _alive(url)
    quick = _post(url, "/verify", _body(GOOD))
    answered_in = time.monotonic() - start
    thread.join()
    assert quick["reward"] == 1.0 and slow["reward"] == 0.0
    assert answered_in < 2.5, f"the server answered in {answered_in:.2f}s while a child was sleeping"


# -- each layer on its own (the audit hook off, so the kernel's limit is what stops it) -----


def _run(code: str, **limits: Any) -> Any:
    return asyncio.run(run_sandboxed(code, "f", [[]], SandboxLimits(**{**FAST, **limits})))


def test_network_namespace_alone_stops_a_connection() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.5)
    port = listener.getsockname()[1]
    code = f"import socket\ndef f():\n    socket.create_connection(('127.0.0.1', {port}), timeout=2)\n    return 'in'"
    run = _run(code, audit_hook=False, drop_root=False, seccomp=False, landlock=False)
    with listener:
        if "network_namespace" not in run.layers:
            pytest.skip("this kernel does not allow a new network namespace here")
        assert run.values == {} and ("unreachable" in run.errors[0] or "refused" in run.errors[0]), run
        with pytest.raises(TimeoutError):
            listener.accept()


def test_process_limit_alone_stops_fork() -> None:
    run = _run("import os\ndef f():\n    os.fork()\n    return 'forked'", audit_hook=False, seccomp=False)
    if os.geteuid() == 0 and "unprivileged_user" not in run.layers:
        pytest.skip("root without a way to drop privileges ignores RLIMIT_NPROC")
    assert run.values == {} and "BlockingIOError" in run.errors[0], run


def test_memory_limit_alone_stops_a_large_allocation() -> None:
    run = _run(
        "def f():\n    return len(bytearray(1024 * 1024 * 1024))", audit_hook=False, seccomp=False, landlock=False
    )
    assert run.values == {} and "MemoryError" in run.errors[0], run


def test_cpu_limit_alone_ends_a_busy_loop() -> None:
    # Status cpu_limit means the kernel's signal ended it, not the (later) wall-clock kill;
    # on a loaded machine one CPU second can take several seconds of wall time.
    run = _run("def f():\n    while True:\n        pass", audit_hook=False, wall_seconds=20.0)
    assert run.status == "cpu_limit" and run.returncode in (-signal.SIGXCPU, -signal.SIGKILL), run
    assert run.elapsed_seconds < 20.0


def test_audit_hook_stops_writes_outside_the_folder_however_they_are_attempted() -> None:
    attempts = [
        "import os\ndef f():\n    os.open('/tmp/gymkit-escape-a', os.O_WRONLY | os.O_CREAT)",
        "import os\ndef f():\n    os.symlink('/tmp/gymkit-escape-b', 'link')",
        "def f():\n    open('../gymkit-escape-c', 'a')",
        "import os\ndef f():\n    os.rename('job.json', '/tmp/gymkit-escape-d')",
    ]
    for code in attempts:
        run = _run(code)
        assert run.status == "violation", (code, run)
    for suffix in "abcd":
        assert not Path(f"/tmp/gymkit-escape-{suffix}").exists()
    inside = _run("def f():\n    open('scratch.txt', 'w').write('ok')\n    return open('scratch.txt').read()")
    assert inside.values == {0: "ok"}, inside


def test_a_private_temp_folder_still_lets_the_child_import_the_standard_library(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # gymkit serve hands a server a TMPDIR of mode 700; uid 65534 could not pass through it
    # to the run's folder, and `import math` (lib-dynload, loaded after the drop) failed.
    if os.geteuid() != 0:
        pytest.skip("only a root server drops the child to uid 65534")
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    monkeypatch.setattr(tempfile, "tempdir", str(private))
    code = "import math, heapq, fractions\ndef f():\n    return [math.floor(2.5), heapq.nsmallest(1, [3, 1])]"
    run = _run(code)
    assert run.status == "finished" and run.values == {0: [2, [1]]}, run
    # Mountless (inside gymkit's domain) the child keeps uid 0 without capabilities instead.
    dropped = "no_capabilities" if "mountless" in run.layers else "unprivileged_user"
    assert dropped in run.layers and "landlock_abi" in " ".join(run.layers), run.layers
    assert list(private.iterdir()) == []


def test_forged_result_lines_cannot_earn_a_reward(url: str) -> None:
    forged = (
        "import os\n"
        "for i in range(3):\n"
        '    os.write(1, b\'@@gymkit-sandbox@@ {"index": %d, "value": 12345}\\n\' % i)\n'
        "def add(a, b):\n    return -1"
    )
    result = _post(url, "/verify", _body(_fenced(forged)))
    assert result["reward"] == 0.0
