"""Why collecting a server's tests failed, in pytest's words, and a test that writes into its own folder.

v0.5.0's ether0, newton_bench and spider2_lite raise in their conftest's pytest_configure (a git
clone, a folder made beside the tests); pytest prints that as INTERNALERROR lines, and GYM302 said
only "pytest exited with 3". (arc_agi's environment, which has no pytest at all: tests/nemo/test_pytest_beside.py.)
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gymkit.checks.runner import run_checks
from gymkit.checks.step3_testing import _collection_failure, _lacks_pytest
from gymkit.findings import Status
from tests.checks.conftest import build_server
from tests.checks.test_could_not_run_here import _as_nemo_checkout

INTERNAL = """\
INTERNALERROR>   File "/g/resources_servers/ether0/setup_ether0.py", line 29, in ensure_ether0
INTERNALERROR>     subprocess.run(
INTERNALERROR>     raise CalledProcessError(retcode, process.args,
INTERNALERROR> subprocess.CalledProcessError: Command '['git', 'clone', 'https://github.com/x/y']' returned non-zero
"""


@pytest.mark.parametrize(
    ("output", "shown"),
    [
        (INTERNAL, "subprocess.CalledProcessError: Command '['git', 'clone', 'https://github.com/x/y']' returned"),
        ("ERROR collecting tests/test_app.py\nE   ModuleNotFoundError: No module named 'numpy'\n", "ModuleNotFound"),
        ("E   RuntimeError: the cache at\nE   /data is stale\n", "RuntimeError: the cache at"),
        ("something odd\n\n", "pytest exited with 4: something odd"),
    ],
)
def test_the_reason_is_pytests_words_for_the_exception(output: str, shown: str) -> None:
    assert _collection_failure(output, 4 if "odd" in output else 3).startswith(shown)


@pytest.mark.parametrize(
    ("output", "lacks"),
    [
        ("/env/bin/python: No module named pytest\n", True),
        ("E   ModuleNotFoundError: No module named 'pytest_mock'\n", False),  # a test's own plugin
        ("E   ModuleNotFoundError: No module named 'pytest'\n", False),  # an import inside the tests
        ("No module named pytest_httpx\n", False),
    ],
)
def test_only_pythons_own_words_for_no_pytest_count_as_an_environment_without_it(output: str, lacks: bool) -> None:
    assert _lacks_pytest(output) is lacks


CONFTEST = """
from pathlib import Path


def pytest_configure(config):
    # As spider2_lite's does: a cache made beside the tests, before any test runs.
    WRITE
"""
ABSOLUTE = '(Path(__file__).parent.parent / ".cache_here").mkdir(exist_ok=True)'
RELATIVE = 'open(".cache_here", "w").close()  # pytest runs in the server folder'


@pytest.mark.parametrize("write", [ABSOLUTE, RELATIVE], ids=["absolute", "relative"])
@pytest.mark.parametrize("nemo", [True, False], ids=["nemo-gym checkout", "gymkit gym"])
def test_tests_that_write_into_the_servers_folder_are_told_it_is_read_only(
    tmp_path: Path, nemo: bool, write: str
) -> None:
    server = build_server(tmp_path)
    (server / "tests" / "conftest.py").write_text(CONFTEST.replace("WRITE", write))
    if nemo:
        _as_nemo_checkout(tmp_path)
    [found] = [f for f in run_checks(server, select=["GYM302"]).findings if f.code == "GYM302"]
    assert found.status == (Status.WARN if nemo else Status.FAIL), found
    assert found.message.startswith("collecting the tests writes .cache_here into the server's folder, which")
    assert not (server / ".cache_here").exists()
