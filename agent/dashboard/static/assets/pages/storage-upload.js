// Uploads into the shared storage: a file input and a drop zone feed one queue, sent two at a
// time with XMLHttpRequest (fetch reports no upload progress), each with its own progress bar
// and its own error. The queue outlives the page's mounts, so opening another folder does not
// cancel what is being sent; whoever shows the listing is told when a file is stored.

import { request } from "../core/api.js";
import { h, setAttr, setText } from "../core/dom.js";
import { bytes } from "../core/format.js";
import { button, field, panel } from "../core/ui.js";

const AT_ONCE = 2;
const waiting = [];
let sending = 0;
let onStored = () => {};

const list = h("ul", { className: "uploads", "aria-label": "Uploads", "aria-live": "polite" });
const clear = button("Clear finished", clearFinished, { kind: "ghost small" });
clear.hidden = true;

/** fn(file) after each stored upload; answers a function that stops it. */
export function whenStored(fn) {
  onStored = fn;
  return () => {
    if (onStored === fn) onStored = () => {};
  };
}

function clearFinished() {
  for (const row of [...list.children]) if (row.dataset.state === "stored") row.remove();
  update();
}

function update() {
  clear.hidden = ![...list.children].some((row) => row.dataset.state === "stored");
}

function setState(item, state, text) {
  item.row.dataset.state = state;
  setText(item.status, text);
  update();
}

function progress(item, loaded, total) {
  const size = Math.max(1, total);
  setAttr(item.bar, "max", size);
  item.bar.value = Math.min(loaded, size);
  item.row.dataset.sent = String(loaded);
  const share = Math.floor((100 * loaded) / size);
  setState(item, "uploading", loaded >= total ? "Storing…" : `${share}% · ${bytes(loaded)} of ${bytes(total)}`);
}

function errorOf(xhr) {
  let body = null;
  try {
    body = JSON.parse(xhr.responseText);
  } catch {
    // Not the standard error body: the status line says what there is to say.
  }
  return {
    status: xhr.status,
    code: body?.error_code ?? `HTTP_${xhr.status}`,
    message: body?.error ?? `the agent answered HTTP ${xhr.status}`,
  };
}

function stored(item, answer) {
  item.bar.value = Number(item.bar.max);
  const sha = typeof answer?.sha256 === "string" ? ` · sha256 ${answer.sha256.slice(0, 12)}…` : "";
  setState(item, "stored", `Stored${sha}`);
  item.actions.replaceChildren(button("Dismiss", () => item.row.remove(), { kind: "ghost small", label: `Dismiss ${item.path}` }));
  onStored(answer);
}

function failed(item, err) {
  setState(item, "failed", err.message);
  item.row.dataset.code = err.code;
  const again = (overwrite) => () => {
    item.overwrite = overwrite;
    item.actions.replaceChildren();
    start(item);
  };
  const retry =
    err.code === "FILE_EXISTS"
      ? button("Overwrite", again(true), { kind: "danger small", label: `Overwrite ${item.path}` })
      : button("Retry", again(item.overwrite), { kind: "small", label: `Retry ${item.path}` });
  const dismiss = button("Dismiss", () => item.row.remove(), { kind: "ghost small", label: `Dismiss ${item.path}` });
  item.actions.replaceChildren(retry, dismiss);
  // An ended session shows the sign-in panel: the shell notices on the next request's 401.
  if (err.status === 401) request("/api/status").catch(() => {});
}

function send(item) {
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    const query = new URLSearchParams({ path: item.path });
    if (item.overwrite) query.set("overwrite", "true");
    xhr.open("POST", `/api/storage/upload?${query}`);
    // Same origin: the session cookie goes along (withCredentials is for other origins).
    xhr.setRequestHeader("Accept", "application/json");
    // Raw body, never multipart: nothing is spooled on the agent before it is chunked.
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    xhr.upload.onprogress = (e) => progress(item, e.loaded, e.lengthComputable ? e.total : item.file.size);
    xhr.onload = () => {
      if (xhr.status === 201) {
        let answer = null;
        try {
          answer = JSON.parse(xhr.responseText);
        } catch {
          // Stored all the same; the listing shows it.
        }
        stored(item, answer);
      } else failed(item, errorOf(xhr));
      resolve();
    };
    xhr.onerror = () => {
      failed(item, { status: 0, code: "UNREACHABLE", message: "the agent cannot be reached" });
      resolve();
    };
    xhr.send(item.file);
  });
}

function pump() {
  while (sending < AT_ONCE && waiting.length) {
    const item = waiting.shift();
    sending += 1;
    send(item).finally(() => {
      sending -= 1;
      pump();
    });
  }
}

function start(item) {
  setState(item, "queued", "Waiting…");
  item.bar.removeAttribute("value"); // indeterminate until the first progress report
  waiting.push(item);
  pump();
}

function itemFor(file, folder) {
  const path = folder ? `${folder}/${file.name}` : file.name;
  const bar = h("progress", { max: Math.max(1, file.size), "aria-label": `Upload of ${path}` });
  const status = h("span", { className: "upload-status" });
  const actions = h("span", { className: "upload-actions" });
  const row = h(
    "li",
    { className: "upload", dataset: { upload: path } },
    h("span", { className: "upload-name", title: path }, path),
    h("span", { className: "muted upload-size" }, bytes(file.size)),
    bar,
    status,
    actions,
  );
  return { file, path, overwrite: false, row, bar, status, actions };
}

/** Queues files for `folder` ("" for the root). */
export function upload(files, folder) {
  for (const file of files) {
    const item = itemFor(file, folder);
    list.append(item.row);
    start(item);
  }
}

const hasFiles = (event) => [...(event.dataTransfer?.types ?? [])].includes("Files");

/** The upload panel for one folder: the labelled input (keyboard) inside the drop zone. */
export function uploadPanel(folder) {
  const where = folder ? `${folder}/` : "the top folder";
  const input = h("input", { type: "file", multiple: true, className: "file-input" });
  input.addEventListener("change", () => {
    upload([...input.files], folder);
    input.value = ""; // the same file can be chosen again
  });
  const zone = h(
    "div",
    { className: "drop-zone", dataset: { drop: "files" } },
    h("p", {}, "Drop files here to upload them into ", h("strong", {}, where), ", or"),
    field("Choose files to upload", input, "Several at once; each goes into this folder."),
  );
  const over = (on) => (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    if (on) zone.dataset.over = "true";
    else if (!zone.contains(event.relatedTarget)) delete zone.dataset.over;
  };
  zone.addEventListener("dragenter", over(true));
  zone.addEventListener("dragover", over(true));
  zone.addEventListener("dragleave", over(false));
  zone.addEventListener("drop", (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    delete zone.dataset.over;
    upload([...event.dataTransfer.files], folder);
  });
  update();
  return panel("Upload", zone, h("div", { className: "uploads-head" }, clear), list);
}
