// Agents seen on the LAN over mDNS that are not members, kept current from discovery.* events.
// The API cannot push an invitation to such an agent, so "Invite" issues a token meant for it.

import { api } from "../core/api.js";
import { h, perFrame } from "../core/dom.js";
import { ago, shortId } from "../core/format.js";
import { cluster } from "../core/store.js";
import { button, empty, errorBox, panel, table } from "../core/ui.js";

const COLUMNS = ["Name", "Addresses", "Cluster", "Version", "Last seen", "Action"];

function agentRow(agent, invite) {
  const where = agent.cluster_id
    ? h("span", { title: agent.cluster_id }, `another (${shortId(agent.cluster_id)})`)
    : h("span", { className: "muted" }, "none (alone)");
  return h(
    "tr",
    { dataset: { discovered: agent.node_id } },
    h("td", {}, h("strong", {}, agent.name), h("div", { className: "muted mono" }, shortId(agent.node_id))),
    h("td", { className: "mono" }, agent.addresses.join(", ") || "—"),
    h("td", {}, where),
    h("td", {}, agent.version),
    h("td", {}, ago(agent.last_seen)),
    h("td", {}, button("Invite", () => invite(agent), { kind: "small", label: `Invite ${agent.name}` })),
  );
}

/** The panel; `refresh()` reloads the listing (members joined or left). */
export function discoveredPanel(ctx, invite) {
  const agents = new Map(); // node_id -> DiscoveredAgent
  const body = h("div", { dataset: { discoveredBody: "" } });
  let mdns = null;
  let failed = null;

  const render = perFrame(() => {
    if (failed) return body.replaceChildren(errorBox(failed, "The agents on the network could not be listed"));
    if (mdns === null) return body.replaceChildren(empty("Looking…"));
    if (!mdns) {
      return body.replaceChildren(
        h(
          "p",
          { className: "discovery-off", role: "status", dataset: { discoveryOff: "" } },
          h("strong", {}, "Discovery is off on this agent. "),
          "It neither looks for other agents on the local network (mDNS) nor announces itself. Start it with ",
          h("code", {}, "openfabric serve --mdns on"),
          " to see them here; joining with a token works either way.",
        ),
      );
    }
    // Events also tell of members; the listing leaves them out, and so does this.
    const shown = [...agents.values()].filter((a) => !cluster.nodes.has(a.node_id) && a.node_id !== cluster.selfId);
    shown.sort((a, b) => a.name.localeCompare(b.name));
    if (!shown.length) return body.replaceChildren(empty("No other agents found on the local network."));
    body.replaceChildren(table("Agents on the local network", COLUMNS, shown.map((a) => agentRow(a, invite))));
  });

  async function refresh() {
    try {
      const listing = await api("/api/cluster/discovered", { signal: ctx.signal });
      failed = null;
      mdns = listing.mdns;
      agents.clear();
      for (const agent of listing.agents) agents.set(agent.node_id, agent);
    } catch (err) {
      if (err.name === "AbortError") return;
      failed = err;
    }
    render();
  }

  ctx.on("discovery.found", (agent) => {
    agents.set(agent.node_id, agent);
    render();
  });
  ctx.on("discovery.updated", (agent) => {
    agents.set(agent.node_id, agent);
    render();
  });
  ctx.on("discovery.lost", (agent) => {
    agents.delete(agent.node_id);
    render();
  });
  ctx.onCluster(render);

  const el = panel(
    "Discovered on the local network",
    h("p", { className: "muted" }, "Agents seen over mDNS that are not members. Inviting one issues a join token meant for it: run the command on that device."),
    body,
  );
  el.dataset.discovered = "";
  return { el, refresh };
}
