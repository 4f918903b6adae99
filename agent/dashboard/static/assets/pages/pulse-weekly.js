// The weekly digest behind a disclosure on the overview (GET /api/pulse/weekly, read each
// time it is opened: no event announces it): uptime per member, tasks run and failed,
// storage growth and tokens generated over the last 7 days, and the members that could not
// be asked.

import { api } from "../core/api.js";
import { h } from "../core/dom.js";
import { bytes, duration, pct, plural } from "../core/format.js";
import { num } from "../core/store.js";
import { errorText } from "./brain-format.js";
import { nodeName } from "./models-words.js";

const fact = (key, label, value) =>
  h("div", { className: "pulse-fact", dataset: { weekly: key } }, h("dt", {}, label), h("dd", {}, value));

function growthText(storage) {
  const growth = num(storage?.growth_bytes);
  if (growth == null) return "—";
  return `${growth < 0 ? "−" : "+"}${bytes(Math.abs(growth))} (${bytes(num(storage.start_bytes))} → ${bytes(num(storage.end_bytes))})`;
}

function tasksText(tasks) {
  const total = tasks.find((t) => t?.node_id == null) ?? { run: 0, failed: 0 };
  return `${plural(num(total.run) ?? 0, "run")} · ${num(total.failed) ?? 0} failed`;
}

function digestView(digest) {
  const uptime = Array.isArray(digest.uptime) ? digest.uptime : [];
  const tasks = Array.isArray(digest.tasks) ? digest.tasks : [];
  const tokens = Array.isArray(digest.tokens) ? digest.tokens : [];
  const missing = Array.isArray(digest.missing) ? digest.missing : [];
  const tokenTotal = tokens.reduce((sum, t) => sum + (num(t?.tokens) ?? 0), 0);
  const byModel = new Map();
  for (const t of tokens) byModel.set(String(t.model), (byModel.get(String(t.model)) ?? 0) + (num(t.tokens) ?? 0));
  return [
    h("dl", { className: "pulse-facts" },
      fact("tasks", "Tasks", tasksText(tasks)),
      fact("storage", "Storage growth", growthText(digest.storage)),
      fact("tokens", "Tokens generated", tokenTotal.toLocaleString()),
      ...[...byModel].map(([model, n]) => fact("model", model, n.toLocaleString()))),
    uptime.length
      ? h("ul", { className: "pulse-uptime", "aria-label": "Uptime" }, ...uptime.map((u) =>
        h("li", { dataset: { node: String(u.node_id) } },
          h("span", {}, nodeName(u.node_id, u.node_name)),
          h("span", { className: "pulse-uptime-value" }, `${pct(num(u.uptime_percent))} · ${duration(num(u.online_s))} online`))))
      : null,
    missing.length
      ? h("p", { className: "muted" }, `Not asked (no answer): ${missing.map((id) => nodeName(id, null)).join(", ")}`)
      : null,
  ];
}

/** {el}: a <details> that loads the digest whenever it is opened. */
export function weeklyPart(ctx) {
  const body = h("div", { className: "pulse-weekly-body", "aria-live": "polite" }, h("p", { className: "muted" }, "Loading…"));
  const el = h("details", { className: "pulse-weekly" }, h("summary", {}, "This week"), body);
  el.addEventListener("toggle", async () => {
    if (!el.open) return;
    try {
      const digest = await api("/api/pulse/weekly", { signal: ctx.signal });
      body.replaceChildren(...digestView(digest).filter(Boolean));
    } catch (err) {
      if (err.name === "AbortError") return;
      body.replaceChildren(h("p", { className: "pulse-problem", role: "alert" }, `The digest could not be read: ${errorText(err)}`));
    }
  });
  return { el };
}
