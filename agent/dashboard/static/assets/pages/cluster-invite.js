// Adding a device: a single-use join token shown as the command to run there, the link of its
// onboarding page and that link as a QR code, with a live countdown to its expiry.

import { api } from "../core/api.js";
import { h, setAttr, setText } from "../core/dom.js";
import { duration, shortId } from "../core/format.js";
import { badge, button, panel, setBadge, toast } from "../core/ui.js";
import { qrSvg } from "./cluster-qr.js";

/** `ab12cd34…` as `ab12 cd34 …`, the way a fingerprint is compared by eye. */
export const blocks = (hex) => String(hex).match(/.{1,4}/g)?.join(" ") ?? "";

async function copy(text, source, what) {
  try {
    if (!navigator.clipboard) throw new Error("no clipboard");
    await navigator.clipboard.writeText(text);
    toast(`${what} copied`, "ok");
  } catch {
    // No clipboard here (permissions, an old browser): select it for a manual copy instead.
    getSelection()?.selectAllChildren(source);
    toast(`Could not copy the ${what.toLowerCase()}: it is selected, press Ctrl+C (⌘C) to copy it`);
  }
}

function copyRow(title, value, what, dataName) {
  const text = dataName === "joinLink"
    ? h("a", { className: "mono token-text", href: value, target: "_blank", rel: "noopener noreferrer", dataset: { [dataName]: "" } }, value)
    : h("code", { className: "token-text", dataset: { [dataName]: "" } }, value);
  return h(
    "div",
    { className: "token-row" },
    h("h3", {}, title),
    h("div", { className: "copy-row" }, text, button("Copy", () => copy(value, text, what), { kind: "small", label: `Copy the ${what.toLowerCase()}` })),
  );
}

function forWhom(agent) {
  if (!agent) return "For any device: run the command there, or open the link or scan the code on it.";
  const where = agent.addresses?.length ? ` at ${agent.addresses.join(", ")}` : "";
  // Joining answers ALREADY_IN_CLUSTER to an agent that is in a cluster: say so up front.
  const first = agent.cluster_id ? " It is in another cluster now: it has to leave that one first (openfabric cluster leave)." : "";
  return `For ${agent.name} (${shortId(agent.node_id)})${where}: run the command on that device, or open the link or scan the code on it.${first}`;
}

/** The panel; `invite(agent)` issues a token for a discovered agent (or any device). */
export function invitePanel(ctx) {
  const result = h("div", { className: "token", hidden: true, dataset: { token: "" } });
  const create = button("Create join token", () => invite(null), { kind: "primary" });
  let timer = null;
  let busy = false;

  const stop = () => {
    clearInterval(timer);
    timer = null;
  };
  ctx.onCleanup(stop);

  function countdown(token) {
    const deadline = Date.now() + Math.max(0, token.expires_in) * 1000;
    const text = h("span", { dataset: { countdown: "" }, "aria-live": "off" });
    const state = badge("valid", "valid");
    const tick = () => {
      const left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
      setAttr(text, "data-remaining", left);
      if (left > 0) {
        setText(text, `Expires in ${duration(left)}`);
        return;
      }
      stop();
      setText(text, "This token has expired: create a new one.");
      setBadge(state, "expired", "expired");
      result.dataset.expired = "true";
    };
    tick();
    timer = setInterval(tick, 1000);
    return h("p", { className: "token-expiry" }, state, text);
  }

  function show(token, agent) {
    stop();
    result.dataset.expired = "false";
    result.dataset.for = agent?.node_id ?? "";
    const fingerprint = token.issuer?.fingerprint ?? "";
    result.replaceChildren(
      h("p", { className: "token-for", dataset: { tokenFor: "" } }, forWhom(agent)),
      countdown(token),
      h(
        "div",
        { className: "token-body" },
        h(
          "div",
          { className: "token-texts" },
          copyRow("Command", token.command, "Command", "joinCommand"),
          copyRow("Join link", token.join_url, "Link", "joinLink"),
          h(
            "div",
            { className: "token-row" },
            h("h3", {}, "Fingerprint"),
            h("p", { className: "muted" }, `The new device shows the fingerprint of ${token.issuer?.name ?? "this node"}; check that it reads:`),
            h("code", { className: "token-text fingerprint" }, blocks(fingerprint)),
          ),
          h("p", { className: "muted" }, "Single use: create one token per device."),
        ),
        h("figure", { className: "qr-box" }, qrSvg(token.join_url, "QR code of the join link"), h("figcaption", { className: "muted" }, "Scan on the new device")),
      ),
    );
    result.hidden = false;
  }

  async function invite(agent) {
    if (busy) return;
    busy = true;
    create.disabled = true;
    try {
      const token = await api("/api/cluster/join-token", { signal: ctx.signal });
      show(token, agent);
      result.scrollIntoView?.({ block: "nearest" });
    } catch (err) {
      if (err.name !== "AbortError") toast(`No join token: ${err.message}`, "error");
    } finally {
      busy = false;
      create.disabled = false;
    }
  }

  const el = panel(
    "Add a device",
    h("p", { className: "muted" }, "A join token lets one more device into this cluster. It is valid for a few minutes and for one device only."),
    h("div", { className: "actions token-actions" }, create),
    result,
  );
  el.dataset.invite = "";
  return { el, invite };
}
