"""A verifier that reads the session its tools changed: the audit replays each case's tool calls first.

Sent alone, such a verifier's gold answers earn nothing (NeMo Gym's example_session_state_mgmt
failed the audit's fixture cases so while its re-verification passed). The audit notices that a
gold case earns its reward only with its calls replayed, and then sends every case that way.
"""

from __future__ import annotations

import pytest

from .conftest import Audit, caught

pytestmark = pytest.mark.slow

REPLAYED = "each case's tool calls ran first"


def test_a_sound_verifier_of_session_state_passes_with_its_tool_calls_replayed(audit: Audit) -> None:
    result = audit("stateful", "tool")
    assert caught(result) == set()
    fixture = next(f for f in result.findings if f.probe == "fixture")
    assert fixture.status == "pass" and REPLAYED in fixture.message
    # The probes were judged too, not only the gold cases: calls without the answer earn nothing.
    assert next(f for f in result.findings if f.probe == "tool_call_only").status == "pass"


def test_a_verifier_that_reads_only_the_request_is_not_replayed(audit: Audit) -> None:
    result = audit("sound", "tool")
    assert caught(result) == set()
    assert not any(REPLAYED in f.message for f in result.findings)


def test_rows_without_tool_calls_are_not_replayed_and_the_fixture_still_fails(audit: Audit) -> None:
    # Text rows' gold has no tool call to replay: the stateful verifier pays nothing, which is a finding.
    result = audit("stateful", "text")
    assert "fixture" in caught(result)
    assert not any(REPLAYED in f.message for f in result.findings)
