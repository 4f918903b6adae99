// Pulling a model onto a member: POST /api/llm/pull answers Ollama's progress as SSE
// (`progress` per layer, then `done` or `error`); the bar sums the layers' bytes.

import { postStream } from "../core/api.js";
import { h, setAttr, setText } from "../core/dom.js";
import { bytes, clamp01 } from "../core/format.js";
import { cluster, num } from "../core/store.js";
import { button, field, panel, toast } from "../core/ui.js";
import { nodeName } from "./models-words.js";

function nodeOption(node) {
  const notes = [];
  if (node.node_id === cluster.selfId) notes.push("this node");
  if (node.state !== "online") notes.push(node.state);
  else if (!node.llm?.up) notes.push("Ollama down");
  const text = `${nodeName(node.node_id, node.name)}${notes.length ? ` (${notes.join(", ")})` : ""}`;
  const usable = node.state === "online" && node.llm?.up === true;
  return h("option", { value: node.node_id, disabled: !usable }, text);
}

/** The pull form and its progress; `setNodes(capabilities.nodes)` keeps the picker current. */
export function pullPanel(ctx, { onFinished }) {
  const input = h("input", {
    type: "text", name: "model", required: true, autocomplete: "off", placeholder: "llama3.1:8b",
    maxLength: 300,
  });
  input.spellcheck = false;
  const select = h("select", { name: "node" });
  const pull = button("Pull", null, { kind: "primary", type: "submit" });
  const cancel = button("Cancel pull", () => controller?.abort(), { kind: "ghost" });
  cancel.hidden = true;
  const status = h("p", { className: "pull-status", "aria-live": "polite" });
  const fill = h("span");
  const bar = h("div", {
    className: "bar pull-bar", role: "progressbar", "aria-label": "Pull progress",
    "aria-valuemin": 0, "aria-valuemax": 100,
  }, fill);
  const amount = h("p", { className: "pull-bytes muted" });
  const progress = h("div", { className: "pull-progress", dataset: { pull: "progress" } }, status, bar, amount);
  progress.hidden = true;
  const failure = h("p", { className: "pull-error", role: "alert" });
  failure.hidden = true;
  const form = h(
    "form",
    { className: "pull-form", "aria-label": "Pull a model", onsubmit: (e) => start(e) },
    h("div", { className: "form-row" },
      field("Model name", input, "A name from the Ollama library, with its tag."),
      field("Pull onto", select),
    ),
    h("div", { className: "actions" }, pull, cancel),
  );
  const el = panel("Pull a model", form, progress, failure);
  let controller = null;
  let eligible = 0;
  ctx.onCleanup(() => controller?.abort());

  function setBusy(busy) {
    pull.disabled = busy || eligible === 0;
    input.disabled = select.disabled = busy;
    cancel.hidden = !busy;
  }

  function showBar(fraction, text) {
    const known = fraction != null;
    fill.style.transform = `scaleX(${clamp01(known ? fraction : 0).toFixed(3)})`;
    setAttr(bar, "aria-valuenow", Math.round(clamp01(fraction ?? 0) * 100));
    setAttr(bar, "aria-valuetext", known ? text : "size not known yet");
    setText(amount, text);
  }

  function fail(message) {
    setText(failure, message);
    failure.hidden = false;
  }

  async function start(event) {
    event.preventDefault();
    const model = input.value.trim();
    if (!model) return fail("Enter the name of a model to pull.");
    const node = select.value;
    const target = nodeName(node);
    const layers = new Map();
    failure.hidden = true;
    progress.hidden = false;
    setText(status, `Starting the pull of ${model} onto ${target}…`);
    showBar(null, "");
    controller = new AbortController();
    setBusy(true);
    let finished = false;
    try {
      for await (const ev of postStream("/api/llm/pull", { model, node }, { signal: controller.signal })) {
        const data = ev.data ?? {};
        if (ev.event === "progress") {
          if (data.status) setText(status, data.status);
          const total = num(data.total);
          if (data.digest && total) layers.set(data.digest, { total, completed: num(data.completed) ?? 0 });
          const sum = (key) => [...layers.values()].reduce((n, layer) => n + layer[key], 0);
          const [done, all] = [sum("completed"), sum("total")];
          if (all > 0) showBar(done / all, `${bytes(done)} / ${bytes(all)}`);
        } else if (ev.event === "done") {
          finished = true;
          const where = nodeName(data.node_id ?? node);
          setText(status, `Pulled ${data.model ?? model} onto ${where}.`);
          const all = [...layers.values()].reduce((n, layer) => n + layer.total, 0);
          showBar(1, all ? `${bytes(all)} / ${bytes(all)}` : "done");
          toast(`${data.model ?? model} is on ${where}`, "ok");
          onFinished(data.model ?? model, data.node_id ?? node);
        } else if (ev.event === "error") {
          finished = true;
          setText(status, `The pull of ${model} failed.`);
          fail(`${data.error ?? "the pull failed"}${data.error_code ? ` (${data.error_code})` : ""}`);
        }
      }
      if (!finished) fail("The pull ended before it finished.");
    } catch (err) {
      if (err.name === "AbortError") {
        setText(status, `The pull of ${model} was cancelled.`);
      } else {
        setText(status, `The pull of ${model} could not start.`);
        fail(`${err.message}${err.code && err.code !== "UNREACHABLE" ? ` (${err.code})` : ""}`);
      }
    } finally {
      controller = null;
      setBusy(false);
    }
  }

  el.setNodes = (nodes) => {
    const chosen = select.value;
    const members = nodes
      .filter((n) => n.llm)
      .sort((a, b) => Number(b.node_id === cluster.selfId) - Number(a.node_id === cluster.selfId)
        || nodeName(a.node_id, a.name).localeCompare(nodeName(b.node_id, b.name)));
    const options = members.map(nodeOption);
    eligible = options.filter((o) => !o.disabled).length;
    if (!options.length) options.push(h("option", { value: "", disabled: true }, "No member reports an Ollama"));
    select.replaceChildren(...options);
    const keep = options.find((o) => o.value === chosen && !o.disabled) ?? options.find((o) => !o.disabled);
    if (keep) select.value = keep.value;
    setBusy(controller !== null);
  };
  return el;
}
