// Every node is built here from text: row content (model output) only ever lands in
// textContent and attribute values, never in markup.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

const SVG = "http://www.w3.org/2000/svg";

export function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

function setAttrs(el, attrs) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "href" && !String(value).startsWith("#")) throw new Error("only in-page links");
    else el.setAttribute(key, value === true ? "" : String(value));
  }
}

function append(el, children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

// Long text shows its start and a button for the rest, so one 50 kB tool output does not
// bury the conversation around it.
export function fold(text, limit = 800, cls = "text") {
  const full = String(text ?? "");
  const pre = h("pre", { class: cls });
  if (full.length <= limit) {
    pre.textContent = full;
    return pre;
  }
  pre.textContent = full.slice(0, limit) + " …";
  const button = h("button", { class: "fold", type: "button" }, `show all (${full.length.toLocaleString()} characters)`);
  let open = false;
  button.addEventListener("click", () => {
    open = !open;
    pre.textContent = open ? full : full.slice(0, limit) + " …";
    button.textContent = open ? "fold" : `show all (${full.length.toLocaleString()} characters)`;
  });
  return h("div", { class: "folded" }, pre, button);
}

export function pretty(value) {
  if (typeof value === "string") {
    try {
      const parsed = JSON.parse(value);
      if (parsed && typeof parsed === "object") return JSON.stringify(parsed, null, 2);
    } catch {
      return value;
    }
    return value;
  }
  return JSON.stringify(value, null, 2);
}

export function fmt(x, digits = 3) {
  if (x === null || x === undefined) return "–";
  if (typeof x !== "number") return String(x);
  return Number.isInteger(x) ? String(x) : x.toFixed(digits);
}

export function rewardClass(reward, threshold) {
  if (reward === null || reward === undefined) return "r-none";
  if (reward >= threshold) return "r-pass";
  return reward > 0 ? "r-part" : "r-zero";
}

export async function api(path) {
  const response = await fetch(path, { headers: { accept: "application/json" } });
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}
