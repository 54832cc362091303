"""Findings: the status, finding and report types every gymkit report is built from, and their renderers."""

from __future__ import annotations

from gymkit.findings.model import STEPS, Finding, ServerReport, Status, problem
from gymkit.findings.waivers import apply_waivers, load_waivers, read_waivers

__all__ = [
    "STEPS",
    "Finding",
    "ServerReport",
    "Status",
    "apply_waivers",
    "load_waivers",
    "problem",
    "read_waivers",
]
