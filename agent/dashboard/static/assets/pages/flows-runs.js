// The open flow's runs on every member (the latest 50, newest first): state, trigger, member,
// age and duration; choosing one opens its timeline.

import { h } from "../core/dom.js";
import { ago } from "../core/format.js";
import { badge, empty, panel, table } from "../core/ui.js";
import { nodeName } from "./models-words.js";
import { millisText, stateWord } from "./flows-format.js";

const COLUMNS = ["Run", "State", "Trigger", "Member", "Started", { label: "Duration", num: true }];

/** The runs panel; `show(runList, selectedRunId)`, `clear(text)`. */
export function runsPanel(handlers) {
  const none = empty("No run yet.");
  const grid = table("Runs", COLUMNS);
  const el = panel("Runs", none, grid);
  el.dataset.flows = "runs";
  el.show = (listing, selected) => {
    const runs = Array.isArray(listing?.runs) ? listing.runs : [];
    none.hidden = runs.length > 0;
    grid.hidden = runs.length === 0;
    grid.body.replaceChildren(
      ...runs.map((run) => {
        const id = String(run.id);
        const open = h("button", { type: "button", className: "flows-run-link", onclick: () => handlers.onSelect(id), "aria-label": `Open run ${id}` }, id.slice(0, 12));
        const row = h(
          "tr",
          { className: "flows-run-row", dataset: { run: id, state: String(run.state) } },
          h("td", {}, open),
          h("td", {}, badge(String(run.state), stateWord(run.state)), run.skipped_count > 1 ? ` ×${Number(run.skipped_count)}` : ""),
          h("td", {}, String(run.trigger?.kind ?? "")),
          h("td", {}, nodeName(run.node_id)),
          h("td", {}, ago(run.created_at)),
          h("td", { className: "num" }, millisText(run.duration_ms) || "—"),
        );
        if (id === selected) row.setAttribute("aria-current", "true");
        return row;
      }),
    );
  };
  el.clear = (text = "No run yet.") => {
    none.textContent = text;
    el.show({ runs: [] });
  };
  return el;
}
