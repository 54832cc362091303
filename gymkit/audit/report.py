"""Audit findings in the checklist's report shape, so one renderer serves both commands.

Audit codes belong to step 3 (Testing): ``GYM3A01``-``GYM3A16``, one per probe. The ``A``
keeps them apart from the registered checks (``GYM3`` + two digits) while ``--select GYM3``
style prefixes still take in a server's audit, and the same ``gymkit: {waive: {CODE: why}}``
block in the server's config waives them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gymkit.audit.fields import final_text
from gymkit.audit.probes import PROBES
from gymkit.findings import Finding, ServerReport, Status
from gymkit.findings.render import Format, render

__all__ = ["STEP", "AuditFinding", "excerpt", "render_audit"]

STEP = 3
EXCERPT_CHARS = 240
JSON_TEXT_CHARS = 4000


@dataclass(frozen=True)
class AuditFinding(Finding):
    """A finding plus what reproduces it: the probe, the row, the reward and the response sent."""

    probe: str | None = None
    row: int | None = None
    reward: float | None = None
    reproduce: str | None = None
    response: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        data = super().to_json()
        if self.response is not None:
            data["response"] = _shortened(self.response)
        return data


def finding(probe: str, status: Status, message: str, **extra: Any) -> AuditFinding:
    spec = PROBES[probe]
    return AuditFinding(spec.code, STEP, status, message, spec.title, spec.fix, probe=probe, **extra)


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    head = limit * 2 // 3
    return f"{text[:head]} …[{len(text) - limit:,} characters cut]… {text[-(limit - head) :]}"


def excerpt(response: dict[str, Any] | None) -> str:
    """The response in one line: its item types, then its final message (cut in the middle)."""
    if not isinstance(response, dict):
        return json.dumps(response)[:EXCERPT_CHARS]
    items = response.get("output") or []
    kinds = [str(i.get("type", "message")) if isinstance(i, dict) else "?" for i in items]
    text = final_text(response)
    shown = f"output [{', '.join(kinds)}]" if kinds else "output []"
    if text or "message" in kinds:
        shown += f", final message {json.dumps(_cut(text, EXCERPT_CHARS), ensure_ascii=False)}"
    return shown


def _shortened(response: dict[str, Any]) -> dict[str, Any]:
    # The JSON report carries the response sent, with long texts cut so a 40 KB probe stays readable.
    def cut(value: Any) -> Any:
        if isinstance(value, str):
            return _cut(value, JSON_TEXT_CHARS)
        if isinstance(value, list):
            return [cut(v) for v in value]
        if isinstance(value, dict):
            return {k: cut(v) for k, v in value.items()}
        return value

    shortened: dict[str, Any] = cut(response)
    return shortened


def render_audit(name: str, path: str, findings: Sequence[Finding], fmt: Format) -> str:
    return render([ServerReport(name, path, list(findings))], fmt)
