// The storage page's listing: folders derived from path prefixes, the current folder's files,
// and the links and actions of each row. Paths come from other members, so they are only ever
// text, and every href is built one URL-encoded segment at a time.

import { h } from "../core/dom.js";
import { bytes, dateTime, plural, shortId } from "../core/format.js";
import { cluster } from "../core/store.js";
import { badge, button, table, toast } from "../core/ui.js";

const SHA_SHOWN = 12;

/** The folder's segments from the route's rest-of-path ("" for the root). */
export const segmentsOf = (rest) => String(rest ?? "").split("/").filter(Boolean);

/** "." and ".." would be resolved away by the URL parser (even encoded): such a path gets no link. */
const linkable = (segments) => segments.every((s) => s !== "." && s !== "..");

const encoded = (segments) => segments.map(encodeURIComponent).join("/");

export function folderHref(segments) {
  if (!linkable(segments)) return null;
  return segments.length ? `/storage/${encoded(segments)}` : "/storage";
}

export function fileHref(path) {
  const segments = path.split("/");
  return linkable(segments) ? `/api/storage/${encoded(segments)}` : null;
}

/** Marks a control so that focus can come back to it after the list is rebuilt. */
function keyed(el, key) {
  el.dataset.focusKey = key;
  return el;
}

/** The focused control's key, and a function that focuses its successor in `root`. */
export function keepFocus(root) {
  const key = document.activeElement?.dataset?.focusKey;
  return () => {
    if (!key) return;
    const again = [...root.querySelectorAll("[data-focus-key]")].find((el) => el.dataset.focusKey === key);
    again?.focus({ preventScroll: true });
  };
}

export const isDegraded = (file) => file.health !== "healthy";

/** Splits a listing under `prefix` into the folders right below it and the files in it. */
export function entries(files, prefix) {
  const folders = new Map();
  const here = [];
  for (const file of files) {
    if (typeof file?.path !== "string" || file.path === prefix) continue;
    const rel = prefix ? file.path.slice(prefix.length + 1) : file.path;
    const cut = rel.indexOf("/");
    if (cut < 0) {
      here.push({ file, name: rel });
      continue;
    }
    const name = rel.slice(0, cut);
    const folder = folders.get(name) ?? { name, count: 0, size: 0, degraded: 0 };
    folder.count += 1;
    folder.size += Number.isFinite(file.size) ? file.size : 0;
    folder.degraded += isDegraded(file) ? 1 : 0;
    folders.set(name, folder);
  }
  const byName = (a, b) => a.name.localeCompare(b.name);
  return { folders: [...folders.values()].sort(byName), files: here.sort(byName) };
}

function holderNames(ids) {
  const holders = (Array.isArray(ids) ? ids : []).map((id) => {
    const node = cluster.nodes.get(id);
    return { id: String(id), name: node?.name || shortId(id), state: node?.state ?? "unknown" };
  });
  if (!holders.length) return h("span", { className: "muted" }, "none");
  holders.sort((a, b) => a.name.localeCompare(b.name));
  return h(
    "ul",
    { className: "holders" },
    ...holders.map((n) => h("li", { title: `${n.name} (${n.id}): ${n.state}`, dataset: { state: n.state } }, n.name)),
  );
}

async function copyText(text, what) {
  try {
    await navigator.clipboard.writeText(text);
    toast(`${what} copied`, "ok");
  } catch {
    toast(`${what} could not be copied: select it and copy it by hand`, "error");
  }
}

function shaCell(file, name) {
  const sha = String(file.sha256 ?? "");
  return h(
    "td",
    { className: "sha" },
    h("code", { title: sha }, sha.slice(0, SHA_SHOWN)),
    " ",
    keyed(
      button("Copy", () => copyText(sha, `SHA-256 of ${name}`), {
        kind: "ghost small",
        label: `Copy the SHA-256 of ${name}`,
      }),
      `copy:${file.path}`,
    ),
  );
}

function folderRow(folder, segments) {
  const href = folderHref([...segments, folder.name]);
  const label = h("span", { className: "folder-name" }, folder.name);
  const degraded = folder.degraded
    ? badge("degraded", `${folder.degraded} degraded`)
    : h("span", { className: "muted" }, "—");
  return h(
    "tr",
    { className: "folder-row", dataset: { folder: folder.name } },
    h("td", { className: "name" }, href ? keyed(h("a", { href, "aria-label": `Open folder ${folder.name}` }, label), `folder:${folder.name}`) : label),
    h("td", { className: "num" }, bytes(folder.size)),
    h("td", { colSpan: 3, className: "muted" }, plural(folder.count, "file")),
    h("td", {}, degraded),
    h("td", {}),
  );
}

function fileRow({ file, name }, { onDelete }) {
  const href = fileHref(file.path);
  const download = href
    ? keyed(h("a", { className: "btn small", href, download: name, "aria-label": `Download ${name}` }, "Download"), `download:${file.path}`)
    : null;
  const remove = keyed(button("Delete", () => onDelete(file, name), { kind: "danger small", label: `Delete ${name}` }), `delete:${file.path}`);
  return h(
    "tr",
    { className: "file-row", dataset: { path: file.path, health: file.health } },
    h("td", { className: "name", title: file.path }, name),
    h("td", { className: "num", title: `${file.size} bytes` }, bytes(file.size)),
    shaCell(file, name),
    h("td", { className: "modified" }, dateTime(file.modified)),
    h("td", {}, holderNames(file.nodes)),
    h("td", {}, badge(file.health)),
    h("td", {}, h("div", { className: "row-actions" }, download, remove)),
  );
}

const COLUMNS = ["Name", { label: "Size", num: true }, "SHA-256", "Modified", "Holders", "Health", "Actions"];

/** The table of one folder: sub-folders first, then its files. */
export function listingTable(view, segments, actions) {
  const el = table("Files in this folder", COLUMNS, [
    ...view.folders.map((f) => folderRow(f, segments)),
    ...view.files.map((f) => fileRow(f, actions)),
  ]);
  el.classList.add("storage-table");
  return el;
}

/** One line: how many files (everything under the folder), their size, how many degraded. */
export function summaryText(files) {
  const total = files.reduce((sum, f) => sum + (Number.isFinite(f.size) ? f.size : 0), 0);
  const degraded = files.filter((f) => f.health === "degraded").length;
  const unavailable = files.filter((f) => f.health === "unavailable").length;
  const parts = [plural(files.length, "file"), bytes(total), `${degraded} degraded`];
  if (unavailable) parts.push(`${unavailable} unavailable`);
  return parts.join(" · ");
}
