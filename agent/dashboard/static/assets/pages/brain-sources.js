// This node's sources: the folders (or files) its brain indexes and watches. Adding or
// removing one sends the whole new list (POST /api/brain/reindex {sources}), which the node
// keeps across restarts and rescans at once; the scan's progress shows in the Reindex panel.

import { h, setText } from "../core/dom.js";
import { plural } from "../core/format.js";
import { num } from "../core/store.js";
import { badge, button, confirmDialog, empty, field, panel } from "../core/ui.js";
import { inlineError } from "./brain-format.js";

function sourceItem(source, { onRemove }) {
  const path = String(source.path);
  const counts = h("span", { className: "muted brain-source-counts" });
  const state = source.exists ? badge("ok", "present") : badge("failed", "missing");
  const remove = button("Remove", () => onRemove(path), { kind: "danger small", label: `Stop indexing ${path}` });
  const el = h(
    "li",
    { className: "brain-source", dataset: { source: path, exists: String(Boolean(source.exists)) } },
    h("span", { className: "brain-path brain-source-path" }, path),
    h("span", { className: "brain-source-meta" }, state, counts),
    remove,
  );
  el.update = (s) => setText(counts, `${plural(num(s.files) ?? 0, "file")} · ${plural(num(s.chunks) ?? 0, "chunk")}`);
  el.update(source);
  el.removeButton = remove;
  return el;
}

/** The sources panel; `update(status)` with each BrainStatus. Changes run through `reindex`. */
export function sourcesPanel(reindex) {
  const list = h("ul", { className: "brain-sources", "aria-label": "Sources" });
  const none = empty("No sources yet: add a folder below.");
  const input = h("input", {
    type: "text", name: "source", autocomplete: "off", required: true, maxLength: 4096,
    placeholder: "/home/me/notes",
  });
  input.spellcheck = false;
  const add = button("Add and index", null, { kind: "primary", type: "submit" });
  const problem = inlineError();
  const form = h(
    "form",
    { className: "brain-add", "aria-label": "Add a source", onsubmit: (e) => submit(e) },
    field("Folder to index", input, "An absolute path on this node; it is indexed now and watched from then on."),
    h("div", { className: "actions" }, add),
  );
  const el = panel("Sources", none, list, form, problem);
  el.dataset.brain = "sources";
  let paths = null; // this node's list, as the last status had it
  let rows = new Map();
  let busy = false;

  const controls = () => {
    add.disabled = busy || paths === null;
    for (const row of rows.values()) row.removeButton.disabled = busy;
  };
  reindex.onBusy((value) => {
    busy = value;
    controls();
  });

  async function change(next) {
    const ok = await reindex.run({ sources: next }, { report: problem });
    if (ok) problem.show(null);
    return ok;
  }

  async function submit(event) {
    event.preventDefault();
    const path = input.value.trim();
    if (!path || paths === null || busy) return;
    if (paths.includes(path)) {
      problem.show(new Error(`${path} is already a source.`));
      return;
    }
    if (await change([...paths, path])) input.value = "";
    else input.focus();
  }

  async function onRemove(path) {
    if (busy || paths === null) return;
    const confirmed = await confirmDialog({
      title: "Stop indexing this folder?",
      message: `${path} is no longer watched, and what was indexed from it leaves this node's index. Its files are not touched.`,
      confirm: "Remove",
    });
    if (confirmed) await change(paths.filter((p) => p !== path));
  }

  el.update = (status) => {
    const sources = Array.isArray(status.sources) ? status.sources : [];
    const next = sources.map((s) => String(s.path));
    const same = paths !== null && next.length === paths.length && next.every((p, i) => p === paths[i]);
    paths = next;
    if (same) {
      for (const s of sources) rows.get(String(s.path))?.update(s);
    } else {
      rows = new Map(sources.map((s) => [String(s.path), sourceItem(s, { onRemove })]));
      list.replaceChildren(...rows.values());
    }
    // A source's presence can change without the list changing (a folder made or deleted).
    for (const s of sources) {
      const row = rows.get(String(s.path));
      if (row && row.dataset.exists !== String(Boolean(s.exists))) {
        const fresh = sourceItem(s, { onRemove });
        row.replaceWith(fresh);
        rows.set(String(s.path), fresh);
      }
    }
    none.hidden = sources.length > 0;
    list.hidden = sources.length === 0;
    controls();
  };
  return el;
}
