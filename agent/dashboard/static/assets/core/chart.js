// Time-series charts on uPlot (vendored, see ../vendor/README.md), themed from CSS variables
// and sized to their container. A chart keeps a sliding window and accepts live points.

import uPlot from "../vendor/uplot-1.6.32/uPlot.esm.js";
import { h } from "./dom.js";

const PALETTE = ["--accent", "--ok", "--warn", "--bad", "--violet"];

function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || "#888";
}

/**
 * timeChart(container, {label, series: [{label, color?}], windowS, max?, format})
 * answers {setData(points), push(ts, ...values), destroy()} where points are
 * [[ts...], [series0...], ...] in Unix seconds.
 */
export function timeChart(container, { label, series, windowS = 1200, max = null, format = (v) => String(v), height = 160 }) {
  const box = h("div", { className: "chart", role: "img", "aria-label": label });
  container.append(box);
  let data = [[], ...series.map(() => [])];
  let plot = null;

  const build = () => {
    plot?.destroy();
    const width = Math.max(160, Math.floor(box.clientWidth || container.clientWidth || 300));
    const grid = { stroke: cssVar("--grid"), width: 1 };
    const axis = { stroke: cssVar("--muted"), grid, ticks: { stroke: cssVar("--grid") }, font: "11px system-ui, sans-serif" };
    plot = new uPlot(
      {
        width,
        height,
        legend: { show: series.length > 1, live: false },
        cursor: { drag: { x: false, y: false } },
        // A fixed window ending at the newest point: a chart with few points still reads as
        // "the last N minutes" rather than stretching them over the width.
        scales: { x: { time: true, range: (u, lo, hi) => [hi - windowS, hi] }, y: { range: (u, lo, hi) => [0, max ?? Math.max(1, hi * 1.1)] } },
        axes: [{ ...axis }, { ...axis, size: 56, values: (u, ticks) => ticks.map(format) }],
        series: [
          {},
          ...series.map((s, i) => {
            const color = cssVar(s.color ?? PALETTE[i % PALETTE.length]);
            return { label: s.label, stroke: color, width: 1.5, fill: series.length === 1 ? `${color}22` : undefined, value: (u, v) => (v == null ? "—" : format(v)) };
          }),
        ],
      },
      data,
      box,
    );
  };

  const trim = () => {
    const xs = data[0];
    if (!xs.length) return;
    const cutoff = xs[xs.length - 1] - windowS;
    let drop = 0;
    while (drop < xs.length && xs[drop] < cutoff) drop += 1;
    if (drop) data = data.map((col) => col.slice(drop));
  };

  build();
  const resize = new ResizeObserver(() => {
    const width = Math.floor(box.clientWidth);
    if (plot && width > 0 && Math.abs(width - plot.width) > 1) plot.setSize({ width, height });
  });
  resize.observe(box);
  const theme = () => build();
  document.addEventListener("themechange", theme);

  return {
    setData(points) {
      data = points.map((col) => [...col]);
      trim();
      plot.setData(data);
    },
    push(ts, ...values) {
      const xs = data[0];
      if (xs.length && ts <= xs[xs.length - 1]) return;
      data[0].push(ts);
      values.forEach((v, i) => data[i + 1].push(v ?? null));
      trim();
      plot.setData(data);
    },
    get points() {
      return data[0].length;
    },
    destroy() {
      resize.disconnect();
      document.removeEventListener("themechange", theme);
      plot?.destroy();
      box.remove();
    },
  };
}
