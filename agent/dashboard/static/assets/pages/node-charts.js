// A node's last 20 minutes as charts: CPU, memory, storage, disk I/O and network. History
// comes from GET /api/nodes/{id}/telemetry (held for this node only); live samples continue
// it. Each chart's box carries data-points (how many samples it holds) for tests and tools.

import { timeChart } from "../core/chart.js";
import { h, setAttr } from "../core/dom.js";
import { num } from "../core/store.js";
import { list, obj } from "./overview-figures.js";

export const WINDOW_S = 1200;

const percent = (v) => `${Math.round(v)}%`;
// Axis labels have little room: "9.1M" rather than "9.1 MiB/s" (the title gives the unit).
const SHORT = ["B", "K", "M", "G", "T", "P"];
function shortRate(v) {
  if (v == null || !Number.isFinite(v)) return "";
  let [x, i] = [Math.abs(v), 0];
  for (; x >= 1024 && i < SHORT.length - 1; i += 1) x /= 1024;
  const digits = x === 0 || (i === 0 && x >= 1) || x >= 10 ? 0 : 1;
  return `${x.toFixed(digits)}${SHORT[i]}`;
}
const share100 = (used, total) => (num(used) != null && num(total) ? (num(used) / num(total)) * 100 : null);

function total(items, key) {
  let sum = null;
  for (const item of items) {
    const n = num(item[key]);
    if (n != null) sum = (sum ?? 0) + n;
  }
  return sum;
}

// key, title, series, scale and the values of one sample
const CHARTS = [
  { key: "cpu", title: "CPU", series: [{ label: "CPU" }], max: 100, format: percent, values: (s) => [num(obj(s.cpu)?.percent)] },
  {
    key: "memory",
    title: "Memory",
    series: [{ label: "Memory" }, { label: "Swap", color: "--violet" }],
    max: 100,
    format: percent,
    values: (s) => [num(obj(s.memory)?.percent) ?? share100(obj(s.memory)?.used, obj(s.memory)?.total), num(obj(s.swap)?.percent)],
  },
  { key: "storage", title: "Storage used", series: [{ label: "Storage" }], max: 100, format: percent, values: (s) => [share100(obj(s.storage)?.used, obj(s.storage)?.total)] },
  {
    key: "disk_io",
    title: "Disk I/O (bytes/s)",
    series: [{ label: "Read" }, { label: "Write", color: "--warn" }],
    format: shortRate,
    values: (s) => [num(obj(s.disk_io)?.read_bytes_per_s), num(obj(s.disk_io)?.write_bytes_per_s)],
  },
  {
    key: "network",
    title: "Network, all interfaces (bytes/s)",
    series: [{ label: "Receive" }, { label: "Send", color: "--violet" }],
    format: shortRate,
    values: (s) => [total(list(s.network), "rx_bytes_per_s"), total(list(s.network), "tx_bytes_per_s")],
  },
];

export function nodeCharts(grid) {
  const charts = CHARTS.map((spec) => {
    const box = h("figure", { className: "node-chart", dataset: { chart: spec.key, points: "0" } }, h("figcaption", {}, spec.title));
    grid.append(box);
    const chart = timeChart(box, { label: `${spec.title}, last 20 minutes`, series: spec.series, windowS: WINDOW_S, max: spec.max ?? null, format: spec.format, height: 150 });
    return { spec, box, chart };
  });
  let lastTs = null;

  const counted = () => {
    for (const { box, chart } of charts) setAttr(box, "data-points", chart.points);
  };

  return {
    /** Samples oldest first (a history answer). Replaces what the charts show. */
    load(samples) {
      const usable = samples.filter((s) => obj(s) && num(s.ts) != null).sort((a, b) => a.ts - b.ts);
      for (const { spec, chart } of charts) {
        const cols = [usable.map((s) => s.ts), ...spec.series.map(() => [])];
        for (const s of usable) spec.values(s).forEach((v, i) => cols[i + 1].push(v));
        chart.setData(cols);
      }
      lastTs = usable.length ? usable[usable.length - 1].ts : lastTs;
      counted();
    },
    /** Newer samples, oldest first; older or repeated ones are skipped. */
    push(samples) {
      for (const s of samples) {
        const ts = num(obj(s)?.ts);
        if (ts == null || (lastTs != null && ts <= lastTs)) continue;
        lastTs = ts;
        for (const { spec, chart } of charts) chart.push(ts, ...spec.values(s));
      }
      counted();
    },
    destroy() {
      for (const { chart } of charts) chart.destroy();
    },
  };
}
