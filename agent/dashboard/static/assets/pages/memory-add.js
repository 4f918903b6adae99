// Adding a fact by hand (POST /api/memory {text, key?, tags?}): the answer says whether it
// was new (created), already remembered (existing: nothing changed) or replaced older facts
// (superseded: they stay in the history). A refusal shows under the form, which keeps what
// was typed.

import { api } from "../core/api.js";
import { h, setText } from "../core/dom.js";
import { button, field, panel } from "../core/ui.js";
import { inlineError, outcomeText } from "./memory-format.js";

// The agent's bounds (agent/memory/models.py); it judges again whatever is sent.
const MAX_TEXT = 2000;
const MAX_KEY = 128;
const MAX_TAGS = 16;

const tagsOf = (value) => [...new Set(value.split(",").map((t) => t.trim()).filter(Boolean))];

/** The add panel; `onAdded(answer)` after each answer. */
export function addPanel(ctx, { onAdded }) {
  const text = h("textarea", { name: "text", rows: 2, required: true, maxLength: MAX_TEXT, placeholder: "My editor is vim." });
  const key = h("input", { type: "text", name: "key", maxLength: MAX_KEY, autocomplete: "off", placeholder: "user.editor" });
  const tags = h("input", { type: "text", name: "tags", autocomplete: "off", placeholder: "tools, preferences" });
  key.spellcheck = false;
  const add = button("Remember", null, { kind: "primary", type: "submit" });
  const problem = inlineError();
  const outcome = h("p", { className: "memory-outcome", role: "status" });
  outcome.hidden = true;
  const form = h(
    "form",
    { className: "memory-add", "aria-label": "Add a fact", onsubmit: (e) => submit(e) },
    field("Fact", text),
    h("div", { className: "form-row" },
      field("Key", key, "Optional. A fact with the same key replaces the active one."),
      field("Tags", tags, `Optional, separated by commas (at most ${MAX_TAGS}).`)),
    h("div", { className: "actions" }, add),
  );
  const el = panel("Add a fact", form, outcome, problem);
  el.dataset.memory = "add";

  async function submit(event) {
    event.preventDefault();
    const body = { text: text.value.trim(), tags: tagsOf(tags.value) };
    if (!body.text) return;
    if (key.value.trim()) body.key = key.value.trim();
    add.disabled = true;
    try {
      const answer = await api("/api/memory", { method: "POST", body, signal: ctx.signal });
      problem.show(null);
      outcome.dataset.outcome = String(answer.outcome);
      setText(outcome, outcomeText(answer));
      outcome.hidden = false;
      text.value = "";
      onAdded(answer);
    } catch (err) {
      if (err.name === "AbortError") return;
      outcome.hidden = true;
      problem.show(err);
    } finally {
      add.disabled = false;
    }
  }
  return el;
}
