// The Add form's free-form parts: KEY=value lines (environment, headers) and the credential
// rows, whose values sit in password fields and are cleared once sent.

import { h } from "../core/dom.js";
import { button, field } from "../core/ui.js";

const MAX_CREDENTIALS = 16;

/** {"K": "v"} from "K=v" lines; a line without "=" or without a name throws. */
export function pairsOf(text, what) {
  const out = {};
  for (const raw of String(text).split(/\r?\n/)) {
    const line = raw.trim();
    if (!line) continue;
    const cut = line.indexOf("=");
    if (cut <= 0) throw new Error(`Each ${what} is a line NAME=value: “${line.slice(0, 60)}” is not.`);
    out[line.slice(0, cut).trim()] = line.slice(cut + 1);
  }
  return out;
}

function credentialRow(remove) {
  const name = h("input", { type: "text", name: "credential-name", autocomplete: "off", placeholder: "API_TOKEN", maxLength: 100 });
  name.spellcheck = false;
  const value = h("input", { type: "password", name: "credential-value", autocomplete: "new-password" });
  const row = h("div", { className: "form-row mcp-credential" },
    field("Credential name", name), field("Credential value", value));
  row.append(button("Remove", () => remove(row), { kind: "small", label: "Remove this credential" }));
  row.pair = () => [name.value.trim(), value.value];
  return row;
}

/** The credentials part of the custom form: `values()` the entries typed, `reset()`. */
export function credentialRows() {
  const rows = h("div", { className: "mcp-credentials" });
  const hint = h("small", { className: "muted" }, "Given to the process as environment variables.");
  const remove = (row) => {
    row.remove();
    more.disabled = false;
  };
  const more = button("Add a credential", () => {
    rows.append(credentialRow(remove));
    more.disabled = rows.children.length >= MAX_CREDENTIALS;
    rows.lastElementChild.querySelector("input").focus();
  }, { kind: "small" });
  const el = h("fieldset", { className: "mcp-credentials-box" },
    h("legend", {}, "Credentials"),
    h("p", { className: "muted" }, "Write-only: stored on this node (mode 0600), never shown again. ", hint),
    rows, more);
  return {
    el,
    hint,
    values() {
      const out = {};
      for (const row of rows.children) {
        const [name, value] = row.pair();
        if (name) out[name] = value;
      }
      return out;
    },
    reset() {
      rows.replaceChildren();
      more.disabled = false;
    },
  };
}
