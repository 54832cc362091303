"""Reward-hack audit of a resource server's verify: see docs/audit.md."""

from __future__ import annotations

from gymkit.audit.probes import PROBES
from gymkit.audit.report import AuditFinding, render_audit
from gymkit.audit.runner import AuditOptions, AuditResult, run_audit
from gymkit.audit.suspicious import suspicious

__all__ = ["PROBES", "AuditFinding", "AuditOptions", "AuditResult", "render_audit", "run_audit", "suspicious"]
