"""A pytest plugin that writes the run's counts to $GYMKIT_TEST_COUNTS: ``-p gymkit.testing.counts``.

The test session loads it into the server's pytest to record passed, failed, errors and
skipped in the result stamp, without adding output or files to the run the contributor sees.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

_COUNTS = {"passed": 0, "failed": 0, "errors": 0, "skipped": 0}


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if report.failed:
        _COUNTS["errors"] += 1  # a test file that does not import


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped:
        _COUNTS["skipped"] += 1  # xfail included: it did not pass
    elif report.failed:
        _COUNTS["failed" if report.when == "call" else "errors"] += 1
    elif report.when == "call":
        _COUNTS["passed"] += 1


def pytest_sessionfinish(session: Any, exitstatus: int) -> None:
    path = os.environ.get("GYMKIT_TEST_COUNTS")
    if path:
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(_COUNTS, handle)
