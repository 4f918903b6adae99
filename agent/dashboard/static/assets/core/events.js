// The app's one connection to the agent's event bus (GET /api/events, every topic).
//
// It is read with fetch rather than EventSource so that a 401 is seen (and sign-in shown)
// instead of being retried forever. After a drop it reconnects with backoff and sends
// Last-Event-ID, so the agent replays what was missed; when it could not (`stream.gap`) or the
// connection was down, listeners of "stream.resync" are told to reload what they show.
//
// A stream can also die silently (a laptop that slept, a frozen agent, a changed network):
// the agent sends telemetry every second and keep-alives, so a stream with no bytes for much
// longer than the longest gap seen so far is treated as dropped.
//
// States: "connecting" (first attempt), "live", "reconnecting", "signed-out".

import { readEvents, request } from "./api.js";

const handlers = new Set(); // {prefix, fn}
const statusHandlers = new Set();
let state = "connecting";
let lastId = null;
let controller = null;
let running = false;
let hadDrop = false;

const RETRY_FIRST_MS = 500;
const RETRY_MAX_MS = 8000;
const STALE_MIN_MS = 5000;
const STALE_MAX_MS = 60000;
let longestGapMs = 0;

const matches = (prefix, topic) =>
  prefix === "*" || topic === prefix || topic.startsWith(`${prefix}.`);

/** fn(data, topic, id) for every event whose topic is `prefix` or below it ("*": all). */
export function on(prefix, fn) {
  const entry = { prefix, fn };
  handlers.add(entry);
  return () => handlers.delete(entry);
}

/** fn(state) now and on every change of the connection's state. */
export function onStatus(fn) {
  statusHandlers.add(fn);
  fn(state);
  return () => statusHandlers.delete(fn);
}

export const status = () => state;

function setState(next) {
  if (state === next) return;
  state = next;
  document.documentElement.dataset.stream = next;
  statusHandlers.forEach((fn) => fn(next));
}

function dispatch(topic, data, id) {
  for (const { prefix, fn } of handlers) {
    if (!matches(prefix, topic)) continue;
    try {
      fn(data, topic, id);
    } catch (err) {
      // One page's bug must not stop the stream for the others.
      console.error(`handler for ${topic} failed`, err);
    }
  }
}

const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Aborts the connection when it has been silent too long; answers the stop function. */
function watchdog(ctl) {
  let last = performance.now();
  const staleMs = () => Math.min(STALE_MAX_MS, Math.max(STALE_MIN_MS, 3 * longestGapMs));
  const timer = setInterval(() => {
    if (performance.now() - last > staleMs()) {
      ctl.stale = true;
      ctl.abort();
    }
  }, 1000);
  let streaming = false;
  const bytes = () => {
    const now = performance.now();
    // Gaps between chunks only: how long the agent took to answer says nothing of its pace.
    if (streaming) longestGapMs = Math.max(longestGapMs, now - last);
    streaming = true;
    last = now;
  };
  return { bytes, stop: () => clearInterval(timer) };
}

async function loop() {
  let retry = RETRY_FIRST_MS;
  while (running) {
    controller = new AbortController();
    const ctl = controller;
    const dog = watchdog(ctl);
    try {
      const headers = lastId != null ? { "Last-Event-ID": lastId } : {};
      const res = await request("/api/events", {
        headers,
        signal: controller.signal,
        accept: "text/event-stream",
      });
      setState("live");
      retry = RETRY_FIRST_MS;
      if (hadDrop) dispatch("stream.resync", { reason: "reconnected" }, null);
      for await (const ev of readEvents(res, { onBytes: dog.bytes })) {
        if (ev.id != null && ev.id !== "") lastId = ev.id;
        if (ev.event === "stream.gap") dispatch("stream.resync", { reason: "gap" }, ev.id);
        dispatch(ev.event, ev.data, ev.id);
      }
    } catch (err) {
      if (!running || (err.name === "AbortError" && !ctl.stale)) return;
      if (err.status === 401) {
        running = false;
        setState("signed-out");
        return;
      }
    } finally {
      dog.stop();
    }
    if (!running) return;
    hadDrop = true;
    setState("reconnecting");
    await pause(retry * (0.75 + Math.random() * 0.5));
    retry = Math.min(retry * 2, RETRY_MAX_MS);
  }
}

export function start() {
  if (running) return;
  running = true;
  if (state === "signed-out") setState("connecting");
  loop();
}

export function stop(next = "signed-out") {
  running = false;
  controller?.abort();
  setState(next);
}

/**
 * Events still held by the agent for these topics (its replay ring), oldest first, read with
 * a short second request that ends at the `stream.replayed` marker.
 */
export async function recent(topics, limit = 50) {
  const ctl = new AbortController();
  const res = await request("/api/events", {
    query: { topics: topics.join(","), last_event_id: 0 },
    signal: ctl.signal,
    accept: "text/event-stream",
  });
  const found = [];
  try {
    for await (const ev of readEvents(res)) {
      if (ev.event === "stream.replayed") break;
      if (ev.event !== "stream.gap") found.push({ topic: ev.event, data: ev.data, id: ev.id });
    }
  } finally {
    ctl.abort();
  }
  return found.slice(-limit);
}
