// The overview's pooled totals (over online members, as /api/status counts them, kept live
// from the members' samples) and this node's health summary (GET /api/health; no event
// announces it, so the page refreshes it on a timer).

import { apiReport } from "../core/api.js";
import { h, setText } from "../core/dom.js";
import { bytes, pct, plural, time } from "../core/format.js";
import { badge, gauge, setBadge } from "../core/ui.js";
import { share } from "./overview-figures.js";

function totalCard(key, label, withGauge) {
  const value = h("span", {}, "—");
  const of = h("small", {}, "");
  const detail = h("p", { className: "muted", dataset: { totalDetail: key } }, "");
  const bar = withGauge ? gauge("used", { compact: true }) : null;
  // The visible label is short; the meter's accessible name says what it measures.
  bar?.querySelector(".bar").setAttribute("aria-label", `${label}: share used`);
  const el = h(
    "section",
    { className: "card total", "aria-label": label },
    h("h3", {}, label),
    h("p", { className: "big", dataset: { total: key } }, value, of),
    bar,
    detail,
  );
  // "12 GiB / 32 GiB": the total is set smaller, the text reads the same.
  const set = (main, total = "") => {
    setText(value, total ? `${main} ` : main);
    setText(of, total ? `/ ${total}` : "");
  };
  return { el, set, detail, bar };
}

export function totals() {
  const cards = {
    nodes: totalCard("nodes", "Nodes online"),
    cpu: totalCard("cpu", "CPU cores"),
    ram: totalCard("ram", "RAM used", true),
    storage: totalCard("storage", "Storage free", true),
    gpu: totalCard("gpu", "GPUs"),
  };
  const el = h("div", { className: "cards totals", role: "group", "aria-label": "Cluster totals" }, ...Object.values(cards).map((c) => c.el));

  const update = (t) => {
    cards.nodes.set(String(t.online), String(t.nodes));
    setText(cards.nodes.detail, t.online === t.nodes ? "every member is online" : `${t.nodes - t.online} not online`);
    cards.cpu.set(String(t.cores));
    setText(cards.cpu.detail, `on ${plural(t.online, "online node")}`);
    cards.ram.set(bytes(t.ramUsed), bytes(t.ramTotal));
    const ramShare = share(t.ramUsed, t.ramTotal);
    cards.ram.bar.update(ramShare, ramShare == null ? "—" : pct(ramShare * 100));
    setText(cards.ram.detail, `${bytes(t.ramTotal - t.ramUsed)} available`);
    cards.storage.set(bytes(t.diskFree), bytes(t.diskTotal));
    // Used is what the disks report as used: reserved blocks make total - free larger.
    const diskShare = share(t.diskUsed, t.diskTotal);
    cards.storage.bar.update(diskShare, diskShare == null ? "—" : pct(diskShare * 100));
    setText(cards.storage.detail, `${bytes(t.diskUsed)} used`);
    cards.gpu.set(String(t.gpuCount));
    setText(cards.gpu.detail, t.vramTotal ? `VRAM ${bytes(t.vramUsed)} / ${bytes(t.vramTotal)}` : "no GPU memory reported");
  };
  return { el, update };
}

const FAILING = new Set(["fail", "warn"]);

export function healthPanel(signal) {
  const state = badge("unknown", "checking…");
  state.dataset.field = "health";
  const summary = h("p", { className: "muted" }, "Checking this node's health…");
  const list = h("ul", { className: "health-list", dataset: { field: "failing" } });
  const heading = h("h2", { id: "overview-health-title" }, "Health");
  const el = h(
    "section",
    { className: "panel health-summary", "aria-labelledby": "overview-health-title", dataset: { health: "" } },
    h("div", { className: "health-head" }, heading, state, h("a", { href: "/health", className: "health-link" }, "All checks")),
    summary,
    list,
  );

  const show = (report) => {
    const status = String(report?.status ?? "unknown");
    el.dataset.health = status;
    setBadge(state, status, status);
    const checks = Array.isArray(report?.checks) ? report.checks : [];
    const failing = checks.filter((c) => FAILING.has(c?.status));
    const when = `checked ${time(Date.now() / 1000)}`;
    setText(
      summary,
      checks.length
        ? failing.length
          ? `${failing.length} of ${plural(checks.length, "check")} not passing · ${when}`
          : `All ${plural(checks.length, "check")} pass · ${when}`
        : `No checks reported · ${when}`,
    );
    list.replaceChildren(
      ...failing.map((c) =>
        h("li", { dataset: { check: String(c.name) } }, badge(String(c.status), String(c.status)), " ", h("strong", {}, String(c.name)), h("span", { className: "muted" }, ` ${String(c.detail ?? "")}`)),
      ),
    );
  };

  const refresh = async () => {
    try {
      show(await apiReport("/api/health", { signal }));
    } catch (err) {
      if (err.name === "AbortError" || err.status === 401) return;
      el.dataset.health = "error";
      setBadge(state, "unknown", "unknown");
      setText(summary, `Health could not be read: ${err.message}`);
      list.replaceChildren();
    }
  };
  return { el, refresh };
}
