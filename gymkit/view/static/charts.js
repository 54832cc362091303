// The profile's figures redrawn as SVG from the index, so every bar, point and cell is a
// link to the rollouts behind it.
import { s, fmt } from "./dom.js";

const W = 560, H = 240, PAD = { l: 48, r: 16, t: 16, b: 40 };

function axes(svg, xLabel, yLabel) {
  svg.append(
    s("line", { x1: PAD.l, y1: H - PAD.b, x2: W - PAD.r, y2: H - PAD.b, class: "axis" }),
    s("line", { x1: PAD.l, y1: PAD.t, x2: PAD.l, y2: H - PAD.b, class: "axis" }),
    s("text", { x: (W + PAD.l) / 2, y: H - 6, class: "label", "text-anchor": "middle" }, xLabel),
    s("text", { x: 12, y: H / 2, class: "label", "text-anchor": "middle", transform: `rotate(-90 12 ${H / 2})` }, yLabel),
  );
}

function frame(title) {
  return s("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-label": title });
}

export function histogram(data, onBar) {
  const svg = frame("reward histogram");
  axes(svg, "reward", "rollouts");
  const { edges, counts } = data;
  const max = Math.max(1, ...counts);
  const bw = (W - PAD.l - PAD.r) / counts.length;
  counts.forEach((count, i) => {
    const bh = ((H - PAD.t - PAD.b) * count) / max;
    const x = PAD.l + i * bw;
    const label = `${fmt(edges[i], 2)}–${fmt(edges[i + 1], 2)}: ${count} rollouts`;
    // The bar is drawn; the whole column above it is what takes the click, so a short bar is easy to hit.
    svg.append(
      s("rect", { x: x + 1, y: H - PAD.b - bh, width: bw - 2, height: Math.max(bh, count ? 1 : 0), class: "bar" }),
      s("rect", { x: x + 1, y: PAD.t, width: bw - 2, height: H - PAD.t - PAD.b, class: "hit", tabindex: 0,
        "data-bin": i, onclick: () => onBar(i) }, s("title", {}, label)),
    );
    if (count) svg.append(s("text", { x: x + bw / 2, y: H - PAD.b - bh - 3, class: "count", "text-anchor": "middle" }, count));
    if (i % 2 === 0 || counts.length <= 10)
      svg.append(s("text", { x, y: H - PAD.b + 14, class: "tick", "text-anchor": "middle" }, fmt(edges[i], 2)));
  });
  svg.append(s("text", { x: W - PAD.r, y: H - PAD.b + 14, class: "tick", "text-anchor": "end" }, fmt(edges.at(-1), 2)));
  return svg;
}

export function passAtK(points, onPoint) {
  const svg = frame("pass@k");
  axes(svg, "k (samples per prompt)", "pass@k");
  if (!points.length) return svg;
  const x = (i) => PAD.l + 20 + (i * (W - PAD.l - PAD.r - 40)) / Math.max(1, points.length - 1);
  const y = (v) => H - PAD.b - v * (H - PAD.t - PAD.b);
  const path = points.map((p, i) => `${i ? "L" : "M"}${x(i)},${y(p.value)}`).join(" ");
  svg.append(s("path", { d: path, class: "line" }));
  points.forEach((p, i) => {
    svg.append(
      s("circle", { cx: x(i), cy: y(p.value), r: 7, class: "point", tabindex: 0, "data-k": p.k, onclick: () => onPoint(p.k) },
        s("title", {}, `pass@${p.k} = ${fmt(p.value)}: click for the prompts below 1`)),
      s("text", { x: x(i), y: H - PAD.b + 14, class: "tick", "text-anchor": "middle" }, p.k),
      s("text", { x: x(i), y: y(p.value) - 10, class: "count", "text-anchor": "middle" }, fmt(p.value, 2)),
    );
  });
  for (const v of [0, 0.5, 1])
    svg.append(s("text", { x: PAD.l - 4, y: y(v) + 4, class: "tick", "text-anchor": "end" }, v));
  return svg;
}

export function callsVsReward(data, onCell) {
  const svg = frame("tool calls against reward");
  axes(svg, "reward", "tool calls");
  const rows = data.max_calls + 1, cols = data.edges.length - 1;
  const cw = (W - PAD.l - PAD.r) / cols, ch = (H - PAD.t - PAD.b) / rows;
  const max = Math.max(1, ...data.cells.map((c) => c.count));
  for (const cell of data.cells) {
    const x = PAD.l + cell.bin * cw, y = H - PAD.b - (cell.calls + 1) * ch;
    const label = `${cell.calls}${cell.calls === 8 ? "+" : ""} calls, reward ${fmt(data.edges[cell.bin], 2)}–${fmt(data.edges[cell.bin + 1], 2)}: ${cell.count}`;
    svg.append(s("rect", {
      x: x + 1, y: y + 1, width: cw - 2, height: ch - 2, class: cell.count ? "cell" : "cell empty",
      "fill-opacity": cell.count ? 0.15 + (0.85 * cell.count) / max : 1, tabindex: cell.count ? 0 : -1,
      "data-calls": cell.calls, "data-bin": cell.bin, onclick: () => cell.count && onCell(cell),
    }, s("title", {}, label)));
    if (cell.count) svg.append(s("text", { x: x + cw / 2, y: y + ch / 2 + 4, class: "count", "text-anchor": "middle" }, cell.count));
  }
  for (let c = 0; c < rows; c++)
    svg.append(s("text", { x: PAD.l - 4, y: H - PAD.b - c * ch - ch / 2 + 4, class: "tick", "text-anchor": "end" }, c === 8 ? "8+" : c));
  return svg;
}
