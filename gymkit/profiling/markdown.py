"""``reward_profile.md``: the JSON report in words and tables, with the plots linked."""

from __future__ import annotations

from typing import Any

__all__ = ["fmt", "profile_markdown", "table"]


def fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, dict):
        shown = [f"{k}={v}" for k, v in value.items() if v is not None]
        return ", ".join(shown) or "not recorded"
    if isinstance(value, float):
        return f"{value:.{digits}f}" if abs(value) < 1e6 else f"{value:.3g}"
    return str(value)


def table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(fmt(c) for c in row) + " |" for row in rows]
    return [*lines, ""]


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def _correlation(c: dict[str, Any]) -> str:
    if c.get("r") is None:
        return f"undefined ({c.get('reason')})"
    ci = "" if c.get("ci_low") is None else f", {c['confidence']:.0%} CI [{c['ci_low']:.3f}, {c['ci_high']:.3f}]"
    p = "" if c.get("p_value") is None else f", p = {c['p_value']:.3g}"
    return f"r = {c['r']:.3f}{ci}{p} (n = {c['n']})"


def _section(s: dict[str, Any], threshold: float) -> list[str]:
    r = s["reward"]
    out = ["## Rewards", ""]
    q = r["quantiles"]
    out += table(
        ["mean", "std", "min", "p10", "p25", "median", "p75", "p90", "max"],
        [
            [
                r["mean"],
                r["std"],
                r["min"],
                q.get("0.1"),
                q.get("0.25"),
                q.get("0.5"),
                q.get("0.75"),
                q.get("0.9"),
                r["max"],
            ]
        ],
    )
    if "values" in r["histogram"]:
        out += table(["reward", "rollouts"], [[k, v] for k, v in r["histogram"]["values"].items()])
    pm, ps = r["per_prompt"]["mean"], r["per_prompt"]["std"]
    out += [
        f"Per prompt: the mean reward of a prompt averages {fmt(pm['mean'])} (std {fmt(pm['std'])} across prompts);"
        f" the spread within a prompt (sample std) averages {fmt(ps['mean'])}.",
        "",
        "![reward distribution](reward_hist.png) ![mean reward per prompt](prompt_mean_hist.png)",
        "",
        f"## pass@k (a rollout passes when reward >= {threshold:g})",
        "",
    ]
    ks = list(s["pass_at_k"])
    out += table(["k", *ks], [["pass@k", *s["pass_at_k"].values()], ["max@k", *(s["max_at_k"].get(k) for k in ks)]])
    out += ["![pass@k](pass_at_k.png)", "", "## Prompts: is there a signal for GRPO?", ""]
    p = s["prompts"]
    out += table(
        ["all fail", "all pass", "mixed (non-zero advantage)"],
        [[_pct(p["all_fail"]), _pct(p["all_pass"]), _pct(p["mixed"])]],
    )
    if p.get("verdict"):
        out += [f"**Verdict:** {p['verdict']}", ""]
    out += _components(s.get("reward_components"))
    out += _tools(s["tool_calls"])
    out += ["## Token usage", ""]
    out += table(
        ["field", "mean", "std", "min", "max", "total"],
        [[k, v["mean"], v["std"], v["min"], v["max"], v["total"]] for k, v in s["usage"].items()],
    )
    return out


def _components(c: dict[str, Any] | None) -> list[str]:
    if not c:
        return []
    out = [
        "## Reward components",
        "",
        "The objectives verify returned in `reward_components`; a prompt is mixed for an objective when the"
        " objective differs between its samples, which is that objective's own signal for GRPO.",
        "",
    ]
    rows = [[name, v["mean"], _pct(v["mixed"]), v["num_rollouts"], v["num_prompts"]] for name, v in c.items()]
    return out + table(["component", "mean", "mixed prompts", "rollouts", "prompts"], rows)


def _tools(t: dict[str, Any]) -> list[str]:
    out = ["## Tool calls", ""]
    if not t["total"]:
        return [*out, "No rollout made a function call.", ""]
    out += [
        f"- calls per rollout: {fmt(t['per_rollout_mean'])}; rollouts without a call: {_pct(t['no_call_share'])}",
        f"- invalid arguments: {_pct(t['invalid_argument_rate'])} of calls; tool errors: {_pct(t['tool_error_rate'])}",
        f"- correlation of number of calls with reward: {_correlation(t['reward_correlation'])}",
        "",
    ]
    out += table(
        ["tool", "calls", "per rollout", "invalid args", "errors", "correlation with reward"],
        [
            [name, v["calls"], v["per_rollout_mean"], _pct(v["invalid_argument_rate"]), _pct(v["tool_error_rate"]),
             _correlation(v["reward_correlation"])]
            for name, v in t["per_tool"].items()
        ],
    )  # fmt: skip
    return [*out, "![mean reward by number of calls](calls_vs_reward.png)", ""]


