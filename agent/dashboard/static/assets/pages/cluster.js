// The cluster page: its members (evict, leave), adding a device with a join token, and the
// agents seen on the local network. Everything updates from events; the token countdown is
// the only timer.

import { h, setText } from "../core/dom.js";
import { plural, shortId } from "../core/format.js";
import { cluster, reload } from "../core/store.js";
import { pageHeader, toast, useStyles } from "../core/ui.js";
import { discoveredPanel } from "./cluster-discovered.js";
import { invitePanel } from "./cluster-invite.js";
import { membersPanel } from "./cluster-members.js";

function summaryText() {
  const status = cluster.status;
  if (!status) return "";
  if (!status.in_cluster) return `${status.node_name} is alone: create a join token below to add a device.`;
  const id = status.cluster_id ? `Cluster ${shortId(status.cluster_id)}` : "Cluster";
  return `${id}: ${plural(status.node_count, "member")}, ${status.online_count} online.`;
}

export default {
  async mount(view, ctx) {
    useStyles("/assets/pages/cluster.css");
    if (!cluster.loaded) await reload();
    const summary = h("p", { className: "cluster-summary", role: "status", dataset: { clusterSummary: "" } });
    const invite = invitePanel(ctx);
    const discovered = discoveredPanel(ctx, (agent) => invite.invite(agent));
    const membersList = membersPanel(ctx);
    view.append(
      pageHeader("Cluster", { sub: "Who is in the cluster, adding devices, and agents seen nearby." }),
      summary,
      membersList.el,
      invite.el,
      discovered.el,
    );
    const showSummary = () => setText(summary, summaryText());
    showSummary();
    ctx.onCluster((change) => {
      if (change.kind !== "telemetry") showSummary();
    });
    ctx.on("node.joined", (change) => {
      if (!change.self) toast(`${change.name} joined the cluster`, "ok");
    });
    // A member's arrival or departure changes who counts as "not a member" in the listing.
    for (const topic of ["node.joined", "node.left", "node.evicted", "stream.resync"]) {
      ctx.on(topic, () => discovered.refresh());
    }
    await discovered.refresh();
  },
};
