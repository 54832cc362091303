"""The environment card as one self-contained HTML file: no script, no request anywhere.

Every value is escaped (rollouts are model output, READMEs are contributors' text) and a CSP
meta tag forbids scripts outright, so the file is safe to open from a CI artifact.
"""

from __future__ import annotations

import json
from html import escape
from typing import Any

from gymkit import __version__
from gymkit.cards.gather import Card
from gymkit.evaluate.summary import summarise
from gymkit.findings import Status

__all__ = ["render_card"]

FOLD = 700
_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
_STYLE = (
    """
body{font:14px/1.5 system-ui,sans-serif;max-width:1100px;margin:2rem auto;padding:0 1rem;color:#1d1d1f;
background:#fbfbfa}h1{margin-bottom:.2rem}h2{border-bottom:1px solid #ddd;padding-bottom:.2rem;margin-top:2rem}
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #e4e4e7;
vertical-align:top}.s{font-weight:600;border-radius:4px;padding:0 .4rem;color:#fff}.muted{color:#6b6b70}
pre{white-space:pre-wrap;overflow-wrap:anywhere;margin:0;font:12.5px/1.45 ui-monospace,monospace}
.turn{border:1px solid #dedee2;border-left:4px solid #ccc;border-radius:6px;padding:.35rem .6rem;margin:.3rem 0;
background:#fff}.role{font-size:11px;text-transform:uppercase;color:#6b6b70}.final{border-left-color:#1f8a4c}
.call{border-left-color:#c58a00}.output{border-left-color:#5f8f9f}.user{border-left-color:#2b5fb8}
.ex{display:grid;grid-template-columns:2fr 1fr;gap:1rem;margin:1rem 0;padding:.6rem;border:1px solid #ddd;
border-radius:8px}.figs img{max-width:100%;border:1px solid #eee}.figs{display:grid;grid-template-columns:1fr 1fr;
gap:.8rem}dl{display:grid;grid-template-columns:max-content 1fr;gap:.1rem .6rem;margin:0}dt{font-weight:600}dd{margin:0}
"""
    + "".join(f".{s}{{background:{s.html_colour}}}" for s in Status)
    + "\n"
)


def _e(value: Any) -> str:
    return escape(str(value), quote=True)


def _fold(text: str) -> str:
    if len(text) <= FOLD:
        return f"<pre>{_e(text)}</pre>"
    return (f"<pre>{_e(text[:FOLD])} …</pre><details><summary>show all ({len(text):,} characters)</summary>"
            f"<pre>{_e(text)}</pre></details>")  # fmt: skip


def _status(status: str) -> str:
    return f'<span class="s {_e(status)}">{_e(status)}</span>'


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return "" if content is None else json.dumps(content)


def _pretty(value: Any) -> str:
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            return value
        return json.dumps(parsed, indent=2, ensure_ascii=False) if isinstance(parsed, dict | list) else value
    return json.dumps(value, indent=2, ensure_ascii=False)


def _turn(role: str, cls: str, body: str) -> str:
    return f'<div class="turn {cls}"><div class="role">{_e(role)}</div>{body}</div>'


def _rollout(row: dict[str, Any]) -> str:
    """One rollout as the viewer shows it: the conversation, and what verify returned beside it."""
    params = raw if isinstance(raw := row.get("responses_create_params"), dict) else {}
    turns = []
    items = raw if isinstance(raw := params.get("input"), list) else []
    for item in items:
        if isinstance(item, dict):
            role = str(item.get("role", "input"))
            turns.append(_turn(role, "user" if role == "user" else "", _fold(_text(item.get("content")))))
    response = raw if isinstance(raw := row.get("response"), dict) else {}
    output = [i for i in response.get("output") or [] if isinstance(i, dict)]
    last = max((n for n, i in enumerate(output) if i.get("type", "message") == "message"), default=-1)
    for n, item in enumerate(output):
        kind = item.get("type", "message")
        if kind == "function_call":
            arguments = f"<pre>{_e(_pretty(item.get('arguments')))}</pre>"
            turns.append(_turn(f"tool call · {item.get('name')}", "call", arguments))
        elif kind == "function_call_output":
            turns.append(_turn("tool output", "output", _fold(_pretty(_text(item.get("output"))))))
        elif kind == "reasoning":
            parts = [_text(p.get("text")) for p in [*(item.get("summary") or []), *(item.get("content") or [])]]
            turns.append(f"<details><summary>reasoning</summary>{_fold(chr(10).join(parts))}</details>")
        elif kind == "message":
            body = _text(item.get("content"))
            turns.append(_turn("final answer" if n == last else "assistant", "final" if n == last else "",
                               _fold(body) if body.strip() else "<p class=muted>(empty message)</p>"))  # fmt: skip
    if last < 0:
        turns.append("<p class=muted>No final answer: the rollout ended without an assistant message.</p>")
    skip = {"response", "responses_create_params", "_gymkit", "agent_ref", "reward"}
    fields = "".join(
        f"<dt>{_e(k)}</dt><dd>{_fold(v if isinstance(v, str) else json.dumps(v, ensure_ascii=False))}</dd>"
        for k, v in row.items()
        if k not in skip
    )
    s = summarise(row)
    health = ", ".join(n for n, on in (("hollow", s.hollow), ("runaway", s.runaway), ("tool errors", s.tool_errors))
                       if on) or "none"  # fmt: skip
    return (
        f'<div class="ex"><div>{"".join(turns)}</div><div><p><b>reward {_e(row.get("reward"))}</b></p>'
        f"<p class=muted>health flags: {_e(health)}</p><dl>{fields}</dl></div></div>"
    )


