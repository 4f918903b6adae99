// One run as a timeline: its state, trigger, member and error, then each step with its state,
// attempts, a bar placing it within the run's span, its error, and its logs and outputs when
// opened. Rerun from a step, Rerun (from the first step that did not succeed), Cancel an
// active run, Delete a finished one. Steps update in place, so opened logs stay open.

import { h, setText } from "../core/dom.js";
import { dateTime } from "../core/format.js";
import { num } from "../core/store.js";
import { badge, button, empty, setBadge } from "../core/ui.js";
import { nodeName } from "./models-words.js";
import { isActive, millisText, stateWord } from "./flows-format.js";

const nowS = () => Date.now() / 1000;

/** [start, end] of the run in seconds, the end growing while it is active. */
function spanOf(run) {
  const start = num(run.started_at) ?? num(run.created_at) ?? nowS();
  const ends = (run.steps ?? []).map((s) => num(s.finished_at) ?? (num(s.started_at) != null ? nowS() : null));
  const end = num(run.finished_at) ?? Math.max(start, ...ends.filter((x) => x != null), isActive(run.state) ? nowS() : start);
  return [start, Math.max(end, start + 0.001)];
}

function stepItem(step, handlers) {
  const id = String(step.id);
  const state = badge("pending");
  const attempts = h("span", { className: "flows-attempts" });
  const took = h("span", { className: "flows-took muted" });
  const fill = h("span", { className: "flows-bar-fill" });
  const bar = h("div", { className: "flows-bar", role: "img" }, fill);
  const error = h("p", { className: "flows-step-error", role: "note" });
  const logs = h("pre", { className: "output flows-logs" });
  const logBox = h("details", { className: "flows-log-box" }, h("summary", {}, "Logs"), logs);
  const outputs = h("pre", { className: "output flows-outputs" });
  const outBox = h("details", { className: "flows-out-box" }, h("summary", {}, "Inputs and outputs"), outputs);
  const rerun = button("Rerun from here", () => handlers.onRerun(id), { kind: "small", label: `Rerun from step ${id}` });
  const el = h(
    "li",
    { className: "flows-step", dataset: { step: id } },
    h("div", { className: "flows-step-head" }, h("span", { className: "flows-step-id" }, id),
      h("span", { className: "tag flows-uses" }, String(step.uses ?? "")), state, attempts, took,
      h("span", { className: "flows-step-actions" }, rerun)),
    bar, error, logBox, outBox,
  );
  el.update = (fresh, span, canRerun) => {
    el.dataset.state = String(fresh.state);
    setBadge(state, String(fresh.state), stateWord(fresh.state));
    const n = Number(fresh.attempts) || 0;
    setText(attempts, n ? `${n} attempt${n === 1 ? "" : "s"}` : "");
    const started = num(fresh.started_at);
    const ended = num(fresh.finished_at) ?? (started != null && isActive(fresh.state) ? nowS() : null);
    const ms = num(fresh.duration_ms) ?? (started != null && ended != null ? (ended - started) * 1000 : null);
    setText(took, millisText(ms));
    const [a, b] = span;
    const left = started == null ? 0 : (started - a) / (b - a);
    const width = started == null || ended == null ? 0 : (ended - started) / (b - a);
    fill.style.marginLeft = `${(Math.min(1, Math.max(0, left)) * 100).toFixed(2)}%`;
    fill.style.width = `${(Math.min(1, Math.max(0.005, width)) * 100).toFixed(2)}%`;
    bar.setAttribute("aria-label", started == null ? `${id}: not started` : `${id}: ${millisText(ms) || "running"}`);
    setText(error, fresh.error ? String(fresh.error) : "");
    error.hidden = !fresh.error;
    const lines = Array.isArray(fresh.logs) ? fresh.logs.map(String) : [];
    setText(logs, lines.join("\n"));
    setText(logBox.querySelector("summary"), `Logs (${lines.length} line${lines.length === 1 ? "" : "s"})`);
    logBox.hidden = lines.length === 0;
    setText(outputs, JSON.stringify({ inputs: fresh.inputs ?? {}, outputs: fresh.outputs ?? {} }, null, 2));
    rerun.hidden = !canRerun;
  };
  return el;
}

