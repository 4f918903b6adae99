// The scheduler panel: queue, tasks in flight, dispatch latency and each node's breaker and
// load. Re-read from /api/scheduler/stats when a task or breaker event says it changed;
// bursts of events share one request (and at most one more after it).

import { api, coalesced } from "../core/api.js";
import { h, setText } from "../core/dom.js";
import { num } from "../core/store.js";
import { badge, empty, errorBox, gauge, panel, setBadge, table } from "../core/ui.js";


const ms = (x) => (num(x) == null ? "—" : `${x < 10 ? x.toFixed(1) : Math.round(x)} ms`);

function card(label, key) {
  const value = h("span", { className: "big", dataset: { stat: key } }, "—");
  return { el: h("div", { className: "card" }, h("h3", {}, label), value), value };
}

function nodeRow(node) {
  const load = gauge(`${node.name} task slots`, { compact: true });
  const state = badge(node.state);
  const breaker = badge(node.breaker.state, node.breaker.state.replace("_", " "));
  const failures = h("td", { className: "num" });
  const row = h(
    "tr",
    { dataset: { node: node.node_id } },
    h("td", {}, node.name),
    h("td", {}, state),
    h("td", {}, h("span", { dataset: { breaker: node.node_id } }, breaker)),
    h("td", { className: "sched-load" }, load),
    failures,
  );
  row.update = (next) => {
    setBadge(state, next.state);
    setBadge(breaker, next.breaker.state, next.breaker.state.replace("_", " "));
    const used = num(next.running) ?? 0;
    const limit = num(next.limit);
    load.update(limit ? used / limit : null, `${used} / ${limit ?? "?"}`);
    const retry = num(next.breaker.retry_in_s);
    const text = `${next.breaker.consecutive_failures}${retry != null ? ` · retry in ${Math.ceil(retry)}s` : ""}`;
    setText(failures, text);
  };
  row.update(node);
  return row;
}

/** Mounts the panel; answers {el, refresh}. */
export function schedulerPanel(ctx) {
  const cards = [
    card("Queued", "queue_depth"),
    card("In flight", "in_flight"),
    card("Running", "running"),
    card("p50 start", "p50"),
    card("p99 start", "p99"),
  ];
  const nodes = table("Scheduler nodes", ["Node", "State", "Breaker", "Load", { label: "Failures", num: true }]);
  const problem = h("div");
  const samples = h("p", { className: "muted" });
  const el = panel(
    "Scheduler",
    problem,
    h("div", { className: "cards sched-cards" }, ...cards.map((c) => c.el)),
    samples,
    nodes,
  );
  el.dataset.scheduler = "";
  const rows = new Map();

  function show(stats) {
    problem.replaceChildren();
    const values = [stats.queue_depth, stats.in_flight, stats.running];
    values.forEach((v, i) => setText(cards[i].value, num(v) ?? "—"));
    const latency = stats.dispatch_latency_ms ?? {};
    setText(cards[3].value, ms(latency.p50));
    setText(cards[4].value, ms(latency.p99));
    const totals = Object.entries(stats.totals ?? {})
      .filter(([, n]) => num(n))
      .map(([state, n]) => `${n} ${state.replace("_", " ")}`);
    setText(
      samples,
      `Start latency: from placement to the command starting, over the last ${num(latency.samples) ?? 0} dispatches.` +
        (totals.length ? ` Ended since start: ${totals.join(", ")}.` : ""),
    );
    const seen = new Set();
    for (const node of stats.nodes) {
      seen.add(node.node_id);
      const row = rows.get(node.node_id);
      if (row) row.update(node);
      else {
        const fresh = nodeRow(node);
        rows.set(node.node_id, fresh);
        nodes.body.append(fresh);
      }
    }
    for (const [id, row] of rows) {
      if (!seen.has(id)) {
        row.remove();
        rows.delete(id);
      }
    }
    if (!stats.nodes.length) nodes.body.append(h("tr", {}, h("td", { colSpan: 5 }, empty("No nodes."))));
  }

  const refresh = coalesced(async () => {
    try {
      show(await api("/api/scheduler/stats", { signal: ctx.signal }));
    } catch (err) {
      if (err.name === "AbortError") return;
      problem.replaceChildren(errorBox(err, "Scheduler stats could not load"));
    }
  }, ctx.signal);

  ctx.on("scheduler.breaker", () => refresh());
  ctx.on("task", () => refresh());
  ctx.on("stream.resync", () => refresh());
  ctx.onCluster((change) => {
    if (change.kind !== "telemetry") refresh();
  });
  return { el, refresh };
}
