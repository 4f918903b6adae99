// Storage: browse the cluster's shared files folder by folder (the URL after /storage/ is the
// folder, so every folder is a deep link), upload into it, download and delete. The listing is
// fetched again whenever a storage event arrives, never on a timer.

import { api, coalesced } from "../core/api.js";
import { h, perFrame, setText } from "../core/dom.js";
import { confirmDialog, empty, errorBox, pageHeader, panel, toast, useStyles } from "../core/ui.js";
import {
  entries,
  fileHref,
  folderHref,
  isDegraded,
  keepFocus,
  listingTable,
  segmentsOf,
  summaryText,
} from "./storage-list.js";
import { uploadPanel, whenStored } from "./storage-upload.js";

function breadcrumb(segments) {
  const steps = [{ label: "Storage", at: [] }, ...segments.map((s, i) => ({ label: s, at: segments.slice(0, i + 1) }))];
  return h(
    "nav",
    { className: "crumbs", "aria-label": "Folder" },
    h(
      "ol",
      {},
      ...steps.map((step, i) => {
        const last = i === steps.length - 1;
        const href = folderHref(step.at);
        if (last || !href) return h("li", {}, h("span", { "aria-current": last ? "location" : null }, step.label));
        return h("li", {}, h("a", { href }, step.label));
      }),
    ),
  );
}

const carriesFiles = (event) => [...(event.dataTransfer?.types ?? [])].includes("Files");

export default {
  async mount(view, ctx) {
    useStyles("/assets/pages/storage.css");
    const segments = segmentsOf(ctx.params.path);
    const prefix = segments.join("/");
    const summary = h("p", { className: "storage-summary", dataset: { summary: "" } }, "Loading…");
    const listing = h("div", { className: "storage-listing" });
    let files = null;
    let problem = null;

    const render = () => {
      if (problem) {
        setText(summary, "");
        listing.replaceChildren(errorBox(problem, "The files could not be listed"));
        return;
      }
      if (!files) return;
      const restore = keepFocus(listing);
      const under = files.filter((f) => f.path !== prefix);
      setText(summary, summaryText(under));
      summary.dataset.files = String(under.length);
      summary.dataset.degraded = String(under.filter(isDegraded).length);
      const shown = entries(files, prefix);
      if (!shown.folders.length && !shown.files.length) {
        const up = folderHref(segments.slice(0, -1));
        listing.replaceChildren(
          empty(prefix ? "No files in this folder." : "No files stored yet: upload some below."),
          prefix && up ? h("a", { href: up }, "Back to the folder above") : null,
        );
      } else {
        listing.replaceChildren(listingTable(shown, segments, { onDelete }));
      }
      restore();
    };
    const rerender = perFrame(render);

    const load = async () => {
      try {
        const answer = await api("/api/storage", { query: { prefix }, signal: ctx.signal });
        files = Array.isArray(answer?.files) ? answer.files : [];
        problem = null;
      } catch (err) {
        if (err.name === "AbortError") return;
        problem = err;
      }
      render();
    };
    const refresh = coalesced(load, ctx.signal);

    async function onDelete(file, name) {
      const href = fileHref(file.path);
      if (!href) return toast("This path cannot be addressed from the dashboard", "error");
      const confirmed = await confirmDialog({
        title: `Delete ${name}?`,
        message: `${file.path} will be deleted on every node of the cluster. This cannot be undone.`,
        confirm: "Delete",
      });
      if (!confirmed) return;
      try {
        await api(href, { method: "DELETE" });
        toast(`Deleted ${file.path}`, "ok");
      } catch (err) {
        toast(err.message, "error");
      }
      refresh();
    }

    // A file dropped beside the zone must not make the browser leave the dashboard to open it.
    const guard = (event) => {
      if (carriesFiles(event)) event.preventDefault();
    };
    view.addEventListener("dragover", guard);
    view.addEventListener("drop", guard);
    ctx.onCleanup(() => {
      view.removeEventListener("dragover", guard);
      view.removeEventListener("drop", guard);
    });

    const where = prefix ? `${prefix}/` : "All files";
    view.append(
      pageHeader("Storage", { sub: "Files shared by the cluster, each kept on several nodes." }),
      panel(where, breadcrumb(segments), summary, listing),
      uploadPanel(prefix),
    );

    ctx.on("storage", () => refresh());
    ctx.on("stream.resync", () => refresh());
    // Holder names and states come from the member list; telemetry changes neither.
    ctx.onCluster((change) => {
      if (change.kind !== "telemetry") rerender();
    });
    ctx.onCleanup(whenStored(() => refresh()));
    await refresh();
  },
};
