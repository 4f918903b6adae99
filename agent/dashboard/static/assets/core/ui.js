// Small shared widgets. Every control gets a visible or accessible label.

import { h, setAttr, setText } from "./dom.js";
import { clamp01, level } from "./format.js";

/** A page's heading row: title, optional subtitle and actions on the right. */
export function pageHeader(title, { sub, actions = [] } = {}) {
  return h(
    "header",
    { className: "page-head" },
    h("div", {}, h("h1", { className: "page-title", tabIndex: -1 }, title), sub && h("p", { className: "muted" }, sub)),
    actions.length ? h("div", { className: "actions" }, ...actions) : null,
  );
}

export function panel(title, ...children) {
  const id = `p-${Math.random().toString(36).slice(2, 9)}`;
  return h(
    "section",
    { className: "panel", "aria-labelledby": id },
    h("h2", { id }, title),
    ...children,
  );
}

/** A labelled bar: gauge.update(fraction, text). role=meter so screen readers read it. */
export function gauge(label, { compact = false } = {}) {
  const fill = h("span");
  const value = h("span", { className: "gauge-value" }, "—");
  const bar = h("div", { className: "bar", role: "meter", "aria-label": label, "aria-valuemin": 0, "aria-valuemax": 100 }, fill);
  const el = h("div", { className: `gauge${compact ? " compact" : ""}` }, h("div", { className: "gauge-row" }, h("span", { className: "gauge-label" }, label), value), bar);
  el.update = (fraction, text) => {
    const known = fraction != null && Number.isFinite(fraction);
    const f = clamp01(known ? fraction : 0);
    // A transform, not a width: a moving bar then needs no layout, only compositing.
    fill.style.transform = `scaleX(${f.toFixed(3)})`;
    if (fill.dataset.level !== level(f)) fill.dataset.level = level(f);
    setText(value, known ? text : "—");
    setAttr(bar, "aria-valuenow", Math.round(f * 100));
    setAttr(bar, "aria-valuetext", known ? text : "unknown");
  };
  return el;
}

/** The coloured state word of a member, task, file or check. */
export function badge(state, text = state) {
  return h("span", { className: "badge", dataset: { state } }, text);
}

export function setBadge(el, state, text = state) {
  if (el.dataset.state !== state) el.dataset.state = state;
  setText(el, text);
}

export function errorBox(err, title = "Something went wrong") {
  const code = err?.code && err.code !== "UNREACHABLE" ? ` (${err.code})` : "";
  return h("div", { className: "panel warn", role: "alert" }, h("strong", {}, title), h("p", {}, `${err?.message ?? err}${code}`));
}

export const empty = (text) => h("p", { className: "empty muted" }, text);

/** A labelled form control: field("Command", h("input", {...})). */
export function field(label, control, hint) {
  const id = control.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  control.id = id;
  return h("div", { className: "field" }, h("label", { for: id }, label), control, hint && h("small", { className: "muted" }, hint));
}

export function button(text, onclick, { kind = "", label, type = "button", disabled = false } = {}) {
  return h("button", { type, className: `btn ${kind}`.trim(), onclick, "aria-label": label, disabled }, text);
}

/** A modal confirmation; answers true when confirmed. Escape or Cancel answers false. */
export function confirmDialog({ title, message, confirm = "Confirm", danger = true }) {
  return new Promise((resolve) => {
    const ok = button(confirm, () => dialog.close("ok"), { kind: danger ? "danger" : "primary" });
    const cancel = button("Cancel", () => dialog.close("cancel"));
    const dialog = h(
      "dialog",
      { className: "dialog", "aria-labelledby": "dlg-title" },
      h("h2", { id: "dlg-title" }, title),
      h("p", {}, message),
      h("div", { className: "actions" }, cancel, ok),
    );
    dialog.addEventListener("close", () => {
      resolve(dialog.returnValue === "ok");
      dialog.remove();
    });
    document.body.append(dialog);
    dialog.showModal();
    cancel.focus();
  });
}

/** A short message in the corner; errors stay until dismissed. */
export function toast(message, kind = "info") {
  const box = document.getElementById("toasts");
  const close = h("button", { type: "button", className: "toast-close", "aria-label": "Dismiss" }, "×");
  const el = h("div", { className: "toast", dataset: { kind }, role: kind === "error" ? "alert" : "status" }, h("span", {}, message), close);
  close.addEventListener("click", () => el.remove());
  box.append(el);
  if (kind !== "error") setTimeout(() => el.remove(), 5000);
  return el;
}

/** A table with a header row; rows are <tr> elements. `label` names it for screen readers. */
export function table(label, columns, rows = []) {
  const body = h("tbody", {}, ...rows);
  const el = h(
    "div",
    { className: "table-wrap" },
    h("table", { "aria-label": label }, h("thead", {}, h("tr", {}, ...columns.map((c) => h("th", { scope: "col", className: c.num ? "num" : "" }, c.label ?? c)))), body),
  );
  el.body = body;
  return el;
}

const loadedStyles = new Set();

/** Links a page's own stylesheet once (pages/<name>.css), so each page carries its styles. */
export function useStyles(href) {
  if (loadedStyles.has(href)) return;
  loadedStyles.add(href);
  document.head.append(h("link", { rel: "stylesheet", href }));
}
