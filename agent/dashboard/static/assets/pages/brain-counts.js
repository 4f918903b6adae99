// The index in numbers: files, chunks, queue and pace as cards; the model and the index file
// as facts; and what was skipped, by reason and file by file. Built once, then updated text
// by text from each status the page loads.

import { h, setText } from "../core/dom.js";
import { bytes, dateTime, plural } from "../core/format.js";
import { num } from "../core/store.js";
import { empty, panel } from "../core/ui.js";

const REASONS = {
  binary: "binary",
  too_large: "too large",
  unsupported: "unsupported type",
  unreadable: "unreadable",
};

const reasonText = (reason) => REASONS[reason] ?? String(reason);
const count = (x) => (num(x) == null ? "—" : String(num(x)));
const yesNo = (x) => (x === true ? "yes" : x === false ? "no" : "—");

/** A definition list whose values are set by key: {el, set(key, text)}. */
export function factList(label, rows) {
  const cells = new Map();
  const el = h("dl", { className: "brain-facts", "aria-label": label });
  for (const [key, name] of rows) {
    const dd = h("dd", { dataset: { fact: key } }, "—");
    cells.set(key, dd);
    el.append(h("div", { className: "brain-fact" }, h("dt", {}, name), dd));
  }
  return { el, set: (key, value) => setText(cells.get(key), value ?? "—") };
}

function card(key, label) {
  const value = h("p", { className: "big", dataset: { count: key } }, "—");
  return { el: h("div", { className: "card" }, h("h3", {}, label), value), value };
}

function skippedPart() {
  const reasons = h("ul", { className: "brain-reasons", "aria-label": "Skipped files by reason" });
  const files = h("ul", { className: "brain-skipped", "aria-label": "Skipped files" });
  const none = empty("No file was skipped.");
  const more = h("p", { className: "muted" });
  const el = h("div", { className: "brain-skipped-part" }, h("h3", {}, "Skipped"), none, reasons, files, more);
  el.update = (status) => {
    const byReason = Object.entries(status.skipped ?? {}).filter(([, n]) => num(n) > 0);
    const listed = Array.isArray(status.skipped_files) ? status.skipped_files : [];
    reasons.replaceChildren(
      ...byReason.map(([reason, n]) =>
        h("li", { dataset: { reason } }, h("span", {}, reasonText(reason)), h("strong", {}, String(n)))),
    );
    files.replaceChildren(
      ...listed.map((f) =>
        h("li", { dataset: { reason: String(f.reason) } },
          h("span", { className: "brain-path" }, String(f.path)),
          h("span", { className: "muted" }, f.detail ? `${reasonText(f.reason)}: ${f.detail}` : reasonText(f.reason)))),
    );
    const total = byReason.reduce((sum, [, n]) => sum + num(n), 0);
    none.hidden = total > 0 || listed.length > 0;
    reasons.hidden = byReason.length === 0;
    files.hidden = listed.length === 0;
    // The status lists only the first skipped files; say so rather than look complete.
    setText(more, total > listed.length && listed.length ? `The first ${plural(listed.length, "file")} of ${total} are listed.` : "");
    more.hidden = !more.textContent;
  };
  return el;
}

/** The counts panel; `update(status)` with each BrainStatus. */
export function countsPanel() {
  const cards = [
    card("files", "Files"),
    card("chunks", "Chunks"),
    card("queue", "Queue"),
    card("rate", "Embedding rate"),
  ];
  const facts = factList("The index", [
    ["model", "Model"],
    ["model_loaded", "Model loaded"],
    ["dimensions", "Dimensions"],
    ["index_bytes", "Index size"],
    ["deleted_slots", "Freed slots"],
    ["watching", "Watching for changes"],
    ["indexing", "Indexing now"],
    ["last_change", "Last change"],
  ]);
  const unavailable = h("div", { className: "panel warn brain-unavailable", role: "alert" });
  unavailable.hidden = true;
  const skipped = skippedPart();
  const el = panel(
    "Index",
    unavailable,
    h("div", { className: "cards brain-cards" }, ...cards.map((c) => c.el)),
    facts.el,
    skipped,
  );
  el.dataset.brain = "counts";
  el.update = (status) => {
    unavailable.hidden = status.available !== false;
    unavailable.replaceChildren(
      h("strong", {}, "This node cannot index documents"),
      h("p", {}, String(status.unavailable_reason ?? "The embedding stack is not installed.")),
    );
    const [files, chunks, queue, rate] = cards;
    setText(files.value, count(status.files));
    setText(chunks.value, count(status.chunks));
    setText(queue.value, count(status.queue));
    const speed = num(status.embedding_rate);
    setText(rate.value, speed == null ? "—" : `${speed.toFixed(1)}/s`);
    rate.value.title = "Chunks embedded per second, recently";
    facts.set("model", String(status.model ?? "—"));
    facts.set("model_loaded", status.model_loaded ? "yes" : "no (it loads when text needs encoding)");
    facts.set("dimensions", count(status.dimensions));
    facts.set("index_bytes", bytes(num(status.index_bytes)));
    facts.set("deleted_slots", count(status.deleted_slots));
    facts.set("watching", yesNo(status.watching));
    facts.set("indexing", yesNo(status.indexing));
    facts.set("last_change", status.last_change ? dateTime(num(status.last_change)) : "never");
    skipped.update(status);
  };
  return el;
}
