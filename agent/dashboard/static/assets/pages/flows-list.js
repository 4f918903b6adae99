// The cluster's flows, one card each, updated in place (an open inputs form survives live
// updates): name (selects it), the enable switch, its triggers in words, the member that runs
// them, the last run's state and age, and Run (with a form when the flow declares inputs).

import { h, setText } from "../core/dom.js";
import { ago } from "../core/format.js";
import { badge, button, empty, panel, setBadge } from "../core/ui.js";
import { nodeName } from "./models-words.js";
import { stateWord, triggersText } from "./flows-format.js";
import { inputsForm } from "./flows-inputs.js";

function flowCard(flow, handlers) {
  const id = String(flow.id);
  const name = h("button", { type: "button", className: "flows-name linklike", onclick: () => handlers.onSelect(id) });
  const toggle = h("input", { type: "checkbox", role: "switch", "aria-label": `Enabled: ${String(flow.name)}` });
  toggle.addEventListener("change", () => handlers.onToggle(id, toggle.checked, toggle));
  const triggers = h("p", { className: "flows-triggers" });
  const owner = h("span", { className: "flows-owner" });
  const lastState = badge("pending", "never run");
  const lastAge = h("span", { className: "flows-last-age muted" });
  const formBox = h("div", { className: "flows-run-form" });
  formBox.hidden = true;
  const run = button("Run", () => {
    const form = inputsForm(flow, (inputs) => handlers.onRun(id, inputs).then(() => {
      formBox.hidden = true;
    }));
    if (!form.hasInputs) {
      handlers.onRun(id, {}).catch(() => {});
      return;
    }
    formBox.hidden = !formBox.hidden;
    formBox.replaceChildren(form);
    form.querySelector("input, select, textarea")?.focus();
  }, { kind: "small", label: `Run ${String(flow.name)}` });
  const el = h(
    "li",
    { className: "flows-item", dataset: { id } },
    h("div", { className: "flows-item-head" }, name,
      h("span", { className: "flows-item-actions" },
        h("label", { className: "flows-switch" }, toggle, h("span", {}, "Enabled")), run)),
    triggers,
    h("p", { className: "flows-facts muted" }, owner, h("span", { className: "flows-last" }, lastState, " ", lastAge)),
    formBox,
  );
  el.update = (fresh) => {
    flow = fresh;
    setText(name, String(fresh.name));
    toggle.checked = Boolean(fresh.enabled);
    el.dataset.enabled = String(Boolean(fresh.enabled));
    setText(triggers, triggersText(fresh));
    setText(owner, fresh.owner ? `runs on ${nodeName(fresh.owner)}` : "no member runs it now");
    const last = fresh.last_run;
    if (last) setBadge(lastState, String(last.state), stateWord(last.state));
    else setBadge(lastState, "pending", "never run");
    el.dataset.lastState = last ? String(last.state) : "";
    setText(lastAge, last ? ago(last.finished_at ?? last.created_at) : "");
  };
  el.select = (selected) => {
    if (selected) el.setAttribute("aria-current", "true");
    else el.removeAttribute("aria-current");
  };
  el.tick = () => {
    const last = flow.last_run;
    setText(lastAge, last ? ago(last.finished_at ?? last.created_at) : "");
  };
  el.update(flow);
  return el;
}

/** The flows panel; `show(listing)` with each FlowList, `select(id)` marks the open one. */
export function flowsPanel(handlers) {
  const list = h("ul", { className: "flows-list", "aria-label": "Flows" });
  const count = h("p", { className: "muted", "aria-live": "polite" });
  const add = button("New flow", () => handlers.onNew(), { kind: "primary small" });
  const none = empty("No flow yet: start one from the template with New flow.");
  const el = panel("Flows", h("div", { className: "flows-panel-head" }, count, add), none, list);
  el.dataset.flows = "list";
  const cards = new Map();
  let selected = null;
  el.show = (listing) => {
    const flows = Array.isArray(listing?.flows) ? listing.flows : [];
    const seen = new Set();
    flows.forEach((flow, i) => {
      const key = String(flow.id);
      seen.add(key);
      let card = cards.get(key);
      if (card) card.update(flow);
      else cards.set(key, (card = flowCard(flow, handlers)));
      card.select(key === selected);
      if (list.children[i] !== card) list.insertBefore(card, list.children[i] ?? null);
    });
    for (const [key, card] of cards) {
      if (!seen.has(key)) {
        card.remove();
        cards.delete(key);
      }
    }
    none.hidden = flows.length > 0;
    setText(count, `${flows.length} flow${flows.length === 1 ? "" : "s"}`);
  };
  el.select = (id) => {
    selected = id;
    cards.forEach((card, key) => card.select(key === id));
  };
  el.tick = () => cards.forEach((card) => card.tick());
  return el;
}
