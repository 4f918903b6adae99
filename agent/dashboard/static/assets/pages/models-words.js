// What the models views say in words: node names, a model's facts, the planner's verdict.

import { bytes, shortId } from "../core/format.js";
import { cluster, num } from "../core/store.js";

const GIB = 2 ** 30;

/** A member's name as the store knows it, else the name the answer carried, else its id. */
export function nodeName(nodeId, fallback) {
  return cluster.nodes.get(nodeId)?.name ?? fallback ?? shortId(nodeId);
}

/** "qwen2 · 494.03M parameters · Q4_K_M", from what the model's holder reported. */
export function modelFacts(model) {
  const parts = [
    model.family,
    model.parameter_size && `${model.parameter_size} parameters`,
    model.quantization,
  ];
  return parts.filter(Boolean).join(" · ");
}

const names = (items) => items.map((item) => nodeName(item.node_id, item.name));

function gib(n) {
  const value = (num(n) ?? 0) / GIB;
  return `${value >= 10 ? value.toFixed(0) : value.toFixed(1)} GiB`;
}

/**
 * The planner's verdict as a sentence, a detail line and a state for its badge colour:
 * "fits on alpha", "split over alpha + bravo", "infeasible: short by 3.2 GiB".
 */
export function verdict(plan) {
  if (!plan || plan.verdict === "unknown") {
    return { state: "unknown", text: `cannot be sized: ${plan?.reason ?? "no plan"}`, detail: "" };
  }
  const need = `needs ${bytes(num(plan.estimates?.total_bytes))}`;
  if (plan.verdict === "single_node") {
    const fits = plan.fits_on ?? [];
    const vram = fits[0]?.vram_only ? " (in VRAM)" : "";
    return { state: "ok", text: `fits on ${names(fits).join(" or ")}`, detail: `${need}${vram}` };
  }
  if (plan.verdict === "split") {
    const shards = plan.shards ?? [];
    const layers = shards.map((s) => `${nodeName(s.node_id, s.name)}: layers ${s.start}–${s.end - 1}`);
    return { state: "warn", text: `split over ${names(shards).join(" + ")}`, detail: `${need}; ${layers.join(", ")}` };
  }
  const short = num(plan.shortfall_bytes) ?? 0;
  const text = short > 0
    ? `infeasible: short by ${gib(short)}`
    : "infeasible: enough memory in total, but it cannot be divided by layers";
  return { state: "bad", text, detail: need };
}
