// Search by meaning over the active facts (GET /api/memory/search?q=&k=): each hit with its
// cosine score. The query is part of the URL, so a search is a deep link. Without an
// embedding model on this node the agent refuses (MEMORY_UNAVAILABLE): shown inline.

import { api } from "../core/api.js";
import { h, setText } from "../core/dom.js";
import { plural } from "../core/format.js";
import { num } from "../core/store.js";
import { button, empty, field, panel } from "../core/ui.js";
import { scoreText } from "./brain-format.js";
import { ageElement, inlineError, sourceText } from "./memory-format.js";

const DEFAULT_K = 10;
const MAX_K = 50;

function hitItem(hit) {
  const fact = hit?.fact ?? {};
  return h(
    "li",
    { className: "memory-hit", dataset: { id: String(fact.id) } },
    h("span", { className: "memory-score", title: `Score ${hit.score}` },
      h("span", { className: "visually-hidden" }, "Score "), scoreText(num(hit.score))),
    h("div", { className: "memory-hit-body" },
      h("p", { className: "memory-text" }, String(fact.text ?? "")),
      h("p", { className: "memory-meta muted" },
        fact.key ? h("code", { className: "memory-key" }, String(fact.key)) : null,
        h("span", {}, sourceText(fact)),
        ageElement(fact.created_at))),
  );
}

export function searchPanel(ctx) {
  const q = h("input", { type: "search", name: "q", required: true, maxLength: 2000, autocomplete: "off", placeholder: "Which editor do I use?" });
  const k = h("input", { type: "number", name: "k", min: 1, max: MAX_K, step: 1, value: DEFAULT_K, required: true });
  const go = button("Search", null, { kind: "primary", type: "submit" });
  const problem = inlineError();
  const summary = h("p", { className: "memory-summary muted", "aria-live": "polite" });
  summary.hidden = true;
  const hits = h("ol", { className: "memory-hits", "aria-label": "Facts found" });
  const form = h(
    "form",
    { className: "memory-search-form", role: "search", "aria-label": "Search the facts", onsubmit: (e) => submit(e) },
    h("div", { className: "form-row" }, field("Search by meaning", q), field("How many facts", k, `1 to ${MAX_K}`)),
    h("div", { className: "actions" }, go),
  );
  const el = panel("Search", form, problem, summary, hits);
  el.dataset.memory = "search";
  let controller = null;

  async function search(text, count) {
    controller?.abort();
    const mine = (controller = new AbortController());
    const leave = () => mine.abort();
    ctx.signal.addEventListener("abort", leave);
    el.setAttribute("aria-busy", "true");
    try {
      const answer = await api("/api/memory/search", { query: { q: text, k: count }, signal: mine.signal });
      const found = Array.isArray(answer.hits) ? answer.hits : [];
      problem.show(null);
      setText(summary, `${plural(found.length, "fact")} for “${String(answer.query ?? text)}”`);
      summary.hidden = false;
      hits.replaceChildren(...(found.length ? found.map(hitItem) : [h("li", {}, empty("Nothing remembered matches."))]));
    } catch (err) {
      if (err.name === "AbortError") return;
      problem.show(err);
      summary.hidden = true;
      hits.replaceChildren();
    } finally {
      ctx.signal.removeEventListener("abort", leave);
      if (controller === mine) {
        controller = null;
        el.removeAttribute("aria-busy");
      }
    }
  }

  function submit(event) {
    event.preventDefault();
    const text = q.value.trim();
    if (!text) return;
    const count = Number.parseInt(k.value, 10);
    ctx.setQuery({ q: text, k: count === DEFAULT_K ? null : k.value });
    search(text, k.value);
  }

  /** Runs the search the URL names, if any (a deep link or a reload). */
  el.start = () => {
    const text = (ctx.query.get("q") ?? "").trim();
    const count = ctx.query.get("k");
    if (count) k.value = count;
    if (!text) return;
    q.value = text;
    search(text, k.value);
  };
  return el;
}
