// The chat composer's "Tools" selector and the tool calls shown in an answer.
//
// The selector lists the cluster's servers with tools (GET /api/mcp/servers/tools/all,
// grouped by server, loaded when opened) and an "all" choice; the choice is sent as
// `mcp_servers` ("all" or the names) and remembered across chats and reloads. During an
// answer the agent streams `tool_call` and `tool_result` events: each call shows as a compact
// item (server · tool, state, duration) that expands to its arguments and result. Arguments
// and results come from a model and from tool servers: shown as text only.

import { api } from "../core/api.js";
import { h, setText } from "../core/dom.js";
import { useStyles } from "../core/ui.js";
import { errorText } from "./brain-format.js";
import { durationText } from "./mcp-format.js";
import { nodeName } from "./models-words.js";

const USE_TOOLS = "openfabric.chat.tools";
const ALL = "all";

function saved() {
  try {
    const value = JSON.parse(localStorage.getItem(USE_TOOLS) ?? "null");
    if (value === ALL) return ALL;
    return Array.isArray(value) ? value.filter((v) => typeof v === "string") : [];
  } catch {
    return [];
  }
}

/** servers: Map(name -> {tools: [names], nodes: Set(node labels)}) from a tools/all answer. */
function groupByServer(answer) {
  const servers = new Map();
  for (const tool of Array.isArray(answer?.tools) ? answer.tools : []) {
    const name = String(tool.server);
    if (!servers.has(name)) servers.set(name, { tools: [], nodes: new Set() });
    const entry = servers.get(name);
    entry.tools.push(String(tool.name));
    entry.nodes.add(nodeName(tool.node_id, tool.node_name ? String(tool.node_name) : null));
  }
  return servers;
}

/** The selector; `value()` answers "all", a list of server names, or null (no tools). */
export function toolsSelector(ctx) {
  useStyles("/assets/pages/mcp.css");
  let choice = saved();
  const summary = h("summary", { "aria-label": "Tools for the model" });
  const status = h("p", { className: "muted", "aria-live": "polite" });
  const all = h("input", { type: "checkbox", name: "mcp_all", value: ALL });
  const list = h("div", { className: "chat-tools-servers" });
  const menu = h("fieldset", { className: "chat-tools-menu" }, h("legend", {}, "Tools the model may call"),
    h("label", {}, all, h("span", {}, "All servers", h("small", { className: "muted" }, "Every enabled tool in the cluster"))),
    list, status);
  const el = h("details", { className: "chat-tools", title: "Let the model call tools of the cluster's MCP servers" }, summary, menu);
  const boxes = () => [...list.querySelectorAll("input[type=checkbox]")];

  const show = () => {
    const text = choice === ALL ? "all servers" : choice.length ? choice.join(", ") : "off";
    setText(summary, `Tools: ${text}`);
    all.checked = choice === ALL;
    for (const box of boxes()) {
      box.checked = choice === ALL || choice.includes(box.value);
      box.disabled = choice === ALL;
    }
  };
  const store = () => {
    localStorage.setItem(USE_TOOLS, JSON.stringify(choice));
    show();
  };
  all.addEventListener("change", () => {
    choice = all.checked ? ALL : [];
    store();
  });
  list.addEventListener("change", () => {
    choice = boxes().filter((b) => b.checked).map((b) => b.value);
    store();
  });

  async function load() {
    setText(status, "Loading the cluster's tools…");
    let servers;
    try {
      servers = groupByServer(await api("/api/mcp/servers/tools/all", { signal: ctx.signal }));
    } catch (err) {
      if (err.name !== "AbortError") setText(status, `The tools could not load: ${errorText(err)}`);
      return;
    }
    list.replaceChildren(...[...servers].map(([name, entry]) => h("label", { dataset: { server: name } },
      h("input", { type: "checkbox", name: "mcp_server", value: name }),
      h("span", {}, name, h("small", { className: "muted" },
        `${entry.tools.length} tool${entry.tools.length === 1 ? "" : "s"} on ${[...entry.nodes].join(", ")}: ${entry.tools.join(", ")}`)))));
    // A server gone since it was chosen would make every answer fail: forget it.
    if (choice !== ALL && choice.some((name) => !servers.has(name))) {
      choice = choice.filter((name) => servers.has(name));
      localStorage.setItem(USE_TOOLS, JSON.stringify(choice));
    }
    setText(status, servers.size ? "" : "No enabled server in the cluster offers tools (see the Tools page).");
    show();
  }
  el.addEventListener("toggle", () => {
    if (el.open) load();
  });
  el.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && el.open) {
      el.open = false;
      summary.focus();
    }
  });
  el.value = () => (choice === ALL ? ALL : choice.length ? [...choice] : null);
  show();
  return el;
}

function toolItem(server, tool, { open = false } = {}) {
  const state = h("span", { className: "msg-tool-state" });
  const body = h("div", { className: "msg-tool-body" });
  const li = h("li", { className: "msg-tool", dataset: { server: String(server), tool: String(tool), state: "running" } },
    h("details", { open }, h("summary", {}, h("span", { className: "msg-tool-name" }, `${server} · ${tool}`), state), body));
  li.state = state;
  li.body = body;
  return li;
}

function finish(li, { is_error: failed, duration_ms: ms }) {
  li.dataset.state = failed ? "error" : "ok";
  const took = durationText(ms);
  setText(li.state, `${failed ? "error" : "ok"}${took ? ` · ${took}` : ""}`);
}

const block = (title, text) => [h("h4", {}, title), h("pre", { className: "output" }, text)];

/** The tools a stored answer used (`stats.tools`), or null. */
export function storedTools(tools) {
  if (!Array.isArray(tools) || !tools.length) return null;
  return h("ol", { className: "msg-tools", "aria-label": "Tool calls" }, ...tools.map((t) => {
    const li = toolItem(t.server, t.tool);
    finish(li, t);
    li.body.append(h("p", { className: "muted" }, "Arguments and results are not kept with the chat."));
    return li;
  }));
}

/** The live list of an answer's tool calls, placed before its text once the first call comes. */
export function toolCalls(answerEl) {
  const list = h("ol", { className: "msg-tools", "aria-label": "Tool calls" });
  const items = new Map();
  const place = () => {
    if (!list.isConnected) answerEl.querySelector(".msg-text")?.before(list);
  };
  return {
    call(data) {
      place();
      const li = toolItem(data.server ?? "?", data.tool ?? "?");
      li.dataset.id = String(data.id ?? "");
      if (data.node_id) li.dataset.node = String(data.node_id);
      setText(li.state, `running${data.node_id ? ` on ${nodeName(data.node_id)}` : ""}…`);
      const args = data.arguments === undefined ? {} : data.arguments;
      li.body.append(...block("Arguments", typeof args === "string" ? args : JSON.stringify(args, null, 2)));
      items.set(String(data.id ?? ""), li);
      list.append(li);
    },
    result(data) {
      place();
      let li = items.get(String(data.id ?? ""));
      if (!li) {
        li = toolItem(data.server ?? "?", data.tool ?? "?");
        list.append(li);
      }
      finish(li, data);
      li.body.append(...block(data.is_error ? "Error" : "Result", String(data.text ?? "")));
    },
    done(tools) {
      // A stream without tool events (an agent that sent none) still shows what was used.
      if (items.size) return;
      const used = storedTools(tools);
      if (used) {
        list.replaceWith(used);
        answerEl.querySelector(".msg-text")?.before(used);
      }
    },
  };
}
