// How Memory's answers read: who stated a fact and where, its age, the outcome of an add,
// errors next to the control that caused them. Everything here answers text or DOM built
// from text, never markup: a fact's text is whatever someone (or a model) wrote.

import { h } from "../core/dom.js";
import { ago, dateTime, plural, shortId } from "../core/format.js";
import { num } from "../core/store.js";
import { errorText } from "./brain-format.js";
import { nodeName } from "./models-words.js";

const SOURCES = { manual: "added by hand", chat: "learnt in a chat", agent: "stated by an agent" };

/** "learnt in a chat (session 1a2b3c4d)" */
export function sourceText(fact) {
  const how = SOURCES[fact?.source] ?? String(fact?.source ?? "unknown source");
  return fact?.session_id ? `${how} (session ${shortId(fact.session_id)})` : how;
}

/** A <time> with a relative text and the exact date as its title. */
export function ageElement(ts, className = "memory-age") {
  const at = num(ts);
  const el = h("time", { className, title: at == null ? "" : dateTime(at) }, at == null ? "—" : ago(at));
  if (at != null) el.dateTime = new Date(at * 1000).toISOString();
  el.dataset.ts = String(at ?? "");
  return el;
}

/** Refreshes the relative texts of every ageElement under `root` (no request). */
export function refreshAges(root) {
  for (const el of root.querySelectorAll("time[data-ts]")) {
    const at = num(Number.parseFloat(el.dataset.ts));
    if (at != null && el.textContent !== ago(at)) el.textContent = ago(at);
  }
}

export const nodeText = (fact) => nodeName(fact?.node_id, null);

/** What an add did, in words. */
export function outcomeText(answer) {
  const replaced = Array.isArray(answer?.superseded) ? answer.superseded.length : 0;
  if (answer?.outcome === "existing") return "Already remembered: nothing changed.";
  if (answer?.outcome === "superseded") {
    return `Remembered. It replaces ${plural(replaced, "older fact")}, kept in the history.`;
  }
  return "Remembered as a new fact.";
}

/** An inline error next to the control that caused it; `show(err)` / `show(null)` clears. */
export function inlineError() {
  const el = h("p", { className: "memory-error", role: "alert" });
  el.hidden = true;
  el.show = (err) => {
    el.hidden = !err;
    el.textContent = err ? errorText(err) : "";
    if (err?.code) el.dataset.code = err.code;
    else delete el.dataset.code;
  };
  return el;
}
