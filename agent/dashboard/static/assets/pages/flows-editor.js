// The definition editor: the source as saved (YAML or JSON) in a textarea with line numbers,
// Save, and the agent's verdict. A refused definition lists every problem at its line and
// column; the lines are marked in the editor and clicking a problem puts the cursor there.

import { h, perFrame, setText } from "../core/dom.js";
import { button } from "../core/ui.js";
import { STARTER, errorText, formatOf } from "./flows-format.js";

const ROWS = 22;

/** The offset of `line` (1-based) and `column` in `text`, for setSelectionRange. */
export function offsetOf(text, line, column = 1) {
  let at = 0;
  for (let n = 1; n < line; n += 1) {
    const next = text.indexOf("\n", at);
    if (next < 0) return text.length;
    at = next + 1;
  }
  const end = text.indexOf("\n", at);
  const lineEnd = end < 0 ? text.length : end;
  return Math.min(at + Math.max(0, (column ?? 1) - 1), lineEnd);
}

function lineHeight(textarea) {
  const px = parseFloat(getComputedStyle(textarea).lineHeight);
  return Number.isFinite(px) ? px : 20;
}

/** The editor panel; `open(flow)` (null: a new flow from the starter template). */
export function editorPanel(handlers) {
  const heading = h("h2", { id: "flows-editor-title" }, "Definition");
  const formatTag = h("span", { className: "tag flows-format" });
  const problems = h("ul", { className: "flows-problems", id: "flows-problems", "aria-label": "Problems" });
  const summary = h("p", { className: "flows-error", role: "alert", hidden: true });
  const gutter = h("pre", { className: "flows-gutter", "aria-hidden": "true" });
  const marks = h("div", { className: "flows-marks", "aria-hidden": "true" });
  const source = h("textarea", {
    className: "flows-source", rows: ROWS, spellcheck: false, wrap: "off",
    "aria-label": "Definition (YAML or JSON)", autocapitalize: "off", autocomplete: "off",
  });
  const save = button("Save", () => doSave(), { kind: "primary" });
  const remove = button("Delete flow", () => current && handlers.onDelete(current.id), { kind: "danger" });
  const saved = h("span", { className: "flows-saved muted", "aria-live": "polite" });
  const el = h(
    "section",
    { className: "panel flows-editor-panel", "aria-labelledby": "flows-editor-title", dataset: { flows: "editor" } },
    h("div", { className: "flows-editor-head" }, heading, formatTag),
    summary,
    problems,
    h("div", { className: "flows-editor" }, marks, gutter, source),
    h("div", { className: "actions flows-editor-actions" }, saved, remove, save),
  );
  let current = null;
  let clean = "";
  let errorLines = [];

  const numberLines = perFrame(() => {
    const count = source.value.split("\n").length;
    if (gutter.dataset.count !== String(count)) {
      gutter.dataset.count = String(count);
      gutter.textContent = Array.from({ length: count }, (_, i) => i + 1).join("\n");
    }
    setText(formatTag, formatOf(source.value).toUpperCase());
    follow();
  });
  const follow = () => {
    gutter.scrollTop = source.scrollTop;
    marks.style.transform = `translateY(${-source.scrollTop}px)`;
  };
  source.addEventListener("input", () => {
    numberLines();
    setText(saved, source.value === clean ? "" : "unsaved changes");
  });
  source.addEventListener("scroll", follow);

  function markLines(lines) {
    errorLines = lines;
    const lh = lineHeight(source);
    const top = parseFloat(getComputedStyle(source).paddingTop) || 0;
    marks.replaceChildren(
      ...lines.map((line) => {
        const mark = h("div", { className: "flows-mark-line", dataset: { line: String(line) } });
        mark.style.top = `${top + (line - 1) * lh}px`;
        mark.style.height = `${lh}px`;
        return mark;
      }),
    );
    if (lines.length) source.dataset.errorLines = lines.join(",");
    else delete source.dataset.errorLines;
    source.setAttribute("aria-invalid", String(lines.length > 0));
  }

  function goTo(line, column) {
    const at = offsetOf(source.value, line, column);
    source.focus();
    source.setSelectionRange(at, at);
    const lh = lineHeight(source);
    source.scrollTop = Math.max(0, (line - 3) * lh);
    follow();
    for (const mark of marks.children) mark.dataset.active = String(mark.dataset.line === String(line));
  }

  function showProblems(list) {
    const lines = [...new Set(list.map((p) => Number(p.line)).filter((n) => Number.isInteger(n) && n > 0))];
    markLines(lines);
    problems.replaceChildren(
      ...list.map((p) => {
        const line = Number.isInteger(p.line) ? p.line : null;
        const where = line ? `${line}:${Number.isInteger(p.column) ? p.column : 1}` : "—";
        const text = [h("span", { className: "flows-where" }, where), " ", String(p.message ?? ""),
          p.path ? h("span", { className: "flows-path muted" }, ` (${String(p.path)})`) : null];
        if (!line) return h("li", { className: "flows-problem" }, ...text);
        return h("li", { className: "flows-problem", dataset: { line: String(line) } },
          h("button", { type: "button", className: "flows-problem-go", onclick: () => goTo(line, p.column) }, ...text));
      }),
    );
    source.setAttribute("aria-describedby", "flows-problems");
  }

  function clear() {
    summary.hidden = true;
    problems.replaceChildren();
    markLines([]);
  }

  async function doSave() {
    save.disabled = true;
    clear();
    const text = source.value;
    try {
      const flow = await handlers.onSave(current?.id ?? null, text, formatOf(text));
      if (!flow) return;
      clean = text;
      setText(saved, `saved, version ${flow.version}`);
    } catch (err) {
      if (err.name === "AbortError") return;
      const list = Array.isArray(err.details?.errors) ? err.details.errors : [];
      summary.hidden = false;
      summary.textContent = list.length
        ? `Not saved: ${list.length} problem${list.length === 1 ? "" : "s"} in the definition.`
        : `Not saved: ${errorText(err)}`;
      if (list.length) showProblems(list);
    } finally {
      save.disabled = false;
    }
  }

  el.open = (flow) => {
    current = flow;
    clear();
    setText(heading, flow ? `Definition of ${String(flow.name)}` : "New flow");
    source.value = flow ? String(flow.source ?? "") : STARTER;
    clean = flow ? source.value : "";
    setText(saved, "");
    remove.hidden = !flow;
    el.dataset.flowId = flow ? String(flow.id) : "";
    source.scrollTop = 0;
    numberLines();
  };
  /** A newer version saved elsewhere replaces the text unless it has unsaved changes. */
  el.refresh = (flow) => {
    const dirty = source.value !== clean;
    current = flow;
    setText(heading, `Definition of ${String(flow.name)}`);
    if (dirty) {
      setText(saved, `unsaved changes; version ${flow.version} was saved meanwhile`);
      return;
    }
    source.value = String(flow.source ?? "");
    clean = source.value;
    if (!errorLines.length) numberLines();
  };
  el.currentId = () => current?.id ?? null;
  return el;
}
