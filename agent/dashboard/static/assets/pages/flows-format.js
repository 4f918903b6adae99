// How the Flows page reads: states in words, durations, the format of a definition's text, and
// the starter definition of a new flow. Everything answers text: names, sources, errors and
// logs come from definitions and steps written anywhere in the cluster.

import { num } from "../core/store.js";

export { errorText } from "./brain-format.js";

const WORDS = {
  queued: "Queued",
  running: "Running",
  waiting: "Waiting",
  succeeded: "Succeeded",
  failed: "Failed",
  cancelled: "Cancelled",
  skipped: "Skipped",
  interrupted: "Interrupted",
  pending: "Pending",
};
const ACTIVE = new Set(["queued", "running", "waiting", "interrupted"]);

export const stateWord = (state) => WORDS[state] ?? String(state ?? "unknown");
export const isActive = (state) => ACTIVE.has(state);

/** "850 ms", "3.2 s", "4m 10s"; "" when unknown. */
export function millisText(value) {
  const ms = num(value);
  if (ms == null) return "";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  return s < 3600 ? `${Math.floor(s / 60)}m ${s % 60}s` : `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}

/** The definition's text format as the API takes it: JSON when it opens like JSON. */
export const formatOf = (text) => (/^\s*[{[]/.test(text) ? "json" : "yaml");

export const CONTENT_TYPES = { yaml: "application/yaml", json: "application/json" };

/** The triggers of a flow in words ("by hand only" when it has none). */
export function triggersText(flow) {
  const triggers = Array.isArray(flow?.triggers) ? flow.triggers : [];
  if (!triggers.length) return "by hand only";
  return triggers.map((t) => String(t.summary ?? t.kind ?? "")).join("; ");
}

/** Whether a run's step is a parsed definition's step (so "Rerun from here" applies). */
export const stepIds = (flow) =>
  Array.isArray(flow?.definition?.steps) ? flow.definition.steps.map((s) => String(s.id)) : [];

export const STARTER = `name: My new flow
description: What this flow is for.
enabled: true
mode: single
inputs:
  greeting: {type: string, default: Hello, description: What to write}
triggers:
  - manual: {}
steps:
  - id: pause
    uses: wait
    with: {duration: 1s}
  - id: note
    uses: storage.put
    with:
      path: "flows/\${{ flow.id }}/\${{ run.id }}.txt"
      content: "\${{ inputs.greeting }} from run \${{ run.id }}"
outputs:
  path: \${{ steps.note.outputs.path }}
`;
