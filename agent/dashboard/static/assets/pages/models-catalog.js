// The Models tab: every model in the cluster with its holders and the planner's verdict, each
// member's Ollama, and the pull form.
//
// What members hold travels in their heartbeats, so a model pulled onto another member shows
// here once that member's next heartbeat arrives: after a pull, each heartbeat from that node
// reloads the catalog until the model is listed there. Free memory (and so the verdicts)
// changes with every sample; those reload at most every REFRESH_MS.

import { api, coalesced } from "../core/api.js";
import { h } from "../core/dom.js";
import { bytes, plural } from "../core/format.js";
import { cluster, num } from "../core/store.js";
import { badge, button, confirmDialog, empty, errorBox, panel, table, toast } from "../core/ui.js";
import { pullPanel } from "./models-pull.js";
import { modelFacts, nodeName, verdict } from "./models-words.js";

const REFRESH_MS = 10_000;
const PENDING_MS = 60_000;

/** Ollama's default tag: "llama3.1" is "llama3.1:latest". */
export const fullName = (name) => (name.split("/").pop().includes(":") ? name : `${name}:latest`);

function holders(model) {
  return h(
    "ul",
    { className: "holders" },
    ...model.nodes.map((node) =>
      h("li", { dataset: { node: node.node_id } },
        nodeName(node.node_id, node.name),
        node.state !== "online" ? badge(node.state) : null),
    ),
  );
}

function nodeCard(node) {
  const llm = node.llm;
  const state = !llm ? "unknown" : llm.up ? "up" : "down";
  const text = !llm ? "not reported" : llm.up ? "up" : "down";
  const rows = [
    ["Version", llm?.version ?? "—"],
    ["Free RAM", bytes(num(node.free_ram))],
    ["Free VRAM", num(node.free_vram) ? bytes(num(node.free_vram)) : "none"],
    ["Models", llm ? String(llm.models.length) : "—"],
    ["In memory", llm?.loaded?.length ? llm.loaded.map((m) => m.name).join(", ") : "none"],
  ];
  return h(
    "article",
    { className: "card ollama-node", dataset: { node: node.node_id } },
    h("div", { className: "ollama-head" },
      h("strong", {}, nodeName(node.node_id, node.name)),
      node.state !== "online" ? badge(node.state) : null,
      h("span", { className: "ollama-state" }, h("span", { className: "muted" }, "Ollama "), badge(state, text))),
    llm && !llm.up && llm.reason ? h("p", { className: "ollama-reason" }, llm.reason) : null,
    h("dl", { className: "ollama-facts" }, ...rows.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
  );
}

export async function mountCatalog(root, ctx) {
  const selfName = () => nodeName(cluster.selfId);
  const listBox = h("div", { className: "models-list" }, empty("Loading models…"));
  const nodesBox = h("div", { className: "cards ollama-nodes" });
  const pull = pullPanel(ctx, { onFinished: (model, nodeId) => awaitPull(model, nodeId) });
  root.append(
    panel("Models in the cluster", listBox),
    h("div", { className: "models-side" }, pull, panel("Ollama on each node", nodesBox)),
  );
  const pending = new Map(); // node_id -> [{model, until}]: pulls not yet in the catalog
  let catalog = null;
  let lastLoad = 0;

  async function remove(model) {
    const ok = await confirmDialog({
      title: `Delete ${model.name}?`,
      message: `This removes ${model.name} from ${selfName()}'s Ollama. Other nodes keep their copies.`,
      confirm: `Delete from ${selfName()}`,
    });
    if (!ok) return;
    try {
      await api(`/api/llm/models/${encodeURIComponent(model.name)}`, { method: "DELETE", signal: ctx.signal });
      toast(`Deleted ${model.name} from ${selfName()}`, "ok");
    } catch (err) {
      if (err.name !== "AbortError") toast(err.message, "error");
    }
    reload();
  }

  function modelRow(model) {
    const words = verdict(model.plan);
    const mine = model.nodes.some((n) => n.node_id === cluster.selfId);
    const action = mine
      ? button(`Delete from ${selfName()}`, () => remove(model), { kind: "danger small" })
      : h("span", { className: "muted" }, "—");
    action.dataset.focusKey = `delete:${model.name}`;
    return h(
      "tr",
      { dataset: { model: model.name } },
      h("td", {}, h("strong", { className: "mono model-name" }, model.name), h("div", { className: "muted" }, modelFacts(model) || "—")),
      h("td", { className: "num" }, bytes(num(model.size))),
      h("td", {}, holders(model)),
      h("td", { className: "verdict-cell" },
        h("span", { className: "verdict", dataset: { verdict: model.plan?.verdict ?? "unknown", state: words.state } }, words.text),
        words.detail ? h("div", { className: "muted" }, words.detail) : null),
      h("td", {}, action),
    );
  }

  function render(models, caps) {
    const focused = document.activeElement?.dataset?.focusKey;
    if (!models.models.length) {
      listBox.replaceChildren(empty("No model on any member yet. Pull one below."));
    } else {
      const columns = ["Model", { label: "Size", num: true }, "Held by", "Where it runs", "Actions"];
      listBox.replaceChildren(
        h("p", { className: "muted models-count" }, plural(models.count, "model")),
        table("Models in the cluster", columns, models.models.map(modelRow)),
      );
    }
    nodesBox.replaceChildren(...(caps.nodes.length ? caps.nodes.map(nodeCard) : [empty("No members.")]));
    pull.setNodes(caps.nodes);
    if (focused) root.querySelector(`[data-focus-key="${CSS.escape(focused)}"]`)?.focus();
  }

  function settle() {
    const now = Date.now();
    for (const [nodeId, items] of pending) {
      const held = (name) => catalog.models.some((m) => m.name === name && m.nodes.some((n) => n.node_id === nodeId));
      const left = items.filter((item) => item.until > now && !held(item.model));
      if (left.length) pending.set(nodeId, left);
      else pending.delete(nodeId);
    }
  }

  /** Reloads catalog and capabilities; calls during a load share it plus one more after. */
  const reload = coalesced(async () => {
    lastLoad = Date.now();
    try {
      const [models, caps] = await Promise.all([
        api("/api/llm/models", { signal: ctx.signal }),
        api("/api/llm/inference/capabilities", { signal: ctx.signal }),
      ]);
      catalog = models;
      render(models, caps);
      settle();
    } catch (err) {
      if (err.name === "AbortError") return;
      listBox.replaceChildren(errorBox(err, "The models could not load"));
    }
  }, ctx.signal);

  function awaitPull(model, nodeId) {
    const items = pending.get(nodeId) ?? [];
    items.push({ model: fullName(model), until: Date.now() + PENDING_MS });
    pending.set(nodeId, items);
    reload();
  }

  const maybeReload = () => (Date.now() - lastLoad >= REFRESH_MS ? reload() : null);
  ctx.on("llm.model.pulled", (data) => (data?.node_id && data.model ? awaitPull(data.model, data.node_id) : reload()));
  ctx.on("llm.model.deleted", () => reload());
  ctx.on("llm.backend", () => reload());
  ctx.on("node.heartbeat", (data) => (pending.has(data?.node_id) ? reload() : maybeReload()));
  ctx.on("node.telemetry", () => maybeReload());
  ctx.on("stream.resync", () => reload());
  ctx.onCluster((change) => (change.kind === "telemetry" ? null : reload()));
  await reload();
}
