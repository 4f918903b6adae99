// Search over the whole cluster's documents (GET /api/brain/search): each hit with its score,
// the member that holds it, where it is (path and lines), the headings above it and a snippet;
// and the members that were not searched, with why. The query is part of the URL, so a search
// is a deep link. File contents and paths come from other members: they are shown as text.

import { api } from "../core/api.js";
import { h, setText } from "../core/dom.js";
import { plural } from "../core/format.js";
import { num } from "../core/store.js";
import { button, empty, field, panel } from "../core/ui.js";
import { nodeName } from "./models-words.js";
import { headingText, inlineError, scoreText, whereText } from "./brain-format.js";

const MODES = [
  ["hybrid", "Hybrid"],
  ["vector", "Vector: by meaning"],
  ["lexical", "Lexical: by words"],
];
const DEFAULT_K = 10;
const MAX_K = 50;

const flat = (x) => String(x ?? "").replace(/\s+/g, " ").trim();

function hitItem(hit) {
  const heading = headingText(hit.heading);
  const score = scoreText(hit.score);
  const text = String(hit.text ?? "");
  return h(
    "li",
    { className: "brain-hit", dataset: { path: String(hit.path), node: String(hit.node_id) } },
    h("div", { className: "brain-hit-head" },
      h("span", { className: "brain-score", title: `Score ${hit.score}` }, h("span", { className: "visually-hidden" }, "Score "), score),
      h("span", { className: "brain-node" }, nodeName(hit.node_id, hit.node_name)),
      h("span", { className: "brain-path brain-where" }, whereText(hit))),
    heading ? h("p", { className: "brain-heading muted" }, heading) : null,
    h("p", { className: "brain-snippet" }, String(hit.snippet ?? "")),
    flat(text) !== flat(hit.snippet)
      ? h("details", { className: "brain-text" }, h("summary", {}, "Whole passage"), h("pre", { className: "output" }, text))
      : null,
  );
}

function notSearchedPart(missing) {
  if (!missing.length) return null;
  return h(
    "div",
    { className: "brain-not-searched" },
    h("h3", {}, "Not searched"),
    h("ul", {}, ...missing.map((m) =>
      h("li", { dataset: { node: String(m.node_id) } },
        h("strong", {}, nodeName(m.node_id, m.name)), h("span", { className: "muted" }, `: ${m.reason}`)))),
  );
}

function summaryText(answer) {
  const took = num(answer.took_ms);
  const parts = [plural(num(answer.count) ?? answer.hits.length, "result")];
  parts.push(`${plural(answer.searched?.length ?? 0, "node")} searched`);
  if (took != null) parts.push(`${took.toFixed(0)} ms`);
  return parts.join(" · ");
}

export function searchPanel(ctx) {
  const q = h("input", { type: "search", name: "q", required: true, maxLength: 2000, autocomplete: "off", placeholder: "How do I join a node?" });
  const mode = h("select", { name: "mode" }, ...MODES.map(([value, text]) => h("option", { value }, text)));
  const k = h("input", { type: "number", name: "k", min: 1, max: MAX_K, step: 1, value: DEFAULT_K, required: true });
  const go = button("Search", null, { kind: "primary", type: "submit" });
  const problem = inlineError();
  const summary = h("p", { className: "brain-summary muted", "aria-live": "polite" });
  const hits = h("ol", { className: "brain-hits", "aria-label": "Search results" });
  const missing = h("div");
  const form = h(
    "form",
    { className: "brain-search-form", role: "search", "aria-label": "Document search", onsubmit: (e) => submit(e) },
    h("div", { className: "form-row" },
      field("Search the documents", q),
      field("Mode", mode),
      field("How many results", k, `1 to ${MAX_K}`)),
    h("div", { className: "actions" }, go),
  );
  const el = panel("Search", form, problem, summary, hits, missing);
  el.dataset.brain = "search";
  summary.hidden = true;
  let controller = null;

  async function search(text, how, count) {
    controller?.abort();
    const mine = (controller = new AbortController());
    const leave = () => mine.abort();
    ctx.signal.addEventListener("abort", leave);
    el.setAttribute("aria-busy", "true");
    try {
      const answer = await api("/api/brain/search", { query: { q: text, mode: how, k: count }, signal: mine.signal });
      problem.show(null);
      const found = Array.isArray(answer.hits) ? answer.hits : [];
      setText(summary, summaryText({ ...answer, hits: found }));
      summary.hidden = false;
      hits.replaceChildren(...(found.length ? found.map(hitItem) : [h("li", {}, empty("Nothing matches."))]));
      missing.replaceChildren(notSearchedPart(Array.isArray(answer.not_searched) ? answer.not_searched : []) ?? "");
    } catch (err) {
      if (err.name === "AbortError") return;
      problem.show(err);
      summary.hidden = true;
      hits.replaceChildren();
      missing.replaceChildren();
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
    ctx.setQuery({ q: text, mode: mode.value === "hybrid" ? null : mode.value, k: count === DEFAULT_K ? null : k.value });
    search(text, mode.value, k.value);
  }

  /** Runs the search the URL names, if any (a deep link or a reload). */
  el.start = () => {
    const text = (ctx.query.get("q") ?? "").trim();
    const how = ctx.query.get("mode");
    if (MODES.some(([value]) => value === how)) mode.value = how;
    const count = ctx.query.get("k");
    if (count) k.value = count;
    if (!text) return;
    q.value = text;
    search(text, mode.value, k.value);
  };
  return el;
}
