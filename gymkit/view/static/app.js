// The router: one view at a time in <main>, chosen by the URL hash.
import { h, api } from "./dom.js";
import { listView, groupsView, groupView, figuresView, compareView } from "./views.js";
import { rolloutView } from "./rollout.js";

const main = document.getElementById("main");
const status = document.getElementById("status");
let meta = null;

async function render() {
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
    main.replaceChildren(node);
    document.body.dataset.ready = view;
  } catch (err) {
    main.replaceChildren(h("p", { class: "error" }, `error: ${err.message}`));
  }
  window.scrollTo(0, 0);
}

async function start() {
  meta = await api("/api/meta");
  const rollouts = meta.files.filter((f) => f.kind === "rollouts").length;
  document.getElementById("nav-compare").hidden = rollouts < 2;
  status.textContent = `${meta.rows.toLocaleString()} rows in ${meta.files.length} file(s) · pass at reward ≥ ${meta.threshold}`;
  window.addEventListener("hashchange", render);
  render();
}

start();
