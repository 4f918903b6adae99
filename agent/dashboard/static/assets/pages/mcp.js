// Tools: the Model Context Protocol servers this node runs (state, restarts, tool count,
// stderr tail, enable switch, delete), adding one (a builtin or a custom stdio/HTTP server,
// credentials write-only), each server's tools with a test form, and every tool in the
// cluster with the node that hosts it. Lists reload on every mcp.server.* event, however
// many come at once: one request in flight and at most one queued behind it.

import { api, coalesced } from "../core/api.js";
import { h } from "../core/dom.js";
import { confirmDialog, errorBox, pageHeader, toast, useStyles } from "../core/ui.js";
import { addPanel } from "./mcp-add.js";
import { clusterPanel } from "./mcp-cluster.js";
import { errorText } from "./mcp-format.js";
import { serversPanel } from "./mcp-servers.js";

const RESTART_TICK_MS = 1000;

export default {
  async mount(view, ctx) {
    useStyles("/assets/pages/mcp.css");
    const banner = h("div", { className: "mcp-banner" });
    const servers = serversPanel(ctx, { onToggle: toggle, onDelete: remove, onLog: () => loadServers() });
    const add = addPanel(ctx, {
      onAdded: (server) => {
        toast(`Added ${server.name}.`, "ok");
        loadServers();
        loadCluster();
      },
    });
    const cluster = clusterPanel();
    view.append(
      pageHeader("Tools", { sub: "Model Context Protocol servers on this node and their tools; a chat can use any enabled tool in the cluster." }),
      banner,
      h("div", { className: "mcp-grid" }, servers, h("div", { className: "mcp-column" }, add, cluster)),
    );

    const loadServers = coalesced(async () => {
      try {
        servers.show(await api("/api/mcp/servers", { signal: ctx.signal }));
        banner.replaceChildren();
      } catch (err) {
        if (err.name !== "AbortError") banner.replaceChildren(errorBox(err, "The servers could not load"));
      }
    }, ctx.signal);
    const loadCluster = coalesced(async () => {
      try {
        cluster.show(await api("/api/mcp/servers/tools/all", { signal: ctx.signal }));
      } catch (err) {
        if (err.name !== "AbortError") cluster.show({ tools: [], unreachable: [] });
      }
    }, ctx.signal);

    async function toggle(name, enabled, input) {
      input.disabled = true;
      try {
        await api(`/api/mcp/servers/${encodeURIComponent(name)}/toggle`, { method: "PUT", body: { enabled }, signal: ctx.signal });
      } catch (err) {
        if (err.name === "AbortError") return;
        input.checked = !enabled;
        toast(errorText(err), "error");
      } finally {
        input.disabled = false;
      }
      loadServers();
      loadCluster();
    }

    async function remove(name) {
      const confirmed = await confirmDialog({
        title: `Delete the server “${name}”?`,
        message: "Its process is stopped and its definition and credentials are removed from this node.",
        confirm: "Delete server",
      });
      if (!confirmed) return;
      try {
        await api(`/api/mcp/servers/${encodeURIComponent(name)}`, { method: "DELETE", signal: ctx.signal });
        toast(`Deleted ${name}.`, "ok");
      } catch (err) {
        if (err.name !== "AbortError") toast(errorText(err), "error");
      }
      loadServers();
      loadCluster();
    }

    ctx.on("mcp.server", () => {
      loadServers();
      loadCluster();
    });
    ctx.on("stream.resync", () => {
      loadServers();
      loadCluster();
    });
    ctx.every(RESTART_TICK_MS, () => servers.tick());
    await Promise.all([loadServers(), add.load(), loadCluster()]);
  },
};
