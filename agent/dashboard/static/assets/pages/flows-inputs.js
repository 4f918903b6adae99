// The form a run starts from: one field per input the definition declares (its type, default,
// enum and whether it is required), values checked before anything is sent. Numbers, booleans,
// objects and arrays are sent as such; an object or array is typed as JSON.

import { h } from "../core/dom.js";
import { button, field } from "../core/ui.js";
import { errorText } from "./flows-format.js";

function control(name, spec) {
  const type = String(spec?.type ?? "string");
  const label = `${name}${spec?.required ? " *" : ""}`;
  const has = spec && "default" in spec && spec.default != null;
  let input;
  if (Array.isArray(spec?.enum) && spec.enum.length) {
    input = h("select", { name }, ...spec.enum.map((v) => h("option", { value: JSON.stringify(v) }, String(v))));
    if (has) input.value = JSON.stringify(spec.default);
  } else if (type === "boolean") {
    input = h("select", { name }, h("option", { value: "true" }, "true"), h("option", { value: "false" }, "false"));
    input.value = has && spec.default === true ? "true" : "false";
  } else if (type === "object" || type === "array") {
    input = h("textarea", { name, rows: 3, spellcheck: false, className: "flows-json-input" });
    input.value = has ? JSON.stringify(spec.default, null, 2) : type === "object" ? "{}" : "[]";
  } else {
    input = h("input", { name, type: type === "string" ? "text" : "number", step: type === "integer" ? "1" : "any" });
    if (has) input.value = String(spec.default);
  }
  const read = () => {
    if (input.tagName === "SELECT" && type !== "boolean") return JSON.parse(input.value);
    if (type === "boolean") return input.value === "true";
    if (type === "object" || type === "array") {
      try {
        return JSON.parse(input.value);
      } catch {
        throw new Error(`${name}: not valid JSON`);
      }
    }
    if (type === "number" || type === "integer") {
      if (input.value.trim() === "") {
        if (spec?.required) throw new Error(`${name}: a value is required`);
        return undefined;
      }
      const n = Number(input.value);
      if (!Number.isFinite(n) || (type === "integer" && !Number.isInteger(n))) throw new Error(`${name}: not ${type === "integer" ? "an integer" : "a number"}`);
      return n;
    }
    if (input.value === "" && !has && spec?.required === false) return undefined;
    return input.value;
  };
  return { el: field(label, input, spec?.description ? String(spec.description) : ""), read };
}

/**
 * A form for `flow`'s inputs; `onRun(inputs)` when submitted (answers a promise: the form
 * stays busy until it settles). `el.error` shows what was wrong.
 */
export function inputsForm(flow, onRun) {
  const specs = flow?.definition?.inputs && typeof flow.definition.inputs === "object" ? flow.definition.inputs : {};
  const controls = Object.entries(specs).map(([name, spec]) => [name, control(name, spec)]);
  const error = h("p", { className: "flows-error", role: "alert", hidden: true });
  const start = button("Start run", null, { kind: "primary small", type: "submit" });
  const form = h(
    "form",
    { className: "flows-inputs", "aria-label": `Inputs of ${String(flow.name)}` },
    ...controls.map(([, c]) => c.el),
    error,
    h("div", { className: "actions" }, start),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const inputs = {};
    try {
      for (const [name, c] of controls) {
        const value = c.read();
        if (value !== undefined) inputs[name] = value;
      }
    } catch (err) {
      error.hidden = false;
      error.textContent = err.message;
      return;
    }
    error.hidden = true;
    start.disabled = true;
    try {
      await onRun(inputs);
    } catch (err) {
      if (err.name === "AbortError") return;
      error.hidden = false;
      error.textContent = errorText(err);
    } finally {
      start.disabled = false;
    }
  });
  form.hasInputs = controls.length > 0;
  return form;
}
