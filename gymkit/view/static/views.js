// The list, the groups, one group, the figures and the comparison. Each view reads its state
// from the URL hash, so the back button and a pasted link both work.
import { h, fmt, rewardClass, api } from "./dom.js";
import { histogram, passAtK, callsVsReward } from "./charts.js";

const PAGE = 50;
const FLAG_LABELS = {
  tool_error: "tool errors", truncated: "truncated", hollow: "hollow (no answer)", no_usage: "no usage figures",
  zero_completion: "zero completion", suspicious: "suspicious (any)",
};

export function go(view, params = {}) {
  const q = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== "" && v !== null && v !== undefined));
  location.hash = `#/${view}${q.toString() ? "?" + q : ""}`;
}

function select(name, value, options, onchange) {
  const el = h("select", { name, id: `f-${name}`, onchange });
  for (const [v, label] of options) el.append(h("option", { value: v, selected: String(v) === String(value ?? "") }, label));
  return el;
}

function fileOptions(meta, kind = "rollouts") {
  return [["", "all files"], ...meta.files.filter((f) => f.kind === kind).map((f) => [f.id, f.path.split("/").slice(-3).join("/")])];
}

// With several files open, a task number alone is ambiguous: say which file it is from.
function taskLabel(meta, task, file) {
  const several = meta.files.filter((f) => f.kind === "rollouts").length > 1;
  return several ? `task ${task} · ${meta.files[file].path.split("/").at(-1)}` : `task ${task}`;
}

function rewardBadge(reward, threshold, failure) {
  return h("span", { class: `reward ${rewardClass(reward, threshold)}` }, failure ? failure : fmt(reward));
}

function chips(flags) {
  return flags.filter((f) => f !== "pass" && f !== "tool_called").map((f) => h("span", { class: `chip ${f}` }, f.replace("suspicious_", "⚑ ")));
}

function pager(total, offset, onPage) {
  return h("div", { class: "pager" },
    h("button", { type: "button", disabled: offset <= 0, onclick: () => onPage(Math.max(0, offset - PAGE)) }, "◀ previous"),
    h("span", { id: "count" }, total ? `${offset + 1}–${Math.min(total, offset + PAGE)} of ${total.toLocaleString()}` : "no rollouts match"),
    h("button", { type: "button", disabled: offset + PAGE >= total, onclick: () => onPage(offset + PAGE) }, "next ▶"));
}

// The filters a form shows may already be stale (a click on "clear" is drawing the next list):
// a change adds to what the URL holds now, not to what it held when the form was drawn.
function hashParams(view) {
  const [path, query] = location.hash.slice(2).split("?");
  return path === view ? Object.fromEntries(new URLSearchParams(query || "")) : {};
}

export async function listView(meta, params) {
  const state = Object.fromEntries(params);
  const update = (patch) => go("list", { ...hashParams("list"), offset: "", ...patch });
  const field = (name) => (e) => update({ [name]: e.target.value });
  const flagOptions = [["", "any flag"], ...Object.entries(FLAG_LABELS),
    ...meta.flags.filter((f) => f.startsWith("suspicious_")).map((f) => [f, f.replace("_", ": ")])];
  const search = h("input", { type: "search", id: "f-q", placeholder: "search the text…", value: state.q || "" });
  search.addEventListener("keydown", (e) => e.key === "Enter" && update({ q: search.value }));
  const number = (name, placeholder) => h("input", { type: "number", step: "any", id: `f-${name}`, placeholder, value: state[name] || "", onchange: field(name) });
  const bar = h("form", { class: "filters", onsubmit: (e) => e.preventDefault() },
    select("file", state.file, fileOptions(meta), field("file")),
    h("input", { type: "text", id: "f-task", placeholder: "task", size: 6, value: state.task || "", onchange: field("task") }),
    h("label", {}, "reward ", number("rmin", "min"), " – ", number("rmax", "max")),
    select("outcome", state.outcome, [["", "pass & fail"], ["pass", "passed"], ["fail", "failed (reward below threshold)"], ["failure", "failed attempts (no reward)"]], field("outcome")),
    select("tool", state.tool, [["", "tools: any"], ["called", "called a tool"], ["none", "called no tool"]], field("tool")),
    select("flag", state.flag, flagOptions, field("flag")),
    search,
    h("button", { type: "button", onclick: () => go("list") }, "clear"));
  const body = h("div", {}, h("p", { class: "muted" }, "loading…"));
  const root = h("div", {}, bar, body);
  const q = new URLSearchParams({ ...state, limit: PAGE });
  const data = await api(`/api/rows?${q}`);
  const offset = Number(state.offset || 0);
  const table = h("table", { class: "rows", id: "rows" },
    h("thead", {}, h("tr", {}, ...["task", "#", "reward", "calls", "flags", "prompt", "final answer"].map((t) => h("th", {}, t)))));
  const tbody = h("tbody");
  for (const r of data.rows) {
    tbody.append(h("tr", { class: "row", "data-id": r.id, tabindex: 0, onclick: () => go(`row/${r.id}`) },
      h("td", {}, String(r.task)), h("td", {}, r.rollout ?? "–"),
      h("td", {}, rewardBadge(r.reward, meta.threshold, r.failure_class)), h("td", {}, r.calls),
      h("td", {}, ...chips(r.flags)), h("td", { class: "clip" }, r.prompt), h("td", { class: "clip" }, r.answer)));
  }
  table.append(tbody);
  body.replaceChildren(pager(data.total, offset, (o) => go("list", { ...hashParams("list"), offset: o })), table);
  return root;
}

