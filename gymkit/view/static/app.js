// The router: one view at a time in <main>, chosen by the URL hash.
import { h, api } from "./dom.js";
import { listView, groupsView, groupView, figuresView, compareView } from "./views.js";
import { rolloutView } from "./rollout.js";

const main = document.getElementById("main");
const status = document.getElementById("status");
let meta = null;
let shown = 0;

async function render() {
  // A render that an earlier hash started may finish after a later one: only the latest may draw.
  const mine = ++shown;
  const [path, query] = (location.hash.slice(2) || "list").split("?");
  const params = new URLSearchParams(query || "");
  const [view, id] = path.split("/");
  for (const a of document.querySelectorAll("#nav a")) a.classList.toggle("active", a.dataset.view === view || (view === "row" && a.dataset.view === "list") || (view === "group" && a.dataset.view === "groups"));
  document.body.dataset.view = view;
  delete document.body.dataset.ready;
  try {
    let node;
    if (view === "row") node = rolloutView(await api(`/api/row/${Number(id)}`), meta.threshold);
    else if (view === "group") node = await groupView(meta, Number(id));
    else if (view === "groups") node = await groupsView(meta, params);
    else if (view === "figures") node = await figuresView(meta, params);
    else if (view === "compare") node = await compareView(meta, params);
    else node = await listView(meta, params);
    if (mine !== shown) return;
    main.replaceChildren(node);
    document.body.dataset.ready = view;
  } catch (err) {
    if (mine !== shown) return;
    main.replaceChildren(h("p", { class: "error" }, `error: ${err.message}`));
  }
  window.scrollTo(0, 0);
}

async function start() {
  meta = await api("/api/meta");
  const rollouts = meta.files.filter((f) => f.kind === "rollouts").length;
  document.getElementById("nav-compare").hidden = rollouts < 2;
  window.addEventListener("hashchange", render);
  render();
  // Rows are indexed while the page is up, then the audit's flags: say how far both have got,
  // and draw the view again once every row is in.
  const poll = async () => {
    const was = meta.done;
    meta = await api("/api/meta");
    document.getElementById("nav-compare").hidden = meta.files.filter((f) => f.kind === "rollouts").length < 2;
    let line = `${meta.rows.toLocaleString()} rows in ${meta.files.length} file(s) · pass at reward ≥ ${meta.threshold}`;
    if (meta.error) line = `error: ${meta.error}`;
    else if (!meta.done) line = `indexing ${Math.round(meta.progress * 100)}% · ${line}`;
    else if (meta.audited < 1) line += ` · audit flags ${Math.round(meta.audited * 100)}%`;
    status.textContent = line;
    status.classList.toggle("error", Boolean(meta.error));
    document.body.dataset.indexed = meta.done ? "yes" : "no";
    if (meta.done && !was) render();
    if (!meta.error && (!meta.done || meta.audited < 1)) setTimeout(poll, meta.done ? 1000 : 500);
  };
  poll();
}

start();
