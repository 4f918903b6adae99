// The cluster as the dashboard knows it: /api/status and /api/nodes, kept current from the
// event stream (node.* for membership and liveness, node.telemetry for this node's samples,
// node.heartbeat for the other members'). Pages read `cluster` and listen with onCluster.
//
// Samples from other members are what their heartbeats carried: numbers are checked before
// use (see `num`), and everything reaches the page as text, never as markup.

import { api, coalesced } from "./api.js";
import * as events from "./events.js";

export const cluster = { status: null, nodes: new Map(), selfId: null, loaded: false };

const listeners = new Set();

/** fn(change) with change.kind: "loaded" | "state" | "telemetry", and change.nodeId. */
export function onCluster(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function notify(change) {
  for (const fn of listeners) {
    try {
      fn(change);
    } catch (err) {
      console.error("cluster listener failed", err);
    }
  }
}

/** A finite number or null: member samples are claims, not facts. */
export const num = (x) => (typeof x === "number" && Number.isFinite(x) ? x : null);

/** Reloads status and members; concurrent calls share one request (and one more after it). */
export const reload = coalesced(async () => {
  const [status, list] = await Promise.all([api("/api/status"), api("/api/nodes")]);
  cluster.status = status;
  cluster.selfId = status.node_id;
  const next = new Map();
  for (const node of list.nodes) next.set(node.node_id, node);
  cluster.nodes = next;
  cluster.loaded = true;
  notify({ kind: "loaded" });
});

function onSample(nodeId, sample, lastSeen) {
  const node = cluster.nodes.get(nodeId);
  if (!node || !sample || typeof sample !== "object") return;
  node.telemetry = sample;
  node.last_seen = lastSeen;
  notify({ kind: "telemetry", nodeId });
}

function onChange(change, topic) {
  const node = cluster.nodes.get(change.node_id);
  if (topic === "node.online" || topic === "node.suspect" || topic === "node.offline") {
    if (node) {
      node.state = change.state;
      notify({ kind: "state", nodeId: change.node_id, topic });
    }
    // Pooled totals count online members only.
    reload().catch(() => {});
    return;
  }
  // joined, left, evicted: the member list itself changed.
  reload().catch(() => {});
}

let started = false;

export function start() {
  if (started) return;
  started = true;
  events.on("node.telemetry", (s) => onSample(s.node_id, s, num(s.ts)));
  events.on("node.heartbeat", (m) => onSample(m.node_id, m.telemetry, num(m.last_seen)));
  for (const topic of ["joined", "online", "suspect", "offline", "left", "evicted"]) {
    events.on(`node.${topic}`, (change, name) => onChange(change, name));
  }
  events.on("stream.resync", () => reload().catch(() => {}));
}

/** Members sorted for display: this node first, then by name. */
export function members() {
  return [...cluster.nodes.values()].sort(
    (a, b) => Number(b.is_self) - Number(a.is_self) || a.name.localeCompare(b.name),
  );
}

export const self = () => cluster.nodes.get(cluster.selfId) ?? null;
