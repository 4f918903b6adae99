// The member table, kept current from the cluster store: evicting a member (from another
// member, for good) and leaving the cluster (this node only).

import { api } from "../core/api.js";
import { h, setText } from "../core/dom.js";
import { ago, dateTime, plural } from "../core/format.js";
import { cluster, members } from "../core/store.js";
import { badge, button, confirmDialog, empty, panel, setBadge, table, toast } from "../core/ui.js";
import { blocks } from "./cluster-invite.js";

const COLUMNS = ["Name", "State", "Address", "Version", "Joined", "Fingerprint", "Action"];

const addressOf = (node) => (node.address ? `${node.address}:${node.peer_port}` : "—");

async function evict(node) {
  const yes = await confirmDialog({
    title: `Evict ${node.name}?`,
    message:
      `${node.name} is removed from the cluster for good: every member refuses its key from ` +
      "then on, and it cannot come back with this identity. To add that device again it has " +
      "to start over as a new node.",
    confirm: "Evict for good",
  });
  if (!yes) return;
  try {
    const result = await api(`/api/nodes/${encodeURIComponent(node.node_id)}`, { method: "DELETE" });
    toast(`${node.name} was evicted`, "ok");
    const kept = result.admitted.filter((n) => !result.also_evicted.includes(n.node_id));
    if (kept.length) {
      const names = kept.map((n) => n.name).join(", ");
      toast(`${node.name} had admitted ${plural(kept.length, "member")} that stay: ${names}. Review them.`);
    }
  } catch (err) {
    toast(`Could not evict ${node.name}: ${err.message}`, "error");
  }
}

async function leave(node) {
  const yes = await confirmDialog({
    title: "Leave the cluster?",
    message:
      `${node.name} (this node) leaves the cluster and goes on alone: the other members stop ` +
      "sharing work, storage and models with it. Coming back takes a new join token from a member.",
    confirm: "Leave cluster",
  });
  if (!yes) return;
  try {
    const result = await api("/api/cluster/leave", { method: "POST" });
    toast(`This node left cluster ${result.left} and is now alone`, "ok");
  } catch (err) {
    toast(`Could not leave the cluster: ${err.message}`, "error");
  }
}

function memberRow(node) {
  const name = h("a", { href: `/nodes/${encodeURIComponent(node.node_id)}` });
  const state = badge(node.state);
  const cells = { address: h("td", { className: "mono" }), version: h("td"), joined: h("td"), action: h("td") };
  const fingerprint = h("code", { title: blocks(node.fingerprint) }, blocks(node.fingerprint.slice(0, 16)));
  const row = h(
    "tr",
    { dataset: { member: node.node_id, self: String(node.is_self) } },
    h("td", {}, name, node.is_self ? h("span", { className: "tag" }, "this node") : null),
    h("td", {}, state),
    cells.address,
    cells.version,
    cells.joined,
    h("td", {}, fingerprint),
    cells.action,
  );
  let action = null;
  row.update = (next) => {
    node = next;
    setText(name, node.name);
    setBadge(state, node.state);
    setText(cells.address, addressOf(node));
    setText(cells.version, node.version);
    setText(cells.joined, ago(node.joined_at));
    cells.joined.title = dateTime(node.joined_at);
    // Leaving is for this node, and only while it has a cluster to leave.
    const want = node.is_self ? (cluster.status?.in_cluster ? "leave" : "alone") : "evict";
    if (want === action) return;
    action = want;
    if (want === "evict") cells.action.replaceChildren(button("Evict", () => evict(node), { kind: "small danger", label: `Evict ${node.name}` }));
    else if (want === "leave") cells.action.replaceChildren(button("Leave cluster", () => leave(node), { kind: "small danger", label: "Leave the cluster (this node)" }));
    else cells.action.replaceChildren(h("span", { className: "muted" }, "alone"));
  };
  row.update(node);
  return row;
}

export function membersPanel(ctx) {
  const rows = new Map(); // node_id -> <tr>
  const list = table("Members", COLUMNS);
  const summary = h("p", { className: "muted", role: "status", dataset: { memberSummary: "" } });

  function render() {
    const nodes = members();
    const seen = new Set();
    const ordered = nodes.map((node) => {
      seen.add(node.node_id);
      let row = rows.get(node.node_id);
      if (row) row.update(node);
      else rows.set(node.node_id, (row = memberRow(node)));
      return row;
    });
    for (const [id, row] of [...rows]) {
      if (!seen.has(id)) {
        rows.delete(id);
        row.remove();
      }
    }
    if (!nodes.length) {
      list.body.replaceChildren(h("tr", {}, h("td", { colSpan: COLUMNS.length }, empty("No members known yet."))));
    } else {
      // Moved only where the order changed, so a focused button keeps its focus.
      for (const extra of [...list.body.children]) if (!extra.dataset.member) extra.remove();
      ordered.forEach((row, i) => {
        if (list.body.children[i] !== row) list.body.insertBefore(row, list.body.children[i] ?? null);
      });
    }
    const online = nodes.filter((n) => n.state === "online").length;
    setText(summary, nodes.length ? `${plural(nodes.length, "member")}, ${online} online` : "");
  }

  ctx.onCluster((change) => {
    if (change.kind === "telemetry") return;
    const node = cluster.nodes.get(change.nodeId);
    if (change.kind === "state" && node) rows.get(change.nodeId)?.update(node);
    else render();
  });
  render();
  const el = panel("Members", summary, list);
  el.dataset.members = "";
  return { el, render };
}
