// One member's card on the overview: name (a link to its page), state, live gauges.
//
// DOM contract (a benchmark script reads it): the card carries data-node-id; inside,
// [data-field="cpu"] holds exactly pct(cpu.percent) of the newest sample and
// [data-field="state"] carries data-state = online | suspect | offline. data-ts on the card is
// the `ts` of the sample the figures come from.

import { h, setAttr, setText } from "../core/dom.js";
import { bytes, pct, plural } from "../core/format.js";
import { badge, gauge, setBadge } from "../core/ui.js";
import { figures, share } from "./overview-figures.js";

const pair = (used, total) => (used != null && total != null ? `${bytes(used)} / ${bytes(total)}` : "—");

function meta(node) {
  const where = node.address ? `${node.address}${node.peer_port ? `:${node.peer_port}` : ""}` : "no address";
  return `${where} · v${node.version || "?"}`;
}

export function nodeCard(node) {
  const id = node.node_id;
  const state = badge(node.state, node.state);
  state.dataset.field = "state";
  const name = h("a", { className: "topo-name", href: `/nodes/${encodeURIComponent(id)}` }, node.name);
  const where = h("p", { className: "muted topo-meta" }, meta(node));
  const gauges = {
    cpu: gauge("CPU", { compact: true }),
    ram: gauge("RAM", { compact: true }),
    vram: gauge("VRAM", { compact: true }),
    disk: gauge("Disk", { compact: true }),
  };
  gauges.cpu.querySelector(".gauge-value").dataset.field = "cpu";
  gauges.ram.querySelector(".gauge-value").dataset.field = "ram";
  gauges.vram.querySelector(".gauge-value").dataset.field = "vram";
  gauges.disk.querySelector(".gauge-value").dataset.field = "disk";
  const cores = h("span", { dataset: { field: "cores" } }, "—");
  const gpus = h("span", { dataset: { field: "gpus" } }, "—");

  const el = h(
    "article",
    { className: "card topo-card", dataset: { nodeId: id, state: node.state }, "aria-label": `Node ${node.name}` },
    h(
      "div",
      { className: "topo-head" },
      h("h3", { className: "topo-title" }, name, node.is_self ? h("span", { className: "tag", dataset: { field: "self" } }, "this node") : null),
      state,
    ),
    where,
    h("div", { className: "topo-gauges" }, gauges.cpu, gauges.ram, gauges.vram, gauges.disk),
    h("p", { className: "muted topo-foot" }, cores, " · ", gpus),
  );

  el.setState = (next) => {
    setBadge(state, next, next);
    if (el.dataset.state !== next) el.dataset.state = next;
  };

  el.setInfo = (n) => {
    setText(name, n.name);
    setText(where, meta(n));
    el.setAttribute("aria-label", `Node ${n.name}`);
    el.setState(n.state);
  };

  el.update = (n) => {
    const f = figures(n);
    gauges.cpu.update(f.cpu == null ? null : f.cpu / 100, pct(f.cpu));
    gauges.ram.update(share(f.ramUsed, f.ramTotal), pair(f.ramUsed, f.ramTotal));
    if (f.gpuCount === 0) gauges.vram.update(0, "no GPU");
    else gauges.vram.update(share(f.vramUsed, f.vramTotal), pair(f.vramUsed, f.vramTotal));
    gauges.disk.update(share(f.diskUsed, f.diskTotal), pair(f.diskUsed, f.diskTotal));
    setText(cores, f.cores == null ? "cores unknown" : plural(f.cores, "core"));
    setText(gpus, f.gpuCount == null ? "GPUs unknown" : plural(f.gpuCount, "GPU"));
    // Which sample the figures are from (its `ts`), for tools that check them.
    if (f.ts != null) setAttr(el, "data-ts", f.ts);
  };

  el.setInfo(node);
  el.update(node);
  return el;
}
