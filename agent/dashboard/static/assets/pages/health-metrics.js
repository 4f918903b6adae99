// Key operational metrics of /api/metrics as small live charts. Counters are drawn as a rate
// per second between two samples, gauges as their value; a metric this agent does not export
// gets no chart. Every family, charted or not, is listed with its current value below.

import { timeChart } from "../core/chart.js";
import { h, setAttr, setText } from "../core/dom.js";
import { errorBox, table } from "../core/ui.js";

const P = "openfabric_";
const isError = (s) => Number(s.labels?.status) >= 400;

// kind: "rate" (a counter, per second), "gauge" (as it is), "mean" (histogram sum / count
// between samples, e.g. a mean latency).
const KEY_METRICS = [
  { id: "http-requests", label: "HTTP requests", family: "http_requests", kind: "rate" },
  { id: "http-errors", label: "HTTP errors (4xx and 5xx)", family: "http_requests", kind: "rate", where: isError, color: "--bad" },
  { id: "http-latency", label: "HTTP mean handling time (ms)", family: "http_request_duration_seconds", kind: "mean", unit: "ms", scale: 1000 },
  { id: "sse-subscribers", label: "Event-stream clients", family: "sse_subscribers", kind: "gauge" },
  { id: "events-published", label: "Events published", family: "events_published", kind: "rate", color: "--violet" },
  { id: "events-dropped", label: "Events dropped (slow clients)", family: "events_dropped", kind: "rate", color: "--warn" },
  { id: "heartbeats", label: "Heartbeats sent", family: "heartbeats_sent", kind: "rate" },
  { id: "peer-connections", label: "Peer connections open", family: "peer_connections", kind: "gauge" },
  { id: "telemetry-samples", label: "Telemetry samples", family: "telemetry_samples", kind: "rate", color: "--ok" },
  { id: "storage-synced", label: "Storage manifests current (1 = yes)", family: "storage_synced", kind: "gauge", max: 1, color: "--ok" },
  { id: "chunks-pinned", label: "Chunks pinned for uploads", family: "storage_chunks_pinned", kind: "gauge" },
  { id: "discovery-agents", label: "Agents seen over mDNS", family: "discovery_agents", kind: "gauge" },
];

const finite = (v) => (typeof v === "number" && Number.isFinite(v) ? v : 0);

/** Sum of a family's plain samples (histograms: their `_sum` and `_count`). */
function read(family, where = () => true) {
  const samples = family.samples.filter(where);
  const total = (suffix) => samples.filter((s) => s.name.endsWith(suffix)).reduce((a, s) => a + finite(s.value), 0);
  if (family.type === "histogram" || family.type === "summary") return { sum: total("_sum"), count: total("_count") };
  return samples.reduce((a, s) => a + finite(s.value), 0);
}

const decimals = (v) => (Math.abs(v) < 10 ? v.toFixed(2) : v.toFixed(0));

/** [axis format, value text]: the axis is narrow, so a unit that does not fit is in the title. */
function formats(metric) {
  if (metric.unit === "ms") return [decimals, (v) => `${decimals(v)} ms`];
  if (metric.kind === "rate") return [(v) => `${decimals(v)}/s`, (v) => `${decimals(v)}/s`];
  const plain = (v) => (Number.isInteger(v) ? String(v) : v.toFixed(2));
  return [plain, plain];
}

function metricCard(metric, signal) {
  const value = h("span", { className: "big metric-value" }, "—");
  const note = h("small", { className: "muted" }, metric.kind === "gauge" ? "now" : "waiting for a second sample…");
  const holder = h("div", { className: "metric-chart", dataset: { metric: metric.id, points: "0" } });
  const card = h("div", { className: "card metric-card" }, h("h3", {}, metric.label), h("div", { className: "metric-now" }, value, note), holder);
  const [format, text] = formats(metric);
  const chart = timeChart(holder, { label: `${metric.label}, last 10 minutes`, series: [{ label: metric.label, color: metric.color }], windowS: 600, max: metric.max ?? null, format, height: 110 });
  signal.addEventListener("abort", () => chart.destroy(), { once: true });
  return {
    card,
    add(ts, v) {
      if (v == null || !Number.isFinite(v)) return;
      chart.push(ts, v);
      setAttr(holder, "data-points", chart.points);
      setText(value, text(v));
      setText(note, metric.kind === "rate" ? "per second, over the last 5 s" : metric.kind === "mean" ? "over the last 5 s" : "now");
    },
  };
}

function valueText(family) {
  const v = read(family);
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : v.toFixed(3);
  return v.count ? `${v.count} observed, mean ${(v.sum / v.count).toPrecision(3)}` : "none observed";
}

/** The panel's content; `update(report)` adds one sample of every metric. */
export function metricsView(signal) {
  const grid = h("div", { className: "metric-grid" });
  const problem = h("div");
  const all = table("Every metric", ["Metric", "Type", { label: "Value", num: true }, "What it counts"]);
  const count = h("span");
  const details = h("details", { className: "all-metrics" }, h("summary", {}, "Every metric this agent exports ", count), all);
  const cards = new Map(); // id -> card
  let last = null; // {at, raw: Map id -> raw}

  function update(report) {
    problem.replaceChildren();
    const at = performance.now();
    const ts = Date.now() / 1000;
    const families = new Map(report.metrics.map((f) => [f.name.replace(/_total$/, ""), f]));
    const raw = new Map();
    for (const metric of KEY_METRICS) {
      const family = families.get(P + metric.family);
      if (!family) continue;
      if (!cards.has(metric.id)) {
        const card = metricCard(metric, signal);
        cards.set(metric.id, card);
        grid.append(card.card);
      }
      raw.set(metric.id, read(family, metric.where));
    }
    const dt = last ? (at - last.at) / 1000 : 0;
    for (const metric of KEY_METRICS) {
      const now = raw.get(metric.id);
      if (now == null) continue;
      const before = last?.raw.get(metric.id);
      let v = null;
      if (metric.kind === "gauge") v = now;
      else if (before != null && dt > 0) {
        // A drop means the agent restarted: no rate across it.
        if (metric.kind === "rate" && now >= before) v = (now - before) / dt;
        if (metric.kind === "mean" && now.count > before.count) v = ((now.sum - before.sum) / (now.count - before.count)) * (metric.scale ?? 1);
      }
      cards.get(metric.id).add(ts, v);
    }
    last = { at, raw };
    setText(count, `(${report.metrics.length})`);
    all.body.replaceChildren(
      ...report.metrics.map((f) =>
        h("tr", { dataset: { family: f.name } }, h("td", { className: "mono" }, f.name), h("td", {}, f.type), h("td", { className: "num" }, valueText(f)), h("td", { className: "muted" }, f.help)),
      ),
    );
  }

  function failed(err) {
    problem.replaceChildren(errorBox(err, "The metrics could not be read"));
  }

  return { el: h("div", {}, problem, grid, details), update, failed };
}