function strip(rewards, threshold) {
  return h("span", { class: "strip" }, ...rewards.map((r) => h("span", { class: `dot ${rewardClass(r, threshold)}`, title: fmt(r) })));
}

export async function groupsView(meta, params) {
  const state = Object.fromEntries(params);
  const data = await api(`/api/groups?${new URLSearchParams({ ...state, limit: PAGE })}`);
  const offset = Number(state.offset || 0);
  const bar = h("form", { class: "filters", onsubmit: (e) => e.preventDefault() },
    select("file", state.file, fileOptions(meta), (e) => go("groups", { ...hashParams("groups"), file: e.target.value, offset: "" })),
    select("kind", state.kind, [["", "all prompts (mixed first)"], ["mixed", "mixed rewards only"], ["uniform", "same reward in every sample"]],
      (e) => go("groups", { ...hashParams("groups"), kind: e.target.value, offset: "" })),
    state.below_k ? h("span", { class: "chip" }, `pass@${state.below_k} below 1`) : null);
  const list = h("div", { class: "groups", id: "groups" });
  for (const g of data.groups) {
    list.append(h("a", { href: `#/group/${g.id}`, class: `group ${g.kind}`, "data-id": g.id },
      h("span", { class: "task" }, taskLabel(meta, g.task, g.file)), h("span", { class: `chip ${g.kind}` }, g.kind),
      h("span", {}, `mean ${fmt(g.mean)} · ${g.passes}/${g.scored} pass`), strip(g.rewards, meta.threshold),
      h("span", { class: "clip" }, g.prompt)));
  }
  return h("div", {}, bar, pager(data.total, offset, (o) => go("groups", { ...hashParams("groups"), offset: o })), list);
}

export async function groupView(meta, id) {
  const g = await api(`/api/group/${id}`);
  const cards = h("div", { class: "samples", id: "samples" });
  for (const r of g.samples) {
    cards.append(h("a", { href: `#/row/${r.id}`, class: "sample", "data-id": r.id },
      h("div", {}, rewardBadge(r.reward, meta.threshold, r.failure_class), " ", `rollout ${r.rollout ?? "–"}`, " ", ...chips(r.flags)),
      h("p", { class: "answer" }, r.answer || (r.failure_class ? "(failed attempt)" : "(no final answer)"))));
  }
  return h("div", {},
    h("h2", {}, `${taskLabel(meta, g.task, g.file)} · ${g.n} samples · ${g.kind}`),
    h("p", {}, `mean reward ${fmt(g.mean)} (std ${fmt(g.std)}), ${g.passes} of ${g.scored} pass. `,
      g.kind === "mixed" ? "GRPO learns from the differences between these samples." : "Every sample scored the same: this prompt gives GRPO no signal."),
    h("blockquote", { class: "prompt" }, g.prompt), cards);
}