def _side_by_side(by_model: dict[str, dict[str, Any]]) -> list[str]:
    models = list(by_model)
    ks = sorted({k for s in by_model.values() for k in s["pass_at_k"]}, key=int)
    rows: list[list[Any]] = [
        ["rollouts", *(by_model[m]["num_rollouts"] for m in models)],
        ["prompts", *(by_model[m]["num_prompts"] for m in models)],
        ["mean reward", *(by_model[m]["reward"]["mean"] for m in models)],
        ["reward std", *(by_model[m]["reward"]["std"] for m in models)],
        *[[f"pass@{k}", *(by_model[m]["pass_at_k"].get(k) for m in models)] for k in ks],
        ["mixed prompts", *(_pct(by_model[m]["prompts"]["mixed"]) for m in models)],
        ["all-fail prompts", *(_pct(by_model[m]["prompts"]["all_fail"]) for m in models)],
        ["all-pass prompts", *(_pct(by_model[m]["prompts"]["all_pass"]) for m in models)],
        ["tool calls / rollout", *(by_model[m]["tool_calls"]["per_rollout_mean"] for m in models)],
        ["output tokens (mean)", *(by_model[m]["usage"].get("output_tokens", {}).get("mean") for m in models)],
    ]
    return ["## Models side by side", "", *table(["", *models], rows)]


def _suspicious(h: dict[str, Any] | None) -> list[str]:
    if not h:
        return []
    out = ["## Possible reward hacks", ""]
    read = f"{h['read']} of {h['rewarded']}" if h["read"] < h["rewarded"] else f"all {h['rewarded']}"
    out.append(
        f"Full-reward rollouts read with the audit's criteria: {read}; "
        f"{h['flagged']} look like a hack (echo, hedge, pasted tool output or a claim of being correct)."
    )
    if h["flagged"]:
        out += ["", *table(["flag", "rollouts"], [[k, v] for k, v in h["by_flag"].items()])]
        out += [f"- `{e['file']}:{e['line']}` (task {e['task']}): {', '.join(e['flags'])}" for e in h["examples"]]
        out += ["", "Look at them with `gymkit view`; `gymkit audit NAME` probes the same weaknesses without a model."]
    return [*out, ""]


def profile_markdown(report: dict[str, Any]) -> str:
    subject = report.get("server") or ", ".join(p["path"] for p in report["rollouts_files"])
    d = report["dataset"]
    out = [f"# Reward profile: {subject}", ""]
    out += table(
        ["", ""],
        [
            ["models", ", ".join(report["models"])],
            ["rollouts", report["num_rollouts"]],
            ["prompts x samples", f"{report['num_prompts']} x {report['samples_per_prompt']}"],
            ["dataset", f"{d['path']} (sha256 {str(d['sha256'])[:12]}, {d['num_rows']} rows)" if d["path"] else "–"],
            ["server code sha256", str(report["server_code_sha256"] or "–")[:12]],
            ["sampling", report["sampling"]],
            ["gymkit", report["gymkit_version"]],
            ["created", report["created_at"]],
        ],
    )
    if report.get("by_model"):
        out += _side_by_side(report["by_model"])
        out += ["The sections below pool all models; each model's figures are under `by_model` in the JSON.", ""]
    out += _section(report, report["pass_threshold"])
    f = report["failures"]
    out += ["## Failures", "", f"{f['count']} failed attempts ({_pct(f['rate'])} of attempts)."]
    out += ["", *table(["class", "count"], [[k, v] for k, v in f["classes"].items()])] if f["classes"] else [""]
    out += _suspicious(report.get("suspicious"))
    out += [
        "## Per task",
        "",
        "NeMo Gym's per-task statistics (`mean/`, `max/`, `min/`, `median/`, `std/` of every numeric field) are",
        "in `per_task` of `reward_profile.json` and in `per_task.jsonl`, one row per task.",
        "",
    ]
    return "\n".join(out)
