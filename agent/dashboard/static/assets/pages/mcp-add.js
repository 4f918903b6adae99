// Adding a server (POST /api/mcp/servers): a builtin picked from GET /api/mcp/builtins (each
// says what it needs; one whose runtime is missing cannot be picked, and says why), or a
// custom server over stdio {command, args, env, cwd} or streamable HTTP {url, headers}.
// Credentials are typed into password fields, sent once and cleared: the agent never
// answers them back. A refusal shows under the form, which keeps what was typed.

import { api } from "../core/api.js";
import { h, setText } from "../core/dom.js";
import { button, field, panel } from "../core/ui.js";
import { inlineError } from "./mcp-format.js";
import { credentialRows, pairsOf } from "./mcp-fields.js";

const NAME_PATTERN = "[a-z0-9][a-z0-9_\\-]{0,39}";

function radio(name, value, text, { checked = false, disabled = false, hint = null } = {}) {
  const input = h("input", { type: "radio", name, value, checked, disabled });
  return h("label", { className: "mcp-choice", dataset: { value } }, input,
    h("span", { className: "mcp-choice-text" }, h("span", { className: "mcp-choice-title" }, text), hint));
}

function needsList(builtin) {
  const needs = Array.isArray(builtin.needs) ? builtin.needs : [];
  if (!needs.length) return null;
  return h("ul", { className: "mcp-needs", "aria-label": `What ${builtin.name} needs` },
    ...needs.map((need) => h("li", { dataset: { present: String(Boolean(need.present)) } },
      h("span", { className: "mcp-need-what" }, `${need.present ? "✓" : "✗"} ${String(need.what ?? "")}`),
      need.present || !need.hint ? null : h("span", { className: "mcp-need-hint" }, ` — ${String(need.hint)}`))));
}

function builtinChoice(builtin) {
  const hint = h("span", { className: "mcp-choice-hint muted" }, String(builtin.description ?? ""), needsList(builtin));
  const el = radio("builtin", String(builtin.name), String(builtin.title || builtin.name), { disabled: !builtin.available, hint });
  el.dataset.available = String(Boolean(builtin.available));
  return el;
}

/** The add panel; `onAdded(server)` after a server was added. */
export function addPanel(ctx, { onAdded }) {
  const kinds = h("fieldset", { className: "mcp-kinds" }, h("legend", {}, "Kind"),
    radio("kind", "builtin", "Builtin", { checked: true }), radio("kind", "custom", "Custom server"));
  const problem = inlineError();
  const builtinPart = h("div", { className: "mcp-builtin-part" });
  const customPart = h("div", { className: "mcp-custom-part" });
  // Only the chosen part is in the form, so the other's fields are neither labelled twice
  // nor checked by the browser's validation.
  const slot = h("div", { className: "mcp-slot" }, builtinPart);
  const add = button("Add server", null, { kind: "primary", type: "submit" });
  const enabled = h("input", { type: "checkbox", name: "enabled", checked: true });
  const form = h("form", { className: "mcp-add", "aria-label": "Add a server", onsubmit: (e) => submit(e) },
    kinds, slot,
    h("div", { className: "actions" },
      h("label", { className: "mcp-inline-check" }, enabled, h("span", {}, "Start enabled")), add));
  const el = panel("Add a server", form, problem);
  el.dataset.mcp = "add";
  let builtins = [];
  let builtinForm = null;
  const custom = customForm();
  customPart.append(custom.el);

  kinds.addEventListener("change", () => {
    const isCustom = kinds.querySelector("input:checked")?.value === "custom";
    slot.replaceChildren(isCustom ? customPart : builtinPart);
    add.disabled = !isCustom && !builtinForm;
    problem.show(null);
  });

  el.load = async () => {
    try {
      const answer = await api("/api/mcp/builtins", { signal: ctx.signal });
      builtins = Array.isArray(answer?.builtins) ? answer.builtins : [];
    } catch (err) {
      if (err.name !== "AbortError") problem.show(err);
      return;
    }
    const picked = builtinPart.querySelector("input[name=builtin]:checked")?.value;
    const group = h("fieldset", { className: "mcp-builtins" }, h("legend", {}, "Builtin"), ...builtins.map(builtinChoice));
    const options = h("div", { className: "mcp-builtin-options" });
    builtinPart.replaceChildren(group, options);
    group.addEventListener("change", () => showBuiltin(options));
    const again = picked && group.querySelector(`input[value="${CSS.escape(picked)}"]:not(:disabled)`);
    (again || group.querySelector("input:not(:disabled)"))?.click();
    showBuiltin(options);
  };

  function showBuiltin(options) {
    const name = builtinPart.querySelector("input[name=builtin]:checked")?.value;
    const builtin = builtins.find((b) => b.name === name);
    builtinForm = builtin ? builtinFields(builtin) : null;
    options.replaceChildren(...(builtinForm ? [builtinForm.el] : []));
    add.disabled = !customPart.isConnected && !builtin;
  }

  async function submit(event) {
    event.preventDefault();
    const isCustom = customPart.isConnected;
    let body;
    try {
      body = isCustom ? custom.body() : builtinForm?.body();
    } catch (err) {
      problem.show(err);
      return;
    }
    if (!body) return;
    body.enabled = enabled.checked;
    add.disabled = true;
    try {
      const server = await api("/api/mcp/servers", { method: "POST", body, signal: ctx.signal });
      problem.show(null);
      (isCustom ? custom : builtinForm)?.reset();
      onAdded(server);
    } catch (err) {
      if (err.name !== "AbortError") problem.show(err);
    } finally {
      add.disabled = false;
    }
  }
  return el;
}

