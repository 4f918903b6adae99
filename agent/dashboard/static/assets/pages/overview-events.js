// The overview's recent events: what the agent's replay ring still holds for the topics that
// matter to a person (membership, liveness, tasks, storage, models, scheduler), then the live
// ones prepended as they come. Telemetry and heartbeats are left out: they are many per second.
//
// Payloads are data from this node or peers: each line is built as text, never as markup.

import { h, setText } from "../core/dom.js";
import { bytes, shortId, time } from "../core/format.js";
import { cluster, num } from "../core/store.js";
import { empty } from "../core/ui.js";

export const TOPICS = ["node.joined", "node.online", "node.suspect", "node.offline", "node.left", "node.evicted", "task", "storage", "llm", "scheduler"];
const KEEP = 30;

const str = (x, fallback = "?") => (typeof x === "string" && x ? x : fallback);
const clip = (text, n = 48) => (text.length > n ? `${text.slice(0, n - 1)}…` : text);

function nodeName(id, fallback) {
  if (typeof fallback === "string" && fallback) return fallback;
  return cluster.nodes.get(id)?.name ?? (id ? `node ${shortId(id)}` : "no node");
}

const TASK_VERB = {
  queued: "was queued",
  scheduled: "was placed",
  running: "started",
  succeeded: "succeeded",
  failed: "failed",
  timed_out: "timed out",
  lost: "was lost",
  cancelled: "was cancelled",
};

function taskSentence(kind, d) {
  const what = `Task ${shortId(d.task_id)} “${clip(str(d.command, "?"))}”`;
  const on = d.node_id ? ` on ${nodeName(d.node_id)}` : "";
  const exit = kind === "failed" && num(d.exit_code) != null ? ` (exit ${d.exit_code})` : "";
  const why = (kind === "failed" || kind === "lost") && typeof d.error === "string" && d.error ? `: ${clip(d.error, 60)}` : "";
  return `${what} ${TASK_VERB[kind] ?? kind}${on}${exit}${why}`;
}

/** A short sentence for a person, from the topic and its payload. */
export function sentence(topic, data) {
  const d = data && typeof data === "object" ? data : {};
  const [family, kind, sub] = topic.split(".");
  const who = d.self === true ? "This node" : nodeName(d.node_id, d.name);
  switch (family === "node" ? kind : family) {
    case "joined":
      return `${who} joined the cluster`;
    case "online":
      return `${who} is online`;
    case "suspect":
      return `${who} stopped answering (suspect)`;
    case "offline":
      return `${who} is offline`;
    case "left":
      return `${who} left the cluster`;
    case "evicted":
      return `${who} was evicted`;
    case "task":
      return taskSentence(kind, d);
    case "storage": {
      const path = str(d.path, "a file");
      if (kind === "uploaded") return `${path} stored (${bytes(num(d.size))})`;
      if (kind === "deleted") return `${path} deleted`;
      if (kind === "degraded") return `${path} is missing copies`;
      if (kind === "healthy") return `${path} has all its copies again`;
      if (kind === "replicated") return `A chunk of ${path} was copied to ${nodeName(d.node_id)}`;
      if (kind === "repaired") return `Chunk ${shortId(d.chunk)} was restored on this node`;
      return `Storage: ${kind}`;
    }
    case "llm":
      if (kind === "backend") return d.up ? "Ollama on this node is up" : `Ollama on this node is down${d.reason ? `: ${clip(String(d.reason), 60)}` : ""}`;
      if (kind === "model" && sub === "pulled") return `Model ${str(d.model)} is on ${nodeName(d.node_id)}`;
      if (kind === "model" && sub === "deleted") return `Model ${str(d.model)} was removed from this node`;
      return `LLM: ${topic.slice(4)}`;
    case "scheduler":
      if (kind === "breaker") return `Circuit breaker for ${nodeName(d.node_id)}: ${str(d.from)} → ${str(d.to)}`;
      return `Scheduler: ${kind}`;
    default:
      return topic;
  }
}

/** When it happened, where the payload says so (replayed events carry no time of their own). */
function whenOf(topic, data) {
  if (!data) return null;
  if (topic.startsWith("node.")) return num(data.at);
  if (!topic.startsWith("task.")) return null;
  return num(data.ended_at) ?? num(data.started_at) ?? num(data.scheduled_at) ?? num(data.submitted_at);
}

export function eventList() {
  const list = h("ol", { className: "events", dataset: { events: "" }, "aria-label": "Recent events" });
  const none = empty("No events yet.");
  const el = h("div", { className: "events-box" }, none, list);
  let shown = []; // [{id, li}], newest first; ids are the bus's sequence numbers

  const line = (topic, data, id, ts) =>
    h(
      "li",
      { dataset: { topic, eventId: String(id ?? "") } },
      h("time", { className: "muted", title: ts ? "" : "time not recorded" }, ts ? time(ts) : "earlier"),
      h("code", { className: "ev-topic" }, topic),
      h("span", { className: "ev-text" }, sentence(topic, data)),
    );

  const render = () => {
    shown.sort((a, b) => b.id - a.id);
    shown = shown.slice(0, KEEP);
    list.replaceChildren(...shown.map((e) => e.li));
    none.hidden = shown.length > 0;
  };
  const has = (id) => shown.some((e) => e.id === id);
  const seq = (id) => (id == null || id === "" ? null : Number(id));

  return {
    el,
    /** A live event: shown first, with the time it arrived. */
    add(topic, data, id) {
      const n = seq(id) ?? (shown[0]?.id ?? 0) + 1;
      if (has(n)) return;
      const entry = { id: n, li: line(topic, data, n, Date.now() / 1000) };
      shown.unshift(entry);
      list.prepend(entry.li);
      if (shown.length > KEEP) shown.pop().li.remove();
      none.hidden = true;
    },
    /** Replayed events (oldest first), merged with what is shown, in order. */
    fill(found) {
      for (const ev of found) {
        const n = seq(ev.id);
        if (n == null || has(n)) continue;
        shown.push({ id: n, li: line(ev.topic, ev.data, n, whenOf(ev.topic, ev.data)) });
      }
      render();
    },
    fail(message) {
      setText(none, message);
      none.hidden = shown.length > 0;
    },
  };
}
