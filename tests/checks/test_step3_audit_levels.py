"""GYM304's level per audit finding: in a NeMo Gym checkout the audit is gymkit's own rule and warns,
saying so, except where upstream fails too; in a gymkit gym every finding fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from gymkit.audit.report import AuditFinding
from gymkit.audit.runner import AuditResult
from gymkit.checks.fixtures import Fixtures
from gymkit.checks.registry import Skip
from gymkit.checks.step3_audit import GYM304
from gymkit.findings.model import Finding
from gymkit.project import ServerPaths

FINDINGS = [
    AuditFinding("GYM3A01", 3, "fail", "earned reward 1; expected 0", probe="empty", reward=1.0),
    AuditFinding("GYM3A08", 3, "fail", "earned 1, one wrong value alone earns 0", probe="hedge", reward=1.0),
    AuditFinding("GYM3A13", 3, "fail", "got different answers to one request", probe="determinism"),
    AuditFinding("GYM3A15", 3, "fail", "not JSON got HTTP 500", probe="malformed"),
    AuditFinding("GYM3A14", 3, "fail", "got reward 2.0, not in [0, 1]", probe="reward_range", reward=2.0),
    AuditFinding("GYM3A14", 3, "fail", "got HTTP 500", probe="reward_range"),
    AuditFinding("GYM3A14", 3, "fail", "got reward nan", probe="reward_range", reward=float("nan")),
    AuditFinding("GYM3A16", 3, "fail", "reward 0, the fixture expects 1", probe="fixture", reward=0.0),
    AuditFinding("GYM3A02", 3, "pass", "a whitespace-only answer earns no reward", probe="whitespace"),
]


def _server(root: Path, *, nemo: bool) -> Path:
    server = root / "resources_servers" / "quiz"
    server.mkdir(parents=True)
    if nemo:
        (root / "nemo_gym").mkdir()
        (root / "nemo_gym" / "__init__.py").touch()
        (root / "pyproject.toml").write_text('[project]\nname = "nemo-gym"\n')
    runtime = "nemo_gym.base_resources_server" if nemo else "gymkit"
    (server / "app.py").write_text(f"import {runtime}\n")
    return server


def _gym304(server: Path) -> list[Finding]:
    fx = Fixtures(ServerPaths(server))
    fx.__dict__["audit"] = AuditResult(findings=list(FINDINGS))  # what the cached audit holds
    outcome = GYM304().check(fx)
    assert not isinstance(outcome, Skip), outcome
    return list(outcome)


def test_in_a_nemo_gym_checkout_what_only_gymkit_asks_warns_and_says_whose_rule_it_is(tmp_path: Path) -> None:
    found = _gym304(_server(tmp_path, nemo=True))
    assert [str(f.status) for f in found] == ["warn", "warn", "warn", "warn", "warn", "fail", "fail", "fail"]
    own = "a rule of gymkit's own: NeMo Gym has no such check"
    assert all(own in f.message for f in found[:4])
    assert "NeMo Gym allows any finite reward" in found[4].message
    # Upstream fails these too: verify without a usable reward breaks collection; a stored reward not reproduced.
    assert not any("NeMo Gym" in f.message for f in found[5:])


def test_in_a_gymkit_gym_every_audit_finding_fails(tmp_path: Path) -> None:
    found = _gym304(_server(tmp_path, nemo=False))
    assert [str(f.status) for f in found] == ["fail"] * 8
    assert not any("NeMo Gym" in f.message for f in found)


@pytest.mark.parametrize("nemo", [True, False])
def test_the_reproduce_command_is_said_once(tmp_path: Path, nemo: bool) -> None:
    fx = Fixtures(ServerPaths(_server(tmp_path, nemo=nemo)))
    command = "gymkit audit quiz --probe empty --row 0"
    fx.__dict__["audit"] = AuditResult(
        findings=[AuditFinding("GYM3A01", 3, "fail", f"earned 1; reproduce: {command}", probe="empty", reward=1.0)]
    )
    outcome = GYM304().check(fx)
    assert not isinstance(outcome, Skip)
    assert [f.message.count(command) for f in outcome] == [1]


def test_in_a_nemo_gym_checkout_one_warning_per_probe_says_how_many_more(tmp_path: Path) -> None:
    fx = Fixtures(ServerPaths(_server(tmp_path, nemo=True)))
    rows = [AuditFinding("GYM3A01", 3, "fail", f"row {n}: earned 1", probe="empty", reward=1.0) for n in range(5)]
    fx.__dict__["audit"] = AuditResult(findings=[*rows, FINDINGS[5]])
    outcome = GYM304().check(fx)
    assert not isinstance(outcome, Skip)
    warning, failure = outcome
    assert (str(warning.status), str(failure.status)) == ("warn", "fail")
    assert warning.message.startswith("GYM3A01 empty: row 0: earned 1; 4 more like it")
    assert "`gymkit audit quiz --probe empty` lists them" in warning.message
