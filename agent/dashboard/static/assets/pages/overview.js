// The cluster at a glance: pooled totals, Pulse's insight cards, health, a topology of every
// member (cards over a layer of peer links) and the recent events. Everything follows the
// store live: members join (a new card), change state (badge and link style), leave or are
// evicted (card gone). Telemetry only touches the gauges of the member it is about, once per
// frame at most.

import { h, perFrame, setText } from "../core/dom.js";
import { plural } from "../core/format.js";
import * as events from "../core/events.js";
import * as store from "../core/store.js";
import { empty, pageHeader, useStyles } from "../core/ui.js";
import { nodeCard } from "./overview-card.js";
import { eventList, TOPICS } from "./overview-events.js";
import { pooled } from "./overview-figures.js";
import { linkLayer } from "./overview-links.js";
import { healthPanel, totals } from "./overview-summary.js";
import { pulsePanel } from "./pulse-cards.js";

const HEALTH_EVERY_MS = 10000;
// Samples of many members arrive spread over each second. Each frame drawn costs about as
// much as the cards it updates, so cards are drawn in batches at most this often (measured
// by benchmarks/dashboard.py: main-thread time against on-screen delay); a lone sample still
// shows on the next frame.
const BATCH_MS = 160;
const TOTALS_MS = 1000;

/** perFrame, but at most once per `ms`: a call waits for the rest of the interval. */
function batched(fn, ms) {
  const frame = perFrame(() => {
    last = performance.now();
    fn();
  });
  let last = -Infinity;
  let timer = null;
  const call = () => {
    if (timer) return;
    const wait = last + ms - performance.now();
    if (wait <= 0) return frame();
    timer = setTimeout(() => {
      timer = null;
      frame();
    }, wait);
  };
  call.cancel = () => clearTimeout(timer);
  return call;
}

function subtitle() {
  const status = store.cluster.status;
  const count = store.cluster.nodes.size;
  if (!status?.in_cluster) return "This node is on its own: no cluster yet.";
  return `Cluster ${String(status.cluster_id ?? "").slice(0, 8)} · ${plural(count, "member")}`;
}

export default {
  async mount(view, ctx) {
    useStyles("/assets/pages/overview.css");
    if (!store.cluster.loaded) await store.reload();

    const head = pageHeader("Overview", { sub: subtitle() });
    const sub = head.querySelector("p.muted");
    const sums = totals();
    const pulse = pulsePanel(ctx);
    const health = healthPanel(ctx.signal);
    const hub = h("div", { className: "topo-hub" });
    const others = h("div", { className: "topo-members" });
    const alone = empty("No other members. Invite a node from the Cluster page to pool its resources.");
    const stage = h("div", { className: "topo-stage", dataset: { topology: "" } }, hub, others);
    const recent = eventList();
    view.append(
      head,
      sums.el,
      pulse.el,
      h("div", { className: "overview-grid" },
        h("section", { className: "panel topo", "aria-labelledby": "topo-title" }, h("h2", { id: "topo-title" }, "Topology"), stage, alone),
        h("div", { className: "overview-side" },
          health.el,
          h("section", { className: "panel", "aria-labelledby": "events-title" }, h("h2", { id: "events-title" }, "Recent events"), recent.el),
        ),
      ),
    );

    const links = linkLayer(stage);
    ctx.onCleanup(() => links.destroy());
    const cards = new Map(); // node_id -> card element

    // Membership or liveness changed: add and remove cards, move states to badges and links.
    const reconcile = () => {
      const members = store.members();
      const ids = new Set(members.map((n) => n.node_id));
      for (const [id, card] of cards) {
        if (ids.has(id)) continue;
        card.remove();
        cards.delete(id);
      }
      let hubCard = null;
      const remotes = [];
      for (const node of members) {
        let card = cards.get(node.node_id);
        if (!card) {
          card = nodeCard(node);
          cards.set(node.node_id, card);
        } else {
          card.setInfo(node);
          card.update(node);
        }
        const parent = node.is_self ? hub : others;
        if (card.parentElement !== parent) parent.append(card);
        if (node.is_self) hubCard = card;
        else remotes.push({ id: node.node_id, card, state: node.state });
      }
      // Keep the display order (this node, then by name) without re-appending every card.
      remotes.forEach(({ card }, i) => {
        if (others.children[i] !== card) others.insertBefore(card, others.children[i] ?? null);
      });
      alone.hidden = remotes.length > 0;
      others.hidden = remotes.length === 0;
      links.sync(hubCard, remotes);
      sums.update(pooled(members));
      setText(sub, subtitle());
    };

    const dirty = new Set();
    // Pooled totals move with every member's sample but are read, not watched: once a second.
    const flushTotals = batched(() => sums.update(pooled(store.members())), TOTALS_MS);
    const flush = batched(() => {
      for (const id of dirty) {
        const node = store.cluster.nodes.get(id);
        if (node) cards.get(id)?.update(node);
      }
      dirty.clear();
      flushTotals();
    }, BATCH_MS);
    ctx.onCleanup(() => {
      flush.cancel();
      flushTotals.cancel();
      dirty.clear();
    });

    ctx.onCluster((change) => {
      if (change.kind === "telemetry") {
        dirty.add(change.nodeId);
        flush();
      } else if (change.kind === "state") {
        const node = store.cluster.nodes.get(change.nodeId);
        if (!node) return;
        cards.get(change.nodeId)?.setState(node.state);
        links.setState(change.nodeId, node.state);
        sums.update(pooled(store.members()));
      } else {
        reconcile();
      }
    });
    reconcile();

    // Recent events: live ones as they come, then what the agent still holds from before.
    for (const topic of TOPICS) ctx.on(topic, (data, name, id) => recent.add(name, data, id));
    const loadRecent = async () => {
      try {
        recent.fill(await events.recent(TOPICS, 30));
      } catch (err) {
        if (err.name !== "AbortError" && err.status !== 401) recent.fail(`Recent events could not be read: ${err.message}`);
      }
    };
    ctx.on("stream.resync", () => {
      loadRecent();
      health.refresh();
    });
    loadRecent();

    pulse.load();
    health.refresh();
    ctx.every(HEALTH_EVERY_MS, () => health.refresh());
  },
};