function builtinFields(builtin) {
  const name = h("input", { type: "text", name: "name", pattern: NAME_PATTERN, maxLength: 40, autocomplete: "off", placeholder: String(builtin.name) });
  name.spellcheck = false;
  const options = (Array.isArray(builtin.options) ? builtin.options : []).map((option) => {
    const input = h("input", { type: "text", name: `option-${option.name}`, required: Boolean(option.required), autocomplete: "off" });
    input.dataset.option = String(option.name);
    return { option, input };
  });
  const secrets = (Array.isArray(builtin.credentials) ? builtin.credentials : []).map((credential) => {
    const input = h("input", { type: "password", name: `credential-${credential}`, autocomplete: "new-password" });
    return { credential: String(credential), input };
  });
  const el = h("div", { className: "mcp-builtin-fields" },
    field("Name", name, `Optional; “${builtin.name}” when empty.`),
    ...options.map(({ option, input }) => field(`${option.name}${option.required ? " (required)" : ""}`, input, String(option.description ?? ""))),
    ...secrets.map(({ credential, input }) => field(`Credential ${credential}`, input, "Write-only: sent once, never shown again.")));
  return {
    el,
    body() {
      const body = { builtin: builtin.name };
      if (name.value.trim()) body.name = name.value.trim();
      const chosen = Object.fromEntries(options.filter(({ input }) => input.value.trim()).map(({ option, input }) => [option.name, input.value.trim()]));
      if (Object.keys(chosen).length) body.options = chosen;
      const given = Object.fromEntries(secrets.filter(({ input }) => input.value).map(({ credential, input }) => [credential, input.value]));
      if (Object.keys(given).length) body.credentials = given;
      return body;
    },
    reset() {
      name.value = "";
      for (const { input } of [...options, ...secrets]) input.value = "";
    },
  };
}

function customForm() {
  const name = h("input", { type: "text", name: "name", required: true, pattern: NAME_PATTERN, maxLength: 40, autocomplete: "off", placeholder: "notes" });
  name.spellcheck = false;
  const description = h("input", { type: "text", name: "description", maxLength: 500, autocomplete: "off" });
  const transports = h("fieldset", { className: "mcp-kinds" }, h("legend", {}, "Transport"),
    radio("transport", "stdio", "Local process (stdio)", { checked: true }), radio("transport", "http", "Streamable HTTP"));
  const command = h("input", { type: "text", name: "command", autocomplete: "off", placeholder: "python3" });
  const args = h("textarea", { name: "args", rows: 2, placeholder: "-m\nmy_server" });
  const env = h("textarea", { name: "env", rows: 2, placeholder: "LOG_LEVEL=info" });
  const cwd = h("input", { type: "text", name: "cwd", autocomplete: "off" });
  const url = h("input", { type: "url", name: "url", autocomplete: "off", placeholder: "http://127.0.0.1:9000/mcp" });
  const headers = h("textarea", { name: "headers", rows: 2, placeholder: "X-Team=a" });
  for (const input of [command, args, env, cwd, url, headers]) input.spellcheck = false;
  const stdio = h("div", { className: "mcp-transport", dataset: { transport: "stdio" } },
    field("Command", command), field("Arguments", args, "One per line."),
    field("Environment", env, "One KEY=value per line."), field("Working directory", cwd, "Optional."));
  const http = h("div", { className: "mcp-transport", dataset: { transport: "http" } },
    field("URL", url), field("Headers", headers, "One Name=value per line."));
  const slot = h("div", { className: "mcp-slot" }, stdio);
  const credentials = credentialRows();
  transports.addEventListener("change", () => {
    const isHttp = transports.querySelector("input:checked")?.value === "http";
    slot.replaceChildren(isHttp ? http : stdio);
    setText(credentials.hint, isHttp ? "Sent to the server as headers." : "Given to the process as environment variables.");
  });
  const el = h("div", { className: "mcp-custom-fields" },
    h("div", { className: "form-row" }, field("Name", name, "Lower case letters, digits, - and _."), field("Description", description, "Optional.")),
    transports, slot, credentials.el);
  return {
    el,
    body() {
      const isHttp = http.isConnected;
      const transport = isHttp
        ? { type: "http", url: url.value.trim(), headers: pairsOf(headers.value, "header") }
        : {
          type: "stdio",
          command: command.value.trim(),
          args: args.value.split(/\r?\n/).filter((line) => line.trim() !== ""),
          env: pairsOf(env.value, "environment variable"),
          cwd: cwd.value.trim() || null,
        };
      const body = { name: name.value.trim(), transport, description: description.value.trim() };
      const given = credentials.values();
      if (Object.keys(given).length) body.credentials = given;
      return body;
    },
    reset() {
      for (const input of [name, description, command, args, env, cwd, url, headers]) input.value = "";
      credentials.reset();
    },
  };
}