/** The timeline panel; `show(run, flow)`, `clear(text)`, `tick()` (active durations). */
export function timelinePanel(handlers) {
  const heading = h("h2", { id: "flows-run-title" }, "Run");
  const state = badge("pending");
  const facts = h("p", { className: "flows-run-facts muted" });
  const error = h("p", { className: "flows-run-error", role: "note" });
  const steps = h("ol", { className: "flows-steps", "aria-label": "Steps" });
  const none = empty("Choose a run to see its steps.");
  const cancel = button("Cancel run", () => run && handlers.onCancel(run.id), { kind: "danger small" });
  const rerun = button("Rerun", () => run && handlers.onRerun(run.id, null), { kind: "small", label: "Rerun from the first step that did not succeed" });
  const remove = button("Delete run", () => run && handlers.onDeleteRun(run.id), { kind: "ghost small" });
  const body = h("div", { className: "flows-run-body" },
    h("div", { className: "flows-run-head" }, state, h("span", { className: "actions" }, cancel, rerun, remove)),
    facts, error, steps);
  const el = h("section", { className: "panel flows-timeline", "aria-labelledby": "flows-run-title", dataset: { flows: "timeline" } }, heading, none, body);
  const items = new Map();
  let run = null;
  let known = [];

  el.show = (fresh, flow) => {
    if (run?.id !== fresh.id) {
      items.clear();
      steps.replaceChildren();
    }
    run = fresh;
    known = Array.isArray(flow?.definition?.steps) ? flow.definition.steps.map((s) => String(s.id)) : [];
    none.hidden = true;
    body.hidden = false;
    el.dataset.run = String(fresh.id);
    el.dataset.state = String(fresh.state);
    setText(heading, `Run ${String(fresh.id).slice(0, 12)}`);
    setBadge(state, String(fresh.state), stateWord(fresh.state));
    const bits = [`${String(fresh.trigger?.kind ?? "")} trigger`, `on ${nodeName(fresh.node_id)}`, `started ${dateTime(fresh.started_at ?? fresh.created_at)}`];
    if (millisText(fresh.duration_ms)) bits.push(`took ${millisText(fresh.duration_ms)}`);
    if (fresh.rerun_of) bits.push(`rerun of ${String(fresh.rerun_of).slice(0, 12)}`);
    if (Number(fresh.resumed) > 0) bits.push(`resumed ${Number(fresh.resumed)}× after a restart`);
    setText(facts, bits.join(" · "));
    setText(error, fresh.error ? String(fresh.error) : "");
    error.hidden = !fresh.error;
    const active = isActive(fresh.state);
    cancel.hidden = !active;
    rerun.hidden = active;
    remove.hidden = active;
    el.tick();
  };
  el.tick = () => {
    if (!run) return;
    const span = spanOf(run);
    const canRerun = !isActive(run.state);
    const list = Array.isArray(run.steps) ? run.steps : [];
    const seen = new Set();
    list.forEach((step, i) => {
      // A goto may run a step again: each execution is its own entry.
      const key = `${i}:${String(step.id)}`;
      seen.add(key);
      let item = items.get(key);
      if (!item) items.set(key, (item = stepItem(step, { onRerun: (id) => handlers.onRerun(run.id, id) })));
      item.update(step, span, canRerun && known.includes(String(step.id)));
      if (steps.children[i] !== item) steps.insertBefore(item, steps.children[i] ?? null);
    });
    for (const [key, item] of items) {
      if (!seen.has(key)) {
        item.remove();
        items.delete(key);
      }
    }
  };
  el.clear = (text = "Choose a run to see its steps.") => {
    run = null;
    items.clear();
    steps.replaceChildren();
    none.textContent = text;
    none.hidden = false;
    body.hidden = true;
    setText(heading, "Run");
    delete el.dataset.run;
  };
  el.runId = () => run?.id ?? null;
  el.clear();
  return el;
}
