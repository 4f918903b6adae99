// The facts list: every active fact with its key, tags, source (and chat session), node and
// age, newest first. With "Show history" each active fact carries the chain of facts it
// replaced (newest first), and replaced facts whose successor is gone are listed apart.
// Forgetting a fact asks first. Fact texts are shown as text only.

import { h, setText } from "../core/dom.js";
import { plural } from "../core/format.js";
import { button, empty, panel } from "../core/ui.js";
import { ageElement, nodeText, sourceText } from "./memory-format.js";

function metaLine(fact) {
  const tags = Array.isArray(fact.tags) ? fact.tags : [];
  return h(
    "p",
    { className: "memory-meta muted" },
    fact.key ? h("code", { className: "memory-key" }, String(fact.key)) : null,
    ...tags.map((t) => h("span", { className: "tag memory-tag" }, String(t))),
    h("span", { className: "memory-source" }, sourceText(fact)),
    h("span", { className: "memory-node" }, nodeText(fact)),
    ageElement(fact.created_at),
  );
}

function historyItem(fact, successor) {
  return h(
    "li",
    { className: "memory-old", dataset: { id: String(fact.id), state: "superseded" } },
    h("p", { className: "memory-text" }, String(fact.text)),
    metaLine(fact),
    h("p", { className: "memory-replaced muted" },
      "Replaced ", ageElement(fact.superseded_at, "memory-replaced-at"),
      successor ? ` by “${String(successor.text)}”` : " by a fact since forgotten"),
  );
}

function factItem(fact, chain, byId, onForget) {
  const text = String(fact.text);
  const forget = button("Forget", () => onForget(fact), { kind: "danger small", label: `Forget: ${text.slice(0, 80)}` });
  forget.classList.add("memory-delete");
  const el = h(
    "li",
    { className: "memory-fact", dataset: { id: String(fact.id), key: String(fact.key ?? ""), state: "active" } },
    h("div", { className: "memory-fact-head" }, h("p", { className: "memory-text" }, text), forget),
    metaLine(fact),
  );
  if (chain.length) {
    el.append(h(
      "details",
      { className: "memory-chain-box", open: true },
      h("summary", {}, `History: ${plural(chain.length, "earlier fact")}`),
      h("ol", { className: "memory-chain", "aria-label": "Facts it replaced" },
        ...chain.map((old) => historyItem(old, byId.get(old.superseded_by)))),
    ));
  }
  return el;
}

/**
 * Groups superseded facts under the active fact at the end of their `superseded_by` chain,
 * newest first. Answers {chains: Map(activeId -> [facts]), orphans: [facts]}.
 */
export function chainsOf(facts) {
  const byId = new Map(facts.map((f) => [String(f.id), f]));
  const chains = new Map();
  const orphans = [];
  for (const fact of facts) {
    if (!fact.superseded_by) continue;
    let head = fact;
    const seen = new Set();
    // Bounded by the list itself; a loop in hostile data ends at a fact already seen.
    while (head?.superseded_by && !seen.has(head.id)) {
      seen.add(head.id);
      head = byId.get(String(head.superseded_by));
    }
    if (head && !head.superseded_by) {
      if (!chains.has(head.id)) chains.set(head.id, []);
      chains.get(head.id).push(fact);
    } else orphans.push(fact);
  }
  const newest = (a, b) => (b.superseded_at ?? 0) - (a.superseded_at ?? 0);
  for (const list of chains.values()) list.sort(newest);
  orphans.sort(newest);
  return { chains, orphans, byId };
}

/** The facts panel; `show(list, {history})` with each FactList. */
export function factsPanel({ onForget, onHistory, onClear }) {
  const toggle = h("input", { type: "checkbox", name: "history" });
  toggle.addEventListener("change", () => onHistory(toggle.checked));
  const clear = button("Forget everything", () => onClear(), { kind: "danger small" });
  const count = h("p", { className: "memory-count muted", "aria-live": "polite" });
  const list = h("ol", { className: "memory-facts", "aria-label": "Facts" });
  const none = empty("Nothing remembered yet: add a fact above, or chat with “Use memory”.");
  const orphans = h("div", { className: "memory-orphans" });
  const bar = h("div", { className: "memory-bar" },
    h("label", { className: "memory-history-toggle" }, toggle, h("span", {}, "Show history")), clear);
  const el = panel("Facts", bar, count, none, list, orphans);
  el.dataset.memory = "facts";

  el.history = () => toggle.checked;
  el.show = (listing, { history }) => {
    const facts = Array.isArray(listing?.facts) ? listing.facts : [];
    const active = facts.filter((f) => !f.superseded_by);
    const { chains, orphans: lost, byId } = history ? chainsOf(facts) : { chains: new Map(), orphans: [], byId: new Map() };
    list.replaceChildren(...active.map((f) => factItem(f, chains.get(f.id) ?? [], byId, onForget)));
    const earlier = lost.map((f) => historyItem(f, byId.get(String(f.superseded_by))));
    orphans.replaceChildren(...(earlier.length
      ? [h("h3", {}, "Earlier facts"), h("ol", { className: "memory-chain", "aria-label": "Earlier facts" }, ...earlier)]
      : []));
    none.hidden = active.length > 0;
    list.hidden = active.length === 0;
    const older = facts.length - active.length;
    setText(count, `${plural(active.length, "active fact")}${history ? ` · ${older} in history` : ""}`);
  };
  return el;
}
