// One rollout as the conversation it was: what the model was told, what it thought, which
// tools it called with what, what they answered, its final answer, and what verify said.
import { h, fold, pretty, fmt, rewardClass } from "./dom.js";

const BOOKKEEPING = new Set(["response", "responses_create_params", "_gymkit", "agent_ref"]);

function text(content) {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) return content.map((p) => (p && typeof p === "object" ? p.text ?? p.refusal ?? "" : String(p))).join("");
  return content == null ? "" : JSON.stringify(content);
}

function turn(role, cls, ...body) {
  return h("section", { class: `turn ${cls}` }, h("div", { class: "role" }, role), ...body);
}

function inputTurns(params) {
  const out = [];
  if (params.instructions) out.push(turn("instructions", "system", fold(params.instructions)));
  const items = typeof params.input === "string" ? [{ role: "user", content: params.input }] : params.input || [];
  for (const item of items) {
    if (!item || typeof item !== "object") continue;
    if (item.type === "function_call" || item.type === "function_call_output") out.push(...outputTurns([item], false));
    else out.push(turn(item.role || "input", item.role === "system" || item.role === "developer" ? "system" : "user", fold(text(item.content))));
  }
  if (Array.isArray(params.tools) && params.tools.length) {
    const names = params.tools.map((t) => t.name || t.type).join(", ");
    out.push(h("details", { class: "tools" }, h("summary", {}, `tools offered: ${names}`), h("pre", { class: "json" }, pretty(params.tools))));
  }
  return out;
}

function outputTurns(items, markFinal = true) {
  const out = [];
  const lastMessage = markFinal ? items.map((i) => i && (i.type ?? "message") === "message").lastIndexOf(true) : -1;
  items.forEach((item, i) => {
    if (!item || typeof item !== "object") return;
    const type = item.type ?? "message";
    if (type === "reasoning") {
      const parts = [...(item.summary || []), ...(item.content || [])].map((p) => text(p.text ?? p));
      out.push(h("details", { class: "turn reasoning" }, h("summary", { class: "role" }, "reasoning"), fold(parts.join("\n\n") || item.encrypted_content || "")));
    } else if (type === "function_call") {
      out.push(turn(`tool call · ${item.name ?? "?"}`, "call", h("pre", { class: "json" }, pretty(item.arguments ?? ""))));
    } else if (type === "function_call_output") {
      const output = typeof item.output === "string" ? item.output : text(item.output);
      out.push(turn("tool output", "output", fold(pretty(output), 1200, "json")));
    } else if (type === "message") {
      const final = i === lastMessage;
      const body = text(item.content);
      out.push(turn(final ? "final answer" : item.role || "assistant", final ? "final" : "assistant",
        body.trim() ? fold(body, 2000) : h("p", { class: "warn" }, "(empty message)")));
    } else {
      out.push(turn(type, "other", h("pre", { class: "json" }, pretty(item))));
    }
  });
  if (markFinal && lastMessage < 0) out.push(h("p", { class: "warn", id: "no-final" }, "No final answer: the rollout ended without an assistant message."));
  return out;
}

function verifyPanel(row, summary, threshold) {
  const fields = Object.entries(row).filter(([k]) => !BOOKKEEPING.has(k) && k !== "reward");
  const list = h("dl", { class: "verify" });
  for (const [key, value] of fields) {
    const shown = typeof value === "string" ? value : JSON.stringify(value, null, 2);
    const bad = value === false || (value && typeof value === "object" && Object.values(value).includes(false));
    list.append(h("dt", { class: bad ? "bad" : "" }, key), h("dd", {}, fold(shown, 400, "json")));
  }
  const response = row.response || {};
  const meta = row._gymkit || {};
  return h("aside", { class: "panel" },
    h("div", { class: `reward big ${rewardClass(summary.reward, threshold)}`, id: "reward" }, summary.failure_class ? summary.failure_class : fmt(summary.reward)),
    summary.flags.length ? h("p", {}, ...summary.flags.map((f) => h("span", { class: `chip ${f}` }, f))) : null,
    h("h3", {}, "verify returned"),
    fields.length ? list : h("p", { class: "muted" }, "nothing besides the reward"),
    h("h3", {}, "response"),
    h("dl", { class: "verify" },
      h("dt", {}, "status"), h("dd", {}, String(response.status ?? "–") + (response.incomplete_details ? ` (${JSON.stringify(response.incomplete_details)})` : "")),
      h("dt", {}, "usage"), h("dd", {}, response.usage ? `${response.usage.input_tokens ?? "?"} in, ${response.usage.output_tokens ?? "?"} out` : "none"),
      h("dt", {}, "model"), h("dd", {}, String(meta.model ?? response.model ?? "–"))),
    h("details", {}, h("summary", {}, "_gymkit metadata"), h("pre", { class: "json" }, pretty(meta))),
  );
}

export function rolloutView(data, threshold) {
  const { row, summary } = data;
  const params = row.responses_create_params || {};
  const output = (row.response || {}).output || [];
  const conversation = h("div", { class: "conversation", id: "conversation" },
    ...inputTurns(params),
    ...(summary.failure_class
      ? [turn("failure", "final", fold(String(row._ng_failure_message ?? summary.failure_class)))]
      : outputTurns(output)));
  const siblings = data.siblings.length
    ? h("a", { href: `#/group/${summary.group}`, class: "button" }, `all ${data.siblings.length + 1} samples of this prompt`)
    : null;
  return h("div", {},
    h("h2", {}, `task ${summary.task} · rollout ${summary.rollout ?? "–"}`),
    h("p", { class: "muted" }, `${data.path}:${summary.line}`, " ", siblings),
    h("div", { class: "split" }, conversation, verifyPanel(row, summary, threshold)));
}
