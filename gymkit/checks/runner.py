"""Running the registry over one server: requirements, selection, waivers, one finding per problem."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gymkit.checks.fixtures import CheckOptions, Fixtures
from gymkit.checks.registry import Check, Finding, Skip, all_checks

__all__ = ["ServerReport", "is_selected", "run_checks"]


@dataclass
class ServerReport:
    name: str
    path: str
    findings: list[Finding] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(f.status == "fail" for f in self.findings)

    def step_status(self, step: int) -> str:
        """fail > warn > pass > skip over a step's findings ("skip" when it has none)."""
        statuses = {f.status for f in self.findings if f.step == step}
        return next((s for s in ("fail", "warn", "pass", "skip") if s in statuses), "skip")

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "path": self.path, "findings": [f.to_json() for f in self.findings]}


def is_selected(code: str, select: Sequence[str], ignore: Sequence[str]) -> bool:
    """Codes match by prefix, so ``GYM4`` means all of step 4 and ``GYM404`` one check."""
    code = code.upper()
    if select and not any(code.startswith(s.upper()) for s in select):
        return False
    return not any(code.startswith(s.upper()) for s in ignore)


def _display_path(folder: Path) -> str:
    for base in (Path.cwd(), *folder.parents):
        if (base / "resources_servers").is_dir() and folder.is_relative_to(base):
            return folder.relative_to(base).as_posix()
    return str(folder)


class _Run:
    def __init__(self, fx: Fixtures) -> None:
        self.fx = fx
        self.checks = {c.code(): c for c in all_checks()}
        self.results: dict[str, list[Finding]] = {}

    def prefetch(self, codes: list[str]) -> None:
        """Run the slow checks' work (a pytest subprocess, a server) side by side, not one after another."""
        slow = [self.checks[c] for c in codes if self.checks[c].slow]
        ready = [c for c in slow if all(self.status(r) == "pass" for r in c.requires)]
        if len(ready) < 2:
            return
        with ThreadPoolExecutor(len(ready)) as pool:
            for future in [pool.submit(c.prefetch, self.fx) for c in ready]:
                # A failure here is reported by the check itself when it runs.
                with contextlib.suppress(Exception):
                    future.result()

    def status(self, code: str) -> str:
        findings = self.evaluate(code)
        statuses = {f.status for f in findings}
        if "fail" in statuses or "skip" in statuses:
            return "fail"
        return "pass"

    def evaluate(self, code: str) -> list[Finding]:
        if code in self.results:
            return self.results[code]
        cls = self.checks[code]
        unmet = sorted(r for r in cls.requires if self.status(r) != "pass")
        needs = f"needs {', '.join(unmet)} to pass first"
        findings = [self._finding(cls, "skip", needs)] if unmet else self._run(cls)
        self.results[code] = findings
        return findings

    def _run(self, cls: type[Check]) -> list[Finding]:
        try:
            outcome = cls().check(self.fx)
            problems = outcome if isinstance(outcome, Skip) else list(outcome)
        except Exception as exc:  # noqa: BLE001 - a bug in one check must not hide the other findings
            return [self._finding(cls, "fail", f"the check itself failed: {type(exc).__name__}: {exc}")]
        if isinstance(problems, Skip):
            return [self._finding(cls, "skip", problems.reason)]
        if not problems:
            return [self._finding(cls, "pass", cls.title())]
        return [self._finding(cls, p.level, p.message, p.file, p.line) for p in problems]

    @staticmethod
    def _finding(
        cls: type[Check], status: Any, message: str, file: str | None = None, line: int | None = None
    ) -> Finding:
        return Finding(cls.code(), cls.step, status, message, cls.title(), cls.fix(), file, line)


def _waive(findings: list[Finding], waivers: dict[str, Any]) -> None:
    for finding in findings:
        reason = waivers.get(finding.code)
        # GYM209 reports empty reasons, so an empty or self-referencing waiver never applies.
        applies = isinstance(reason, str) and reason.strip() and finding.code != "GYM209"
        if finding.status in ("fail", "warn") and applies:
            finding.status = "warn"
            finding.waived = str(reason).strip()


def run_checks(
    folder: Path,
    *,
    options: CheckOptions | None = None,
    select: Sequence[str] = (),
    ignore: Sequence[str] = (),
    fixtures: Fixtures | None = None,
) -> ServerReport:
    """Every selected check on the server in ``folder``; never raises on what the folder contains."""
    from gymkit.project import ServerPaths

    paths = ServerPaths(folder.resolve())
    run = _Run(fixtures or Fixtures(paths, options))
    report = ServerReport(paths.name, _display_path(paths.dir))
    codes = [code for code in run.checks if is_selected(code, select, ignore)]
    run.prefetch(codes)
    for code in codes:
        report.findings.extend(run.evaluate(code))
    _waive(report.findings, run.fx.waivers)
    return report
