// Rescans. POST /api/brain/reindex answers the scan's progress as SSE (`progress` about twice
// a second, then `done`, or `error`); a refusal (a missing folder, a path outside the sources)
// comes before the stream as the standard error body. The node also publishes the progress as
// brain.reindex.progress, so a scan started elsewhere (the CLI, another tab) shows here too.

import { postStream } from "../core/api.js";
import { h, setAttr, setText } from "../core/dom.js";
import { clamp01, duration, plural } from "../core/format.js";
import { num } from "../core/store.js";
import { button, panel } from "../core/ui.js";
import { factList } from "./brain-counts.js";
import { inlineError } from "./brain-format.js";

// The stream and the event bus are two connections: the bus's last "still scanning" report
// can arrive just after the stream's `done`. Such a straggler is dropped for this long.
const STRAGGLER_MS = 2000;

const n = (x) => num(x) ?? 0;

/** A progress bar with its words ("3 of 10 files"); `update(fraction, text)`. */
function filesBar() {
  const fill = h("span");
  const words = h("span", { className: "gauge-value" });
  const bar = h("div", {
    className: "bar brain-bar", role: "progressbar", "aria-label": "Files done",
    "aria-valuemin": 0, "aria-valuemax": 100,
  }, fill);
  const el = h("div", { className: "gauge" },
    h("div", { className: "gauge-row" }, h("span", { className: "gauge-label" }, "Files done"), words), bar);
  el.update = (fraction, text) => {
    const f = clamp01(fraction);
    fill.style.transform = `scaleX(${f.toFixed(3)})`;
    setAttr(bar, "aria-valuenow", Math.round(f * 100));
    setAttr(bar, "aria-valuetext", text);
    setText(words, text);
  };
  return el;
}

export function reindexPanel(ctx, { onEnd }) {
  const files = filesBar();
  const facts = factList("The scan", [
    ["chunks_embedded", "Chunks embedded"],
    ["chunks_reused", "Chunks reused"],
    ["skipped", "Files skipped"],
    ["removed", "Files removed"],
    ["rate", "Rate"],
    ["elapsed", "Elapsed"],
  ]);
  const state = h("p", { className: "brain-scan-state", "aria-live": "polite" }, "No scan since this page opened.");
  const failure = inlineError();
  const start = button("Reindex", () => run({}), { kind: "primary", label: "Reindex every source" });
  const progress = h("div", { className: "brain-progress" }, files, facts.el);
  progress.hidden = true;
  const el = panel(
    "Reindex",
    h("p", { className: "muted" }, "Rescans every source: changed files are indexed again; text already embedded is reused."),
    h("div", { className: "actions brain-actions" }, start),
    state,
    progress,
    failure,
  );
  el.dataset.scan = "idle";
  const busyHandlers = new Set();
  let controller = null;
  let finished = null; // {at, elapsed}: the last scan shown as done

  function setBusy(busy) {
    start.disabled = busy;
    busyHandlers.forEach((fn) => fn(busy));
  }

  function show(p) {
    const seen = n(p.files_seen);
    const done = n(p.files_done);
    progress.hidden = false;
    files.update(seen ? done / seen : p.done ? 1 : 0, `${done} of ${plural(seen, "file")}`);
    facts.set("chunks_embedded", String(n(p.chunks_embedded)));
    facts.set("chunks_reused", String(n(p.chunks_reused)));
    facts.set("skipped", String(n(p.skipped)));
    facts.set("removed", String(n(p.removed)));
    facts.set("rate", `${n(p.rate).toFixed(1)} chunks/s`);
    facts.set("elapsed", duration(n(p.elapsed_s)));
    el.dataset.scan = p.done ? "done" : "running";
    setText(state, p.done ? `Done: ${plural(done, "file")} in ${duration(n(p.elapsed_s))}.` : "Scanning…");
    if (p.done) finished = { at: performance.now(), elapsed: n(p.elapsed_s) };
  }

  function failed(err, report) {
    el.dataset.scan = "failed";
    setText(state, "The scan failed.");
    report.show(err);
  }

  /**
   * Runs one rescan (`body` as ReindexBody), showing its progress; a refusal or failure goes
   * to `report` (an inlineError). Answers true when the scan reached `done`.
   */
  async function run(body, { report = failure } = {}) {
    if (controller) return false;
    const mine = (controller = new AbortController());
    const leave = () => mine.abort();
    ctx.signal.addEventListener("abort", leave);
    failure.show(null);
    report.show(null);
    setBusy(true);
    let ended = false;
    try {
      for await (const ev of postStream("/api/brain/reindex", body, { signal: mine.signal })) {
        if (ev.event === "progress" || ev.event === "done") {
          show(ev.data ?? {});
          ended = ev.event === "done";
        } else if (ev.event === "error") {
          failed(ev.data ?? {}, report);
          return false;
        }
      }
      if (!ended) failed(new Error("The scan's stream ended before it finished."), report);
      return ended;
    } catch (err) {
      if (err.name !== "AbortError") report.show(err);
      return false;
    } finally {
      ctx.signal.removeEventListener("abort", leave);
      controller = null;
      if (!ctx.signal.aborted) {
        setBusy(false);
        onEnd();
      }
    }
  }

  /** A brain.reindex.progress event: shown unless this page's own stream reports the scan. */
  el.live = (p) => {
    if (controller || !p || typeof p !== "object") return;
    const straggler = finished && !p.done && n(p.elapsed_s) <= finished.elapsed
      && performance.now() - finished.at < STRAGGLER_MS;
    if (straggler) return;
    show(p);
    if (p.done) onEnd();
  };
  el.run = run;
  /** fn(busy) whenever a scan this page started begins or ends. */
  el.onBusy = (fn) => busyHandlers.add(fn);
  el.busy = () => controller !== null;
  return el;
}