export async function figuresView(meta, params) {
  const file = params.get("file") || "";
  const f = await api(`/api/figures?${new URLSearchParams(file ? { file } : {})}`);
  const edges = f.histogram.edges;
  const range = (bin) => ({ rmin: edges[bin], rmax: bin === edges.length - 2 ? edges[bin + 1] : edges[bin + 1] - 1e-9 });
  return h("div", {},
    h("form", { class: "filters" }, select("file", file, fileOptions(meta), (e) => go("figures", { file: e.target.value }))),
    h("p", { class: "muted" }, `${f.rollouts.toLocaleString()} scored rollouts. Click a bar, point or cell for the rollouts behind it.`),
    h("div", { class: "figures" },
      h("figure", { id: "fig-hist" }, h("figcaption", {}, "Reward distribution"), histogram(f.histogram, (bin) => go("list", { file, ...range(bin) }))),
      h("figure", { id: "fig-passk" }, h("figcaption", {}, "pass@k"), passAtK(f.pass_at_k, (k) => go("groups", { file, below_k: k }))),
      h("figure", { id: "fig-calls" }, h("figcaption", {}, "Tool calls against reward"),
        callsVsReward(f.calls_vs_reward, (cell) => go("list", { file, calls: cell.calls, ...range(cell.bin) })))));
}

export async function compareView(meta, params) {
  const files = meta.files.filter((f) => f.kind === "rollouts");
  const a = params.get("a") ?? String(files[0].id), b = params.get("b") ?? String(files[1].id);
  const opts = files.map((f) => [f.id, f.path.split("/").slice(-3).join("/")]);
  const bar = h("form", { class: "filters" },
    h("label", {}, "A ", select("a", a, opts, (e) => go("compare", { b, ...hashParams("compare"), a: e.target.value }))),
    h("label", {}, "B ", select("b", b, opts, (e) => go("compare", { a, ...hashParams("compare"), b: e.target.value }))));
  const c = await api(`/api/compare?a=${a}&b=${b}`);
  const o = c.overall;
  const flips = h("table", { class: "rows", id: "flips" }, h("thead", {}, h("tr", {}, ...["flip", "task", "#", "A", "B"].map((t) => h("th", {}, t)))));
  const tbody = h("tbody");
  for (const [label, list] of [["pass → fail", c.flips.pass_to_fail], ["fail → pass", c.flips.fail_to_pass]])
    for (const x of list)
      tbody.append(h("tr", {}, h("td", {}, label), h("td", {}, String(x.task)), h("td", {}, x.rollout),
        h("td", {}, h("a", { href: `#/row/${x.row_a}` }, fmt(x.reward_a))), h("td", {}, h("a", { href: `#/row/${x.row_b}` }, fmt(x.reward_b)))));
  flips.append(tbody);
  const tasks = h("table", { class: "rows" }, h("thead", {}, h("tr", {}, ...["task", "mean A", "mean B", "delta", "95% CI"].map((t) => h("th", {}, t)))));
  const tb = h("tbody");
  for (const t of c.per_task.filter((t) => t.delta !== 0).slice(0, 100))
    tb.append(h("tr", { class: "row", onclick: () => go("list", { task: t.task }) }, h("td", {}, String(t.task)), h("td", {}, fmt(t.mean_a)),
      h("td", {}, fmt(t.mean_b)), h("td", {}, fmt(t.delta)), h("td", {}, `${fmt(t.ci[0])} … ${fmt(t.ci[1])}`)));
  tasks.append(tb);
  return h("div", {}, bar,
    h("p", { id: "verdict", class: "verdict" }, c.verdict),
    h("p", {}, `${c.tasks.shared} shared tasks. Mean reward A ${fmt(o.mean_a)}, B ${fmt(o.mean_b)}, delta ${fmt(o.delta)} (95% CI ${fmt(o.ci[0])} … ${fmt(o.ci[1])}); `,
      `sign test: ${o.sign_test.higher} higher, ${o.sign_test.lower} lower (p ${fmt(o.sign_test.p)}).`),
    h("h3", {}, `${c.flips.pass_to_fail.length + c.flips.fail_to_pass.length} flips over ${c.flips.paired_rollouts} paired rollouts (McNemar p ${fmt(c.flips.mcnemar_p)})`),
    flips, h("h3", {}, "tasks whose mean changed"), tasks);
}