def _profile(card: Card) -> str:
    p = card.profile
    if p is None:
        return "<p>Not profiled yet (<code>gymkit profile NAME</code>).</p>"
    if isinstance(p, str):
        return f"<p>{_e(p)}</p>"
    reward = raw if isinstance(raw := p.get("reward"), dict) else {}
    prompts = raw if isinstance(raw := p.get("prompts"), dict) else {}
    passk = ", ".join(f"pass@{k} {v:.3f}" for k, v in (p.get("pass_at_k") or {}).items() if isinstance(v, int | float))
    rows = [
        ("models", ", ".join(map(str, p.get("models") or []))),
        ("rollouts", f"{p.get('num_rollouts')} ({p.get('num_prompts')} prompts x {p.get('samples_per_prompt')})"),
        ("mean reward", reward.get("mean")),
        ("pass@k", passk),
        ("prompts", ", ".join(f"{k.replace('_', ' ')} {prompts.get(k)}" for k in ("all_fail", "all_pass", "mixed"))),
        ("verdict", prompts.get("verdict") or "–"),
    ]
    table = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows)
    figs = "".join(f'<figure><img alt="{_e(n)}" src="{u}"><figcaption>{_e(n)}</figcaption></figure>'
                   for n, u in card.profile_images.items())  # fmt: skip
    return f"<table>{table}</table><div class=figs>{figs}</div>"


def _training(card: Card) -> str:
    t = card.training
    if t is None:
        return "<p>No training report (<code>reports/training/training.json</code>) yet.</p>"
    if isinstance(t, str):
        return f"<p>{_e(t)}</p>"
    train = raw if isinstance(raw := t.get("train"), dict) else {}
    line = (f"Improved: <b>{_e(t.get('improved'))}</b>; {_e(train.get('column', 'reward'))} from "
            f"{_e(train.get('first'))} to {_e(train.get('last'))} (p = {_e(train.get('p_value'))}).")  # fmt: skip
    figs = "".join(f'<img alt="{_e(n)}" src="{u}">' for n, u in card.training_images.items())
    return f"<p>{line}</p><div class=figs>{figs}</div>"


def _audit(card: Card) -> str:
    if isinstance(card.audit, str):
        return f"<p>{_e(card.audit)}</p>"
    rows = "".join(f"<tr><td>{_status(f['status'])}</td><td>{_e(f['code'])}</td><td>{_e(f['title'])}</td>"
                   f"<td>{_e(f['message'])}</td></tr>" for f in card.audit["findings"])  # fmt: skip
    return f"<p>{_e(card.audit['cases'])} cases in {_e(card.audit['seconds'])} s.</p><table>{rows}</table>"


def render_card(card: Card) -> str:
    def problems(step: dict[str, Any]) -> str:
        return "<br>".join(
            f"{_e(f['code'])} {_e(f['status'])}: {_e(f['message'])}" + (" (waived)" if f["waived"] else "")
            for f in step["findings"]
            if f["status"] != "pass"
        )

    steps = "".join(
        f"<tr><td>{s['step']}</td><td>{_e(s['title'])}</td><td>{_status(s['status'])}</td><td>{problems(s)}</td></tr>"
        for s in card.steps
    )
    cfg = card.config
    datasets = "".join(f"<li>{_e(d['type'])} <code>{_e(d['name'])}</code>: {_e(d['path'])}"
                       f"{' (licence: ' + _e(d['license']) + ')' if d['license'] else ''}</li>"
                       for d in cfg.get("datasets", []))  # fmt: skip
    licences = "".join(f"<li>{_e(k)}: {_e(v)}</li>" for k, v in card.licensing.items()) or "<li>not stated</li>"
    examples = "".join(_rollout(r) for r in card.examples) or "<p>No example rollouts.</p>"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{_CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(card.name)}: environment card</title><style>{_STYLE}</style></head><body>
<h1>{_e(card.name)}</h1><p>{_e(card.summary)}</p>
<h2>What it is</h2>
<p>Domain: <b>{_e(cfg.get("domain", cfg.get("error", "unknown")))}</b>. {_e(cfg.get("description", ""))}</p>
{_fold(card.description) if card.description else ""}
<h3>Datasets</h3><ul>{datasets or "<li>none configured</li>"}</ul><h3>Licences</h3><ul>{licences}</ul>
<h2>The eight steps</h2>
<table><tr><th>#</th><th>step</th><th>status</th><th>what is not passing</th></tr>{steps}</table>
<h2>Reward profile</h2>{_profile(card)}
<h2>Audit</h2>{_audit(card)}
<h2>Training evidence</h2>{_training(card)}
<h2>Example rollouts</h2>{examples}
<p class=muted>gymkit {_e(__version__)} · <code>gymkit report {_e(card.name)} --html PATH</code></p>
</body></html>
"""
