// How the brain's answers read: line ranges, heading paths, scores, errors. Shared by the
// Brain page and the chat's citations. Everything here answers text, never markup.

import { h } from "../core/dom.js";
import { num } from "../core/store.js";

/** "12–30" (or "12" for one line) from a hit's 1-based inclusive lines. */
export function linesText(start, end) {
  const a = num(start);
  const b = num(end);
  if (a == null) return "";
  return b == null || b === a ? `${a}` : `${a}–${b}`;
}

/** "/notes/guide.md:12–30" */
export function whereText(item) {
  const lines = linesText(item?.start_line, item?.end_line);
  return lines ? `${item?.path ?? ""}:${lines}` : String(item?.path ?? "");
}

/** "Guide › Setup › Linux": the Markdown headings above a chunk, outermost first. */
export const headingText = (heading) =>
  Array.isArray(heading) ? heading.filter((x) => typeof x === "string" && x).join(" › ") : "";

/**
 * Scores differ by mode (cosine, BM25, reciprocal rank fusion near 0.03, a tiny BM25 for a
 * word in every file): three significant digits keep each readable without pretending more
 * precision than there is.
 */
export function scoreText(score) {
  const s = num(score);
  if (s == null) return "—";
  if (s === 0) return "0";
  if (Math.abs(s) >= 1000) return s.toFixed(0);
  return Math.abs(s) < 0.001 ? s.toExponential(2) : s.toPrecision(3);
}

/** The standard error body in one line: "message (ERROR_CODE)". */
export function errorText(err) {
  const code = err?.code ?? err?.error_code;
  const message = err?.message ?? err?.error ?? String(err);
  return code && code !== "UNREACHABLE" ? `${message} (${code})` : message;
}

/** An inline error next to the control that caused it; `show(err)` / `show(null)` clears. */
export function inlineError() {
  const el = h("p", { className: "brain-error", role: "alert" });
  el.hidden = true;
  el.show = (err) => {
    el.hidden = !err;
    el.textContent = err ? errorText(err) : "";
    if (err?.code ?? err?.error_code) el.dataset.code = err.code ?? err.error_code;
    else delete el.dataset.code;
  };
  return el;
}
