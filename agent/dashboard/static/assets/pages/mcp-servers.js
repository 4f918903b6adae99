// This node's servers, one card each, updated in place (an open tools part or a test being
// typed survives live updates): the state badge (ready, starting, failed with the reason,
// stopped), restarts and when the next one is due, tool count, credentials (names only), the
// stderr tail, the enable switch, delete (confirmed first), and the server's tools with a
// test form.

import { h, setText } from "../core/dom.js";
import { badge, button, empty, panel, setBadge } from "../core/ui.js";
import { nodeName } from "./models-words.js";
import { restartText, stateWord, toolCountText } from "./mcp-format.js";
import { toolsPart } from "./mcp-test.js";

function transportText(server) {
  const t = server.transport ?? {};
  if (t.type === "http") return `HTTP ${String(t.url ?? "")}`;
  return ["stdio:", String(t.command ?? ""), ...(Array.isArray(t.args) ? t.args.map(String) : [])].join(" ");
}

function serverCard(ctx, server, { onToggle, onDelete, onLog }) {
  const name = String(server.name);
  const state = badge("stopped");
  const title = h("h3", { className: "mcp-name" }, name);
  const kind = h("span", { className: "tag mcp-builtin" });
  const toggle = h("input", { type: "checkbox", role: "switch", "aria-label": `Enabled: ${name}` });
  toggle.addEventListener("change", () => onToggle(name, toggle.checked, toggle));
  const remove = button("Delete", () => onDelete(name), { kind: "danger small", label: `Delete server ${name}` });
  const reason = h("p", { className: "mcp-reason", role: "note" });
  const facts = h("p", { className: "mcp-facts muted" });
  const restarts = h("span", { className: "mcp-restarts" });
  const tools = h("span", { className: "mcp-tool-count" });
  const node = h("span", { className: "mcp-node" });
  const secrets = h("span", { className: "mcp-credential-names" });
  facts.append(restarts, tools, node, secrets);
  const transport = h("p", { className: "mcp-transport-text muted" });
  const about = h("p", { className: "mcp-about" });
  const log = h("pre", { className: "output mcp-stderr" });
  const logBox = h("details", { className: "mcp-stderr-box" }, h("summary", {}, "Server log (stderr)"), log);
  // No event announces new stderr lines: opening the log reads the latest.
  logBox.addEventListener("toggle", () => {
    if (logBox.open) onLog();
  });
  const part = toolsPart(ctx, name);
  const toolsBox = h("details", { className: "mcp-tools-box" }, h("summary", {}, "Tools and test"), part);
  toolsBox.addEventListener("toggle", () => {
    if (toolsBox.open) part.load();
  });
  const el = h("li", { className: "mcp-server", dataset: { name } },
    h("div", { className: "mcp-server-head" }, title, kind, state,
      h("span", { className: "mcp-actions" },
        h("label", { className: "mcp-switch" }, toggle, h("span", {}, "Enabled")), remove)),
    about, reason, facts, transport, logBox, toolsBox);
  let lastToolCount;
  el.update = (fresh) => {
    server = fresh;
    el.dataset.state = String(fresh.state);
    el.dataset.enabled = String(Boolean(fresh.enabled));
    setBadge(state, String(fresh.state), stateWord(fresh.state));
    setText(kind, fresh.builtin ? `builtin ${fresh.builtin}` : "custom");
    toggle.checked = Boolean(fresh.enabled);
    const why = [restartText(fresh), fresh.reason ? String(fresh.reason) : ""].filter(Boolean).join(": ");
    setText(reason, why);
    reason.hidden = !why;
    reason.dataset.state = String(fresh.state);
    const count = Number(fresh.restarts) || 0;
    setText(restarts, `${count} restart${count === 1 ? "" : "s"}`);
    setText(tools, toolCountText(fresh.tool_count));
    setText(node, `on ${nodeName(fresh.node_id)}`);
    const names = Array.isArray(fresh.credential_names) ? fresh.credential_names.map(String) : [];
    setText(secrets, names.length ? `credentials: ${names.join(", ")}` : "");
    secrets.hidden = !names.length;
    setText(transport, transportText(fresh));
    setText(about, String(fresh.description ?? ""));
    about.hidden = !fresh.description;
    const lines = Array.isArray(fresh.stderr_tail) ? fresh.stderr_tail.map(String) : [];
    setText(log, lines.join("\n"));
    setText(logBox.querySelector("summary"), `Server log (stderr, ${lines.length} line${lines.length === 1 ? "" : "s"})`);
    // New tools (a restart, a toggle) reach an open list; a closed one loads when opened.
    if (toolsBox.open && fresh.state === "ready" && fresh.tool_count !== lastToolCount && lastToolCount !== undefined) part.load();
    lastToolCount = fresh.tool_count;
  };
  el.refreshAge = () => {
    const why = [restartText(server), server.reason ? String(server.reason) : ""].filter(Boolean).join(": ");
    setText(reason, why);
  };
  el.update(server);
  return el;
}

/** The servers panel; `show(listing)` with each ServerList. */
export function serversPanel(ctx, handlers) {
  const list = h("ul", { className: "mcp-servers", "aria-label": "Servers" });
  const count = h("p", { className: "muted", "aria-live": "polite" });
  const none = empty("No server on this node yet: add one (the time builtin needs nothing).");
  const el = panel("Servers on this node", count, none, list);
  el.dataset.mcp = "servers";
  const cards = new Map();
  el.show = (listing) => {
    const servers = Array.isArray(listing?.servers) ? listing.servers : [];
    const seen = new Set();
    servers.forEach((server, i) => {
      const key = String(server.name);
      seen.add(key);
      let card = cards.get(key);
      if (card) card.update(server);
      else cards.set(key, (card = serverCard(ctx, server, handlers)));
      if (list.children[i] !== card) list.insertBefore(card, list.children[i] ?? null);
    });
    for (const [key, card] of cards) {
      if (!seen.has(key)) {
        card.remove();
        cards.delete(key);
      }
    }
    none.hidden = servers.length > 0;
    setText(count, `${servers.length} server${servers.length === 1 ? "" : "s"}`);
  };
  el.tick = () => cards.forEach((card) => card.refreshAge());
  return el;
}
