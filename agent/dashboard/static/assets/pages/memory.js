// Memory: the facts the assistant remembers, the same on every member. Adding by hand,
// forgetting one or all (each asks first), the history of replaced facts, and search by
// meaning. The list is loaded again on every memory.* event (facts added, superseded or
// removed here, on another member or by a chat), however many come at once: one request in
// flight and at most one queued behind it.

import { api, coalesced } from "../core/api.js";
import { h } from "../core/dom.js";
import { plural } from "../core/format.js";
import { confirmDialog, errorBox, pageHeader, toast, useStyles } from "../core/ui.js";
import { errorText } from "./brain-format.js";
import { addPanel } from "./memory-add.js";
import { factsPanel } from "./memory-facts.js";
import { refreshAges } from "./memory-format.js";
import { searchPanel } from "./memory-search.js";

const AGES_EVERY_MS = 30000;

export default {
  async mount(view, ctx) {
    useStyles("/assets/pages/memory.css");
    const banner = h("div", { className: "memory-banner" });
    const facts = factsPanel({ onForget: forget, onHistory: () => load(), onClear: clearAll });
    const add = addPanel(ctx, { onAdded: () => load() });
    const search = searchPanel(ctx);
    view.append(
      pageHeader("Memory", { sub: "Facts the assistant remembers, shared by every member. A new fact with the key of an active one replaces it." }),
      banner,
      h("div", { className: "memory-grid" }, h("div", { className: "memory-column" }, add, search), facts),
    );

    const load = coalesced(async () => {
      const history = facts.history();
      let listing;
      try {
        const query = history ? { include_superseded: "true" } : undefined;
        listing = await api("/api/memory", { query, signal: ctx.signal });
      } catch (err) {
        if (err.name !== "AbortError") banner.replaceChildren(errorBox(err, "The facts could not load"));
        return;
      }
      banner.replaceChildren();
      // The toggle may have moved while the request was out: the next load (queued) shows it.
      if (history === facts.history()) facts.show(listing, { history });
    }, ctx.signal);

    async function forget(fact) {
      const confirmed = await confirmDialog({
        title: "Forget this fact?",
        message: `“${String(fact.text)}” is removed on every member, with no way back.`,
        confirm: "Forget",
      });
      if (!confirmed) return;
      try {
        await api(`/api/memory/${encodeURIComponent(fact.id)}`, { method: "DELETE", signal: ctx.signal });
        toast("Forgotten.", "ok");
      } catch (err) {
        if (err.name !== "AbortError") toast(errorText(err), "error");
      }
      load();
    }

    async function clearAll() {
      const confirmed = await confirmDialog({
        title: "Forget every fact?",
        message: "Every fact, history included, is removed on every member, with no way back.",
        confirm: "Forget everything",
      });
      if (!confirmed) return;
      try {
        const cleared = await api("/api/memory", { method: "DELETE", query: { confirm: "true" }, signal: ctx.signal });
        toast(`Forgot ${plural(Number(cleared?.removed) || 0, "fact")}.`, "ok");
      } catch (err) {
        if (err.name !== "AbortError") toast(errorText(err), "error");
      }
      load();
    }

    ctx.on("memory", () => load());
    ctx.on("stream.resync", () => load());
    ctx.every(AGES_EVERY_MS, () => refreshAges(view));
    await load();
    search.start();
  },
};
