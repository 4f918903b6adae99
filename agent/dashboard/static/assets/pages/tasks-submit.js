// Submitting a command: where it runs, how long it may and how often it is retried.

import { api } from "../core/api.js";
import { h } from "../core/dom.js";
import { members } from "../core/store.js";
import { button, field, panel, toast } from "../core/ui.js";

const ANY = "";

function nodeOptions(select) {
  const chosen = select.value;
  const options = [h("option", { value: ANY }, "Any node (scheduler decides)")];
  for (const node of members()) {
    const label = `${node.name}${node.is_self ? " (this node)" : ""} — ${node.state}`;
    options.push(
      h("option", { value: node.node_id, disabled: node.state === "offline", dataset: { name: node.name } }, label),
    );
  }
  select.replaceChildren(...options);
  const still = options.find((o) => o.value === chosen && !o.disabled);
  select.value = still ? chosen : ANY;
}

/** The submit panel; on success the page moves to the new task. */
export function submitPanel(ctx) {
  const command = h("input", {
    type: "text",
    name: "command",
    required: true,
    autocomplete: "off",
    spellcheck: false,
    className: "mono",
    placeholder: "e.g. uname -a",
  });
  const node = h("select", { name: "node" });
  const timeout = h("input", { type: "number", name: "timeout", min: "1", step: "any", inputMode: "decimal", placeholder: "none" });
  const retries = h("input", { type: "number", name: "retries", min: "0", max: "10", step: "1", value: "0", inputMode: "numeric" });
  const submit = button("Run", null, { kind: "primary", type: "submit" });
  nodeOptions(node);
  ctx.onCluster((change) => {
    if (change.kind !== "telemetry") nodeOptions(node);
  });

  async function send(event) {
    event.preventDefault();
    const body = { command: command.value, retries: Number(retries.value || 0) };
    if (node.value) body.preferred_node = node.value;
    if (timeout.value) body.timeout_s = Number(timeout.value);
    submit.disabled = true;
    try {
      const task = await api("/api/tasks", { method: "POST", body, signal: ctx.signal });
      ctx.navigate(`/tasks/${encodeURIComponent(task.task_id)}`);
    } catch (err) {
      if (err.name !== "AbortError") toast(err.message, "error");
    } finally {
      submit.disabled = false;
    }
  }

  const form = h(
    "form",
    { className: "task-form", onsubmit: send, "aria-label": "Submit a command" },
    field("Command", command, "Runs with sh -c on the chosen node."),
    h(
      "div",
      { className: "form-row" },
      field("Run on", node),
      field("Timeout (s)", timeout),
      field("Retries if lost", retries),
    ),
    h("div", { className: "actions" }, submit),
  );
  return panel("Run a command", form);
}
