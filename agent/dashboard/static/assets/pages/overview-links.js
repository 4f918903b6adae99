// The link layer of the topology: an SVG under the cards with one line from this node's card
// to each other member's (every member talks to every other over the peer channel; this node
// sees its own links). A line is styled by the remote member's state: online solid, suspect
// dashed warn, offline dashed bad. Positions follow the cards' boxes; they are measured only
// when the layout can have changed (membership, resize), never on telemetry.

import { svg } from "../core/dom.js";

export function linkLayer(stage) {
  const layer = svg("svg", { class: "topo-links", "aria-hidden": "true", focusable: "false" });
  stage.prepend(layer);
  const links = new Map(); // node_id -> {line, card}
  let hub = null;
  let queued = false;

  const place = () => {
    queued = false;
    const box = stage.getBoundingClientRect();
    setSize(layer, box);
    if (!hub || !hub.isConnected) return;
    const from = hub.getBoundingClientRect();
    const x1 = from.left + from.width / 2 - box.left;
    const y1 = from.top + from.height / 2 - box.top;
    for (const { line, dot, card } of links.values()) {
      if (!card.isConnected) continue;
      const to = card.getBoundingClientRect();
      const x2 = to.left + to.width / 2 - box.left;
      const y2 = to.top + to.height / 2 - box.top;
      for (const [k, v] of [["x1", x1], ["y1", y1], ["x2", x2], ["y2", y2]]) line.setAttribute(k, v.toFixed(1));
      // The visible end: where the line enters the card's top edge (or its side).
      const end = edgePoint(x1, y1, x2, y2, to.width / 2, to.height / 2);
      dot.setAttribute("cx", end[0].toFixed(1));
      dot.setAttribute("cy", end[1].toFixed(1));
    }
  };

  const relayout = () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(place);
  };

  const resize = new ResizeObserver(relayout);
  resize.observe(stage);

  const setState = (id, state) => {
    const link = links.get(id);
    if (link && link.group.getAttribute("data-state") !== state) link.group.setAttribute("data-state", state);
  };

  return {
    /** Sets the hub (this node's card) and the remote cards: [{id, card, state}]. */
    sync(hubCard, remotes) {
      if (hub !== hubCard) {
        if (hub) resize.unobserve(hub);
        hub = hubCard;
        if (hub) resize.observe(hub);
      }
      const keep = new Set(remotes.map((r) => r.id));
      for (const [id, link] of links) {
        if (keep.has(id)) continue;
        link.group.remove();
        resize.unobserve(link.card);
        links.delete(id);
      }
      for (const { id, card, state } of remotes) {
        let link = links.get(id);
        if (!link) {
          const line = svg("line", { class: "topo-link" });
          const dot = svg("circle", { class: "topo-end", r: 4 });
          const group = svg("g", { "data-link": id }, line, dot);
          layer.append(group);
          link = { group, line, dot, card };
          links.set(id, link);
          resize.observe(card);
        }
        link.card = card;
        setState(id, state);
      }
      relayout();
    },
    setState,
    destroy() {
      resize.disconnect();
      layer.remove();
    },
  };
}

function setSize(layer, box) {
  const w = Math.max(0, Math.round(box.width));
  const hgt = Math.max(0, Math.round(box.height));
  if (layer.getAttribute("width") === String(w) && layer.getAttribute("height") === String(hgt)) return;
  layer.setAttribute("width", w);
  layer.setAttribute("height", hgt);
  layer.setAttribute("viewBox", `0 0 ${w} ${hgt}`);
}

/** Where the segment from (x1,y1) to the box centred on (x2,y2) crosses the box's edge. */
function edgePoint(x1, y1, x2, y2, halfW, halfH) {
  const dx = x1 - x2;
  const dy = y1 - y2;
  if (!dx && !dy) return [x2, y2];
  const scale = Math.min(dx ? halfW / Math.abs(dx) : Infinity, dy ? halfH / Math.abs(dy) : Infinity);
  return [x2 + dx * Math.min(1, scale), y2 + dy * Math.min(1, scale)];
}
