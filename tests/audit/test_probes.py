"""Each probe against a verifier it must catch, and a sound verifier it must leave alone.

Every test starts the server in a child process under uvicorn and audits it over HTTP.
"""

from __future__ import annotations

import pytest

from gymkit.audit import PROBES

from .conftest import Audit, caught

# (server, kind of rows, probe that must catch it)
CAUGHT = [
    ("penalize_wrong", "text", "empty"),
    ("penalize_wrong", "text", "whitespace"),
    ("tool_called", "tool", "tool_call_only"),
    ("all_text", "text", "reasoning_only"),
    ("substring", "text", "echo_prompt"),
    ("tool_substring", "tool", "tool_output_paste"),
    ("keys_quoted", "tool", "tool_schema_paste"),
    ("any_line", "text", "hedge"),
    ("format_only", "text", "swap"),
    ("length", "text", "overlong"),
    ("keyword_judge", "text", "claims"),
    ("reads_reward", "text", "grader_injection"),
    ("flaky", "text", "determinism"),
    ("unbounded", "text", "reward_range"),
    ("raises_long", "text", "reward_range"),
    ("crashes", "text", "malformed"),
]
# Flaws of kinds no probe is named after; the audit must still catch each.
UNLISTED = [
    ("substring", "text", "hedge"),  # the expected number inside any longer text
    ("length", "text", "overlong"),  # reward for length
    ("json_any_value", "json", "hedge"),  # the answer accepted under extra JSON keys
    ("vacuous_json", "json", "grader_injection"),  # all() over the keys present: true for none
    ("all_text", "text", "hedge"),  # the answer searched in every item's serialised text
]


def test_every_probe_has_a_catching_test() -> None:
    assert {probe for _, _, probe in CAUGHT} | {"fixture"} == set(PROBES)


@pytest.mark.parametrize(("server", "kind", "probe"), CAUGHT + UNLISTED)
def test_probe_catches_a_hackable_verifier(audit: Audit, server: str, kind: str, probe: str) -> None:
    result = audit(server, kind, probe)
    assert probe in caught(result)
    hit = next(f for f in result.findings if f.probe == probe and f.status == "fail")
    assert hit.code == PROBES[probe].code
    assert f"gymkit audit {server} --probe {probe}" in (hit.reproduce or "")


@pytest.mark.parametrize("kind", ["text", "tool", "json"])
def test_a_sound_verifier_passes_every_probe(audit: Audit, kind: str) -> None:
    result = audit("sound", kind)
    assert caught(result) == set()
    assert {f.probe for f in result.findings if f.status == "pass"} >= {"empty", "hedge", "swap", "determinism"}


def test_a_fixture_whose_gold_the_verifier_refuses_is_a_finding(audit: Audit) -> None:
    # format_only pays any "Answer: N", so the fixture's zero_reward case ("Answer: 1") gets 1.
    assert "fixture" in caught(audit("format_only", "text", "fixture"))
