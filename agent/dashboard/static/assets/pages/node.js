// One member: its hardware and OS, live gauges and 20-minute charts. The charts start from
// GET /api/nodes/{id}/telemetry (for another member the agent asks that member) and go on
// from live samples; a member that cannot answer gets charts from its live samples only.

import { api } from "../core/api.js";
import { h, perFrame, setText } from "../core/dom.js";
import { bytes, pct, time } from "../core/format.js";
import * as store from "../core/store.js";
import { badge, errorBox, gauge, pageHeader, setBadge, useStyles } from "../core/ui.js";
import { nodeCharts, WINDOW_S } from "./node-charts.js";
import { nodeFacts } from "./node-facts.js";
import { figures, obj, share } from "./overview-figures.js";

const pair = (used, total) => (used != null && total != null ? `${bytes(used)} / ${bytes(total)}` : "—");

function missing(view, id) {
  view.append(
    pageHeader("No such node"),
    h(
      "section",
      { className: "panel warn", role: "alert", dataset: { missing: "" } },
      h("strong", {}, "No such node"),
      h("p", {}, `No member of this cluster has the id “${id}”. It may have left or been evicted. `, h("a", { href: "/" }, "Back to the overview"), "."),
    ),
  );
}

/** The last WINDOW_S of samples; an agent that keeps less (a shorter telemetry_window) refuses
 * that many seconds, and then everything it holds is what there is. */
async function readHistory(path, signal) {
  try {
    return await api(`${path}/telemetry`, { query: { seconds: WINDOW_S }, signal });
  } catch (err) {
    if (err.status !== 400) throw err;
    return api(`${path}/telemetry`, { signal });
  }
}

function liveGauges() {
  const g = { cpu: gauge("CPU"), memory: gauge("Memory"), swap: gauge("Swap"), disk: gauge("Disk") };
  for (const [key, el] of Object.entries(g)) el.querySelector(".gauge-value").dataset.field = key;
  const stamp = h("p", { className: "muted", dataset: { field: "sample-time" } }, "No sample yet.");
  const el = h("div", { className: "node-gauges" }, ...Object.values(g), stamp);
  const update = (node) => {
    const t = obj(node.telemetry);
    const f = figures(node);
    g.cpu.update(f.cpu == null ? null : f.cpu / 100, pct(f.cpu));
    g.memory.update(share(f.ramUsed, f.ramTotal), pair(f.ramUsed, f.ramTotal));
    const swap = obj(t?.swap);
    const swapUsed = store.num(swap?.used);
    const swapTotal = store.num(swap?.total);
    if (swapTotal === 0) g.swap.update(0, "none");
    else g.swap.update(share(swapUsed, swapTotal), pair(swapUsed, swapTotal));
    g.disk.update(share(f.diskUsed, f.diskTotal), pair(f.diskUsed, f.diskTotal));
    if (f.ts != null) setText(stamp, `Sample of ${time(f.ts)}`);
  };
  return { el, update };
}

export default {
  async mount(view, ctx) {
    useStyles("/assets/pages/node.css");
    const id = ctx.params.id;
    const path = `/api/nodes/${encodeURIComponent(id)}`;
    let node;
    try {
      node = await api(path, { signal: ctx.signal });
    } catch (err) {
      if (err.status === 404) return missing(view, id);
      throw err;
    }

    const state = badge(node.state, node.state);
    state.dataset.field = "state";
    const head = pageHeader(node.name, { sub: node.is_self ? "This node" : `Member of this cluster`, actions: [state] });
    const gone = h("div", { className: "panel warn", role: "status", hidden: true, dataset: { gone: "" } }, h("strong", {}, "No longer a member"), h("p", {}, "This node left the cluster or was evicted; what is shown is its last state."));
    const gauges = liveGauges();
    const chartGrid = h("div", { className: "node-charts" });
    const chartNote = h("p", { className: "muted chart-note", dataset: { field: "history" } });
    const factsPanel = h("section", { className: "panel", "aria-labelledby": "node-facts-title" }, h("h2", { id: "node-facts-title" }, "Hardware and system"));
    view.append(
      head,
      gone,
      h("section", { className: "panel", "aria-labelledby": "node-live-title" }, h("h2", { id: "node-live-title" }, "Now"), gauges.el),
      h("section", { className: "panel", "aria-labelledby": "node-charts-title" }, h("h2", { id: "node-charts-title" }, "Last 20 minutes"), chartNote, chartGrid),
      factsPanel,
    );

    const facts = nodeFacts(factsPanel);
    const charts = nodeCharts(chartGrid);
    ctx.onCleanup(() => charts.destroy());
    facts.setNode(node);
    facts.setSample(node.telemetry);
    gauges.update(node);

    // Live samples wait here until the history is in, then go out once per frame.
    const pending = [];
    let ready = false;
    let latest = node;
    const flush = perFrame(() => {
      if (!ready) return;
      charts.push(pending.splice(0));
      gauges.update(latest);
      facts.setSample(latest.telemetry);
    });
    ctx.onCluster((change) => {
      const current = store.cluster.nodes.get(id);
      if (change.kind === "telemetry" && change.nodeId === id && current) {
        latest = current;
        pending.push(current.telemetry);
        flush();
      } else if (change.kind === "state" && change.nodeId === id && current) {
        setBadge(state, current.state, current.state);
      } else if (change.kind === "loaded") {
        gone.hidden = Boolean(current);
        if (!current) return setBadge(state, "offline", "gone");
        latest = current;
        setBadge(state, current.state, current.state);
        facts.setNode(current);
      }
    });

    const loadHistory = async () => {
      try {
        const history = await readHistory(path, ctx.signal);
        charts.load(Array.isArray(history?.samples) ? history.samples : []);
        const whose = node.is_self ? "this node's" : `${node.name}'s`;
        setText(chartNote, `${history?.count ?? 0} samples from ${whose} history, then live.`);
      } catch (err) {
        if (err.name === "AbortError") throw err;
        charts.load(node.telemetry ? [node.telemetry] : []);
        chartNote.replaceChildren(errorBox(err, "The history could not be read; the charts show live samples only"));
      }
    };
    await loadHistory();
    ready = true;
    flush();
    // After a reconnect the stream may have missed samples: the history fills the gap.
    ctx.on("stream.resync", () => {
      loadHistory().then(flush, () => {});
    });
  },
};
