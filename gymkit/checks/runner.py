"""Running the registry over one server: requirements, selection, waivers, one finding per problem."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from gymkit.checks.catalog import all_checks
from gymkit.checks.fixtures import CheckOptions, Fixtures
from gymkit.checks.registry import Check, Skip
from gymkit.findings import Finding, ServerReport, Status, apply_waivers

__all__ = ["ServerReport", "is_selected", "run_checks"]


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
        findings = [self._finding(cls, Status.SKIP, needs)] if unmet else self._run(cls)
        self.results[code] = findings
        return findings

    def _run(self, cls: type[Check]) -> list[Finding]:
        try:
            outcome = cls().check(self.fx)
            problems = outcome if isinstance(outcome, Skip) else list(outcome)
        except Exception as exc:  # noqa: BLE001 - a bug in one check must not hide the other findings
            return [self._finding(cls, Status.FAIL, f"the check itself failed: {type(exc).__name__}: {exc}")]
        if isinstance(problems, Skip):
            return [self._finding(cls, Status.SKIP, problems.reason)]
        if not problems:
            return [self._finding(cls, Status.PASS, cls.title())]
        return [replace(p, code=cls.code(), step=cls.step, title=cls.title(), fix=cls.fix()) for p in problems]

    @staticmethod
    def _finding(cls: type[Check], status: Status, message: str) -> Finding:
        return Finding(cls.code(), cls.step, status, message, cls.title(), cls.fix())


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
    report.findings = apply_waivers(report.findings, run.fx.waivers)
    return report
