// Brain: the documents this node indexes (its sources), rescans with live progress, the
// index in numbers, and search over the whole cluster. The status is loaded again when the
// index changes (brain.indexed, brain.removed), at most once per RELOAD_MS however many files
// a scan touches; scan progress itself comes from brain.reindex.progress, with no request.

import { api, coalesced } from "../core/api.js";
import { h } from "../core/dom.js";
import { errorBox, pageHeader, useStyles } from "../core/ui.js";
import { countsPanel } from "./brain-counts.js";
import { reindexPanel } from "./brain-reindex.js";
import { searchPanel } from "./brain-search.js";
import { sourcesPanel } from "./brain-sources.js";

const RELOAD_MS = 500;

/**
 * `load` at most once per `ms` and never two at once: the first call after a quiet spell
 * runs at once, calls during the pause fold into one at its end.
 */
function paced(load, ms, signal) {
  const run = coalesced(load, signal);
  let timer = null;
  let last = -Infinity;
  const fire = () => {
    timer = null;
    last = performance.now();
    run();
  };
  signal.addEventListener("abort", () => clearTimeout(timer));
  return () => {
    if (timer !== null || signal.aborted) return;
    timer = setTimeout(fire, Math.max(0, last + ms - performance.now()));
  };
}

export default {
  async mount(view, ctx) {
    useStyles("/assets/pages/brain.css");
    const banner = h("div", { className: "brain-banner" });
    const counts = countsPanel();
    const reindex = reindexPanel(ctx, { onEnd: () => refresh() });
    const sources = sourcesPanel(reindex);
    const search = searchPanel(ctx);
    view.append(
      pageHeader("Brain", { sub: "The documents this node indexes. A search covers every member's." }),
      banner,
      search,
      h("div", { className: "brain-grid" }, h("div", { className: "brain-column" }, sources, reindex), counts),
    );

    const load = async () => {
      let status;
      try {
        status = await api("/api/brain/status", { signal: ctx.signal });
      } catch (err) {
        if (err.name !== "AbortError") banner.replaceChildren(errorBox(err, "The index status could not load"));
        return;
      }
      banner.replaceChildren();
      sources.update(status);
      counts.update(status);
    };
    const refresh = paced(load, RELOAD_MS, ctx.signal);

    ctx.on("brain.indexed", refresh);
    ctx.on("brain.removed", refresh);
    ctx.on("brain.reindex.progress", (progress) => reindex.live(progress));
    ctx.on("stream.resync", refresh);
    await load();
    search.start();
  },
};
