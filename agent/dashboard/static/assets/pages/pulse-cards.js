// Pulse on the overview: the cluster's active insight cards (GET /api/pulse/insights), each
// with its severity, title, what is happening and why it matters, the node it is about,
// since when, the suggested action and a Dismiss button; "All clear" when there is none.
// Any member serves the same cards (one node evaluates the rules). The list is loaded again
// on every pulse.insight.* event; texts come from the rules and the members' telemetry and
// are shown as text only.

import { api, coalesced } from "../core/api.js";
import { h, setText } from "../core/dom.js";
import { plural } from "../core/format.js";
import { badge, button, toast, useStyles } from "../core/ui.js";
import { errorText } from "./brain-format.js";
import { ageElement, refreshAges } from "./memory-format.js";
import { nodeName } from "./models-words.js";
import { weeklyPart } from "./pulse-weekly.js";

const AGES_EVERY_MS = 30000;
const SEVERITY_STATE = { critical: "fail", warning: "warn", info: "ok" };

function placeText(card) {
  const where = card.node_id ? nodeName(card.node_id, card.node_name) : "Whole cluster";
  return card.subject ? `${where} · ${String(card.subject)}` : where;
}

function insightCard(card, onDismiss) {
  const severity = String(card.severity);
  const title = String(card.title);
  const dismiss = button("Dismiss", () => onDismiss(card, dismiss), { kind: "small", label: `Dismiss: ${title}` });
  return h(
    "article",
    { className: "pulse-card", dataset: { insightId: String(card.id), severity, rule: String(card.rule) }, "aria-label": `${severity}: ${title}` },
    h("div", { className: "pulse-head" },
      badge(SEVERITY_STATE[severity] ?? "unknown", severity),
      h("h3", { className: "pulse-title" }, title),
      dismiss),
    h("p", { className: "pulse-what" }, String(card.what ?? "")),
    card.why ? h("p", { className: "pulse-why muted" }, String(card.why)) : null,
    card.action ? h("p", { className: "pulse-action" }, h("strong", {}, "Suggested: "), String(card.action)) : null,
    h("p", { className: "pulse-foot muted" },
      h("span", { className: "pulse-node" }, placeText(card)),
      h("span", {}, "since ", ageElement(card.since, "pulse-since"))),
  );
}

/** The Pulse panel: {el, load()}. */
export function pulsePanel(ctx) {
  useStyles("/assets/pages/pulse.css");
  const count = h("span", { className: "pulse-count muted", "aria-live": "polite" });
  const cards = h("div", { className: "pulse-cards", role: "list", "aria-label": "Insights" });
  const clear = h("p", { className: "pulse-clear", dataset: { pulse: "clear" } }, "All clear: nothing needs attention.");
  const problem = h("p", { className: "pulse-problem", role: "alert" });
  problem.hidden = true;
  clear.hidden = true;
  const weekly = weeklyPart(ctx);
  const el = h(
    "section",
    { className: "panel pulse", "aria-labelledby": "pulse-title", dataset: { pulse: "" } },
    h("div", { className: "pulse-top" }, h("h2", { id: "pulse-title" }, "Pulse"), count),
    problem,
    clear,
    cards,
    weekly.el,
  );

  async function onDismiss(card, control) {
    control.disabled = true;
    try {
      await api(`/api/pulse/insights/${encodeURIComponent(card.id)}/dismiss`, { method: "POST", signal: ctx.signal });
    } catch (err) {
      if (err.name === "AbortError") return;
      toast(errorText(err), "error");
      control.disabled = false;
    }
    load();
  }

  const show = (listing) => {
    const insights = Array.isArray(listing?.insights) ? listing.insights.filter((c) => !c.dismissed) : [];
    cards.replaceChildren(...insights.map((c) => {
      const item = insightCard(c, onDismiss);
      item.setAttribute("role", "listitem");
      return item;
    }));
    clear.hidden = insights.length > 0;
    cards.hidden = insights.length === 0;
    const critical = insights.filter((c) => c.severity === "critical").length;
    setText(count, insights.length ? `${plural(insights.length, "insight")}${critical ? ` · ${critical} critical` : ""}` : "");
    el.dataset.pulse = insights.length ? "active" : "clear";
  };

  const load = coalesced(async () => {
    try {
      show(await api("/api/pulse/insights", { signal: ctx.signal }));
      problem.hidden = true;
    } catch (err) {
      if (err.name === "AbortError" || err.status === 401) return;
      problem.hidden = false;
      setText(problem, `Pulse could not be read: ${errorText(err)}`);
    }
  }, ctx.signal);

  ctx.on("pulse.insight", () => load());
  ctx.on("stream.resync", () => load());
  ctx.every(AGES_EVERY_MS, () => refreshAges(el));
  return { el, load };
}
