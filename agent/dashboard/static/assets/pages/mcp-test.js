// One server's tools (GET /api/mcp/servers/{name}/tools: starts the server on demand) and
// its test form (POST /api/mcp/servers/{name}/test {tool, arguments}): pick a tool, write
// its arguments as a JSON object (checked here before sending; the agent checks them again
// against the tool's schema), and read the result with its timings.

import { api } from "../core/api.js";
import { h, setText } from "../core/dom.js";
import { button, field } from "../core/ui.js";
import { argumentsTemplate, inlineError, jsonBlock, schemaSummary, timingsText } from "./mcp-format.js";

const MAX_ARGUMENTS_CHARS = 100_000;

function toolItem(tool) {
  return h("li", { className: "mcp-tool", dataset: { tool: String(tool.name) } },
    h("code", { className: "mcp-tool-name" }, String(tool.name)),
    tool.description ? h("p", { className: "mcp-tool-description" }, String(tool.description)) : null,
    h("p", { className: "mcp-tool-schema muted" }, schemaSummary(tool.input_schema)));
}

/** Parses the arguments box: an object, or throws with a message for the person typing. */
export function parseArguments(text) {
  const source = text.trim() || "{}";
  if (source.length > MAX_ARGUMENTS_CHARS) throw new Error("The arguments are too long.");
  let value;
  try {
    value = JSON.parse(source);
  } catch (err) {
    throw new Error(`The arguments are not valid JSON: ${err.message}`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new Error("The arguments must be a JSON object, like {\"name\": \"value\"}.");
  }
  return value;
}

function resultView(answer) {
  const result = answer?.result;
  const parts = [h("p", { className: "mcp-timings muted" }, timingsText(answer?.timings))];
  if (!result) {
    const count = Array.isArray(answer?.tools) ? answer.tools.length : 0;
    parts.unshift(h("p", {}, `The server answered with ${count} tool${count === 1 ? "" : "s"}.`));
    return parts;
  }
  parts.unshift(
    h("p", { className: "mcp-result-state" }, result.is_error ? "The tool reported an error:" : "Result:"),
    jsonBlock(String(result.text ?? ""), "mcp-result-text"),
  );
  if (result.structured != null) {
    parts.splice(2, 0, h("details", { className: "mcp-structured" }, h("summary", {}, "Structured result"), jsonBlock(result.structured)));
  }
  return parts;
}

/** The tools-and-test part of one server's card; `load()` (re)lists the tools. */
export function toolsPart(ctx, serverName) {
  const list = h("ul", { className: "mcp-tools", "aria-label": `Tools of ${serverName}` });
  const status = h("p", { className: "muted mcp-tools-status", "aria-live": "polite" });
  const picker = h("select", { name: "tool" });
  const args = h("textarea", { name: "arguments", rows: 4, spellcheck: false, placeholder: "{}" });
  const run = button("Run test", null, { kind: "primary small", type: "submit" });
  const problem = inlineError();
  const result = h("div", { className: "mcp-result", role: "status" });
  result.hidden = true;
  const form = h("form", { className: "mcp-test", "aria-label": `Test a tool of ${serverName}`, onsubmit: (e) => submit(e) },
    h("div", { className: "form-row" }, field("Tool", picker),
      field("Arguments (JSON)", args, "A JSON object; checked against the tool's schema.")),
    h("div", { className: "actions" }, run));
  const el = h("div", { className: "mcp-tools-part" }, status, list, form, problem, result);
  let tools = [];

  picker.addEventListener("change", () => {
    const tool = tools.find((t) => t.name === picker.value);
    args.value = tool ? JSON.stringify(argumentsTemplate(tool.input_schema), null, 2) : "";
    args.setCustomValidity("");
  });
  args.addEventListener("input", () => args.setCustomValidity(""));

  el.load = async () => {
    setText(status, "Listing the tools (this may start the server)…");
    try {
      const answer = await api(`/api/mcp/servers/${encodeURIComponent(serverName)}/tools`, { signal: ctx.signal });
      tools = Array.isArray(answer?.tools) ? answer.tools : [];
    } catch (err) {
      if (err.name === "AbortError") return;
      tools = [];
      list.replaceChildren();
      setText(status, "");
      problem.show(err);
      return;
    }
    problem.show(null);
    setText(status, tools.length ? "" : "This server offers no tools.");
    list.replaceChildren(...tools.map(toolItem));
    const keep = picker.value;
    picker.replaceChildren(h("option", { value: "" }, "(only list the tools)"),
      ...tools.map((t) => h("option", { value: String(t.name) }, String(t.name))));
    if (keep && tools.some((t) => t.name === keep)) picker.value = keep;
    else if (tools.length) {
      picker.value = String(tools[0].name);
      picker.dispatchEvent(new Event("change"));
    }
  };

  async function submit(event) {
    event.preventDefault();
    const body = {};
    if (picker.value) {
      try {
        body.tool = picker.value;
        body.arguments = parseArguments(args.value);
      } catch (err) {
        args.setCustomValidity(err.message);
        problem.show(err);
        args.focus();
        return;
      }
    }
    run.disabled = true;
    setText(run, "Running…");
    try {
      const answer = await api(`/api/mcp/servers/${encodeURIComponent(serverName)}/test`, { method: "POST", body, signal: ctx.signal });
      problem.show(null);
      result.dataset.error = String(Boolean(answer?.result?.is_error));
      result.replaceChildren(...resultView(answer));
      result.hidden = false;
    } catch (err) {
      if (err.name === "AbortError") return;
      result.hidden = true;
      problem.show(err);
    } finally {
      run.disabled = false;
      setText(run, "Run test");
    }
  }
  return el;
}
