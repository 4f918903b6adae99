// Every enabled tool in the cluster (GET /api/mcp/servers/tools/all), grouped by the node
// that hosts its server: what a chat with "all" tools may call. Members that did not answer
// are named.

import { h, setText } from "../core/dom.js";
import { empty, panel, table } from "../core/ui.js";
import { nodeName } from "./models-words.js";
import { schemaSummary } from "./mcp-format.js";

export function clusterPanel() {
  const summary = h("p", { className: "muted", "aria-live": "polite" });
  const missing = h("p", { className: "mcp-unreachable", role: "note" });
  missing.hidden = true;
  const none = empty("No enabled server in the cluster offers tools yet.");
  const grid = table("Tools in the cluster", ["Server", "Tool", "Node", "Arguments", "Description"]);
  grid.classList.add("mcp-cluster-table");
  const el = panel("Tools in the cluster", summary, missing, none, grid);
  el.dataset.mcp = "cluster";
  el.show = (answer) => {
    const tools = Array.isArray(answer?.tools) ? answer.tools : [];
    const rows = tools.map((tool) => h("tr", { dataset: { server: String(tool.server), tool: String(tool.name), node: String(tool.node_id) } },
      h("td", {}, String(tool.server)),
      h("td", {}, h("code", {}, String(tool.name))),
      h("td", { className: "mcp-host" }, nodeName(tool.node_id, tool.node_name ? String(tool.node_name) : null)),
      h("td", { className: "muted" }, schemaSummary(tool.input_schema)),
      h("td", { className: "mcp-description" }, String(tool.description ?? ""))));
    grid.body.replaceChildren(...rows);
    grid.hidden = !rows.length;
    none.hidden = rows.length > 0;
    const servers = new Set(tools.map((t) => `${t.node_id}/${t.server}`));
    setText(summary, `${tools.length} tool${tools.length === 1 ? "" : "s"} from ${servers.size} server${servers.size === 1 ? "" : "s"}`);
    const gone = Array.isArray(answer?.unreachable) ? answer.unreachable : [];
    setText(missing, gone.length ? `No answer from ${gone.map((id) => nodeName(id)).join(", ")}.` : "");
    missing.hidden = !gone.length;
  };
  return el;
}
