// How the Tools page reads: a server's state in words, a tool's input schema in one line,
// the timings of a test call. Everything answers text (or DOM built from text): names,
// descriptions, reasons and stderr come from server processes and other members.

import { h } from "../core/dom.js";
import { plural } from "../core/format.js";
import { num } from "../core/store.js";

export { errorText, inlineError } from "./brain-format.js";

const STATES = { ready: "Ready", starting: "Starting", failed: "Failed", stopped: "Stopped" };
const MAX_SUMMARY_PARAMS = 12;

export const stateWord = (state) => STATES[state] ?? String(state ?? "unknown");

/** "restarting in 4s" when a restart is due, else "". */
export function restartText(server, now = Date.now() / 1000) {
  const at = num(server?.next_restart_at);
  if (at == null) return "";
  const wait = Math.max(0, Math.ceil(at - now));
  return wait > 0 ? `restarting in ${wait}s` : "restarting now";
}

/** "2 tools", "no tools", or "tools not listed yet" (the server has not started). */
export function toolCountText(count) {
  const n = num(count);
  if (n == null) return "tools not listed yet";
  return n === 0 ? "no tools" : plural(n, "tool");
}

const typeOf = (schema) => {
  if (!schema || typeof schema !== "object") return "any";
  if (Array.isArray(schema.type)) return schema.type.map(String).join("|");
  if (schema.type) return String(schema.type);
  if (Array.isArray(schema.enum)) return "enum";
  return "any";
};

/** "timezone: string*, limit: integer" (* required), or "no arguments". */
export function schemaSummary(schema) {
  const props = schema && typeof schema === "object" && schema.properties && typeof schema.properties === "object" ? schema.properties : {};
  const required = new Set(Array.isArray(schema?.required) ? schema.required.map(String) : []);
  const names = Object.keys(props);
  if (!names.length) return "no arguments";
  const shown = names.slice(0, MAX_SUMMARY_PARAMS).map((name) => `${name}: ${typeOf(props[name])}${required.has(name) ? "*" : ""}`);
  if (names.length > MAX_SUMMARY_PARAMS) shown.push(`… ${names.length - MAX_SUMMARY_PARAMS} more`);
  return shown.join(", ");
}

/** A skeleton of the arguments a tool takes, to start the JSON editor from. */
export function argumentsTemplate(schema) {
  const props = schema?.properties && typeof schema.properties === "object" ? schema.properties : {};
  const sample = { string: "", integer: 0, number: 0, boolean: false, array: [], object: {} };
  const out = {};
  for (const [name, prop] of Object.entries(props)) {
    if (prop && typeof prop === "object" && "default" in prop) out[name] = prop.default;
    else if (Array.isArray(prop?.enum) && prop.enum.length) out[name] = prop.enum[0];
    else out[name] = sample[typeOf(prop)] ?? null;
  }
  return out;
}

const ms = (value) => (num(value) == null ? null : `${num(value).toFixed(num(value) < 10 ? 1 : 0)} ms`);

/** "start 812 ms · call 3.2 ms · total 816 ms" (start only when the call started the server). */
export function timingsText(timings) {
  const parts = [];
  if (ms(timings?.start_ms)) parts.push(`start ${ms(timings.start_ms)}`);
  if (ms(timings?.call_ms)) parts.push(`call ${ms(timings.call_ms)}`);
  if (ms(timings?.total_ms)) parts.push(`total ${ms(timings.total_ms)}`);
  return parts.join(" · ");
}

export const durationText = (value) => ms(value) ?? "";

/** A <pre> of JSON (or text) that wraps instead of widening the page. */
export function jsonBlock(value, className = "mcp-json") {
  const text = typeof value === "string" ? value : JSON.stringify(value, null, 2);
  return h("pre", { className: `output ${className}` }, text ?? "");
}
