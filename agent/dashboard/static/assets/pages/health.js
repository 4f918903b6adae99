// Health and metrics of this node. Neither has an event, so this is the one page that polls:
// both are read again every 5 s (paused while the tab is hidden).

import { apiReport, api } from "../core/api.js";
import { h, setText } from "../core/dom.js";
import { duration, time } from "../core/format.js";
import { badge, errorBox, pageHeader, panel, setBadge, table, useStyles } from "../core/ui.js";
import { metricsView } from "./health-metrics.js";

const EVERY_MS = 5000;
const CHECK_STATE = { pass: "ok", warn: "warn", fail: "fail" };
const humane = (name) => String(name).replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase());

function checkRow(check) {
  const state = badge(CHECK_STATE[check.status] ?? "unknown", check.status);
  const detail = h("td", { className: "check-detail" });
  const took = h("td", { className: "num" });
  const row = h("tr", { dataset: { check: check.name } }, h("th", { scope: "row" }, humane(check.name)), h("td", {}, state), detail, took);
  row.update = (next) => {
    row.dataset.status = next.status;
    setBadge(state, CHECK_STATE[next.status] ?? "unknown", next.status);
    setText(detail, next.detail);
    const ms = Number(next.duration_ms);
    setText(took, Number.isFinite(ms) ? `${ms < 1 ? ms.toFixed(2) : ms.toFixed(1)} ms` : "—");
  };
  row.update(check);
  return row;
}

function card(label, value) {
  return h("div", { className: "card" }, h("h3", {}, label), value);
}

export default {
  async mount(view, ctx) {
    useStyles("/assets/pages/health.css");
    const overall = badge("unknown", "checking…");
    overall.dataset.overall = "";
    const uptime = h("span", { className: "big" }, "—");
    const version = h("span", { className: "big" }, "—");
    const updated = h("span", { className: "big", dataset: { updated: "" } }, "—");
    const checks = table("Health checks", ["Check", "State", "Detail", { label: "Took", num: true }]);
    const checksProblem = h("div");
    const rows = new Map();
    const metrics = metricsView(ctx.signal);

    view.append(
      pageHeader("Health & metrics", { sub: "This node's own checks and counters, updated every 5 s." }),
      h("div", { className: "cards health-cards" }, card("Overall", h("div", { className: "overall" }, overall)), card("Up for", uptime), card("Version", version), card("Last updated", updated)),
      panel("Checks", checksProblem, checks),
      panel("Metrics", h("p", { className: "muted metrics-note" }, "Counters are shown per second between two readings, gauges as they are; updated every 5 s."), metrics.el),
    );

    function showHealth(report) {
      checksProblem.replaceChildren();
      setBadge(overall, report.status, report.status);
      setText(uptime, duration(report.uptime_s));
      setText(version, report.version ? `v${report.version}` : "—");
      const list = report.checks ?? [];
      const seen = new Set(list.map((c) => c.name));
      for (const [name, row] of [...rows]) {
        if (!seen.has(name)) {
          row.remove();
          rows.delete(name);
        }
      }
      for (const check of list) {
        const row = rows.get(check.name);
        if (row) row.update(check);
        else {
          rows.set(check.name, checkRow(check));
          checks.body.append(rows.get(check.name));
        }
      }
    }

    async function loadHealth() {
      try {
        showHealth(await apiReport("/api/health", { signal: ctx.signal }));
      } catch (err) {
        if (err.name === "AbortError") return;
        setBadge(overall, "unknown", "unknown");
        checksProblem.replaceChildren(errorBox(err, "The health checks could not be read"));
      }
    }

    async function loadMetrics() {
      try {
        metrics.update(await api("/api/metrics", { signal: ctx.signal }));
      } catch (err) {
        if (err.name !== "AbortError") metrics.failed(err);
      }
    }

    let inFlight = false;
    async function refresh() {
      // A slow agent must not pile up requests: a round still running skips this one.
      if (inFlight) return;
      inFlight = true;
      try {
        await Promise.all([loadHealth(), loadMetrics()]);
        if (!ctx.signal.aborted) setText(updated, time(Date.now() / 1000));
      } finally {
        inFlight = false;
      }
    }

    ctx.every(EVERY_MS, refresh);
    await refresh();
  },
};
