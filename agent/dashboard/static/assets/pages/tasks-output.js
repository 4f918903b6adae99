// A task's output, followed live from GET /api/tasks/{id}/logs (SSE: `stdout` and `stderr`
// events numbered by chunk sequence, then one `end` event with the final task).
//
// A stream that drops before `end` is opened again with the Last-Event-ID of the last chunk
// shown, so the agent sends only what came after it: nothing twice, nothing missed. The page
// keeps the last MAX_CHARS of output so a chatty task cannot exhaust the tab.

import { readEvents, request } from "../core/api.js";
import { h, perFrame, setText } from "../core/dom.js";

const MAX_CHARS = 2 * 1024 * 1024;
const SPAN_CHARS = 64 * 1024;
const RETRY_FIRST_MS = 500;
const RETRY_MAX_MS = 8000;
const STICK_PX = 24; // this close to the bottom, follow new output

const pause = (ms, signal) =>
  new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });

/** The output box; `follow()` streams into it until the task ends or `signal` aborts. */
export function outputView(taskId, { signal, onEnd, onStatus }) {
  const pre = h("pre", { className: "output task-output", tabIndex: 0, "aria-label": "Task output", dataset: { taskOutput: "" } });
  const note = h("p", { className: "muted task-output-note", role: "status" });
  const el = h("div", { className: "task-output-wrap" }, note, pre);
  let held = 0;
  let dropped = false;
  let lastId = null;
  let chunks = 0;

  let pending = [];
  let pendingChars = 0;

  // Chunks are written once per frame: a chatty task then costs one layout per frame, not
  // one per chunk. What waits (a hidden tab gets no frames) is capped like what is shown.
  function append(stream, text) {
    if (!text) return;
    pending.push([stream, text]);
    pendingChars += text.length;
    while (pendingChars > MAX_CHARS && pending.length > 1) {
      pendingChars -= pending.shift()[1].length;
      markDropped();
    }
    flushSoon();
  }

  const flushSoon = perFrame(() => {
    const stick = pre.scrollHeight - pre.scrollTop - pre.clientHeight <= STICK_PX;
    for (const [stream, text] of pending) write(stream, text);
    pending = [];
    pendingChars = 0;
    while (held > MAX_CHARS && pre.firstElementChild) trimFirst();
    if (stick) pre.scrollTop = pre.scrollHeight;
  });

  function write(stream, text) {
    const last = pre.lastElementChild;
    // A run of one stream shares a span (one text node, bounded), so the DOM stays small.
    if (last?.dataset.stream === stream && last.chars + text.length <= SPAN_CHARS) {
      last.firstChild.appendData(text);
      last.chars += text.length;
    } else {
      const span = h("span", { className: `stream-${stream}`, dataset: { stream } }, text);
      span.chars = text.length;
      pre.append(span);
    }
    held += text.length;
  }

  function trimFirst() {
    const first = pre.firstElementChild;
    const excess = held - MAX_CHARS;
    if (first.chars > excess) {
      first.firstChild.deleteData(0, excess);
      first.chars -= excess;
      held -= excess;
    } else {
      first.remove();
      held -= first.chars;
    }
    markDropped();
  }

  function markDropped() {
    if (dropped) return;
    dropped = true;
    setText(note, `Showing the last ${Math.round(MAX_CHARS / 1048576)} MiB of output.`);
  }

  async function once() {
    const headers = lastId != null ? { "Last-Event-ID": lastId } : {};
    const res = await request(`/api/tasks/${encodeURIComponent(taskId)}/logs`, {
      headers,
      signal,
      accept: "text/event-stream",
    });
    onStatus?.("live");
    for await (const ev of readEvents(res)) {
      if (ev.event === "stdout" || ev.event === "stderr") {
        if (ev.id != null && ev.id !== "") lastId = ev.id;
        chunks += 1;
        append(ev.event, typeof ev.data?.text === "string" ? ev.data.text : "");
      } else if (ev.event === "end") {
        return ev.data;
      }
    }
    return null;
  }

  async function follow() {
    let retry = RETRY_FIRST_MS;
    while (!signal.aborted) {
      let ended = null;
      try {
        ended = await once();
        retry = RETRY_FIRST_MS;
      } catch (err) {
        if (err.name === "AbortError" || signal.aborted) return;
        // 404: the task is gone; anything else (unreachable, 5xx) is worth another try.
        if (err.status === 404 || err.status === 401) {
          onStatus?.("gone", err);
          return;
        }
        onStatus?.("retrying", err);
      }
      if (ended) {
        if (!chunks) setText(note, "No output.");
        onStatus?.("ended");
        onEnd?.(ended);
        return;
      }
      if (signal.aborted) return;
      onStatus?.("retrying");
      await pause(retry * (0.75 + Math.random() * 0.5), signal);
      retry = Math.min(retry * 2, RETRY_MAX_MS);
    }
  }

  return { el, follow, lastId: () => lastId };
}
