// The Chat tab: sessions on the side, the selected session's conversation, and a composer.
// A message goes to POST /api/llm/chat with the session's id; the answer streams in as SSE
// (`start` names the node, `tool_call`/`tool_result` when it lets the model call the chosen
// tools, `token` pieces, then `done` with the stats, or `error`), and the
// agent stores it in the session however the stream ends. Stop aborts the request.

import { api, coalesced, postStream } from "../core/api.js";
import { h, setText } from "../core/dom.js";
import { dateTime, plural } from "../core/format.js";
import { button, confirmDialog, empty, errorBox, field, toast } from "../core/ui.js";
import { sessionsSidebar } from "./chat-sessions.js";
import { memoryToggle } from "./chat-memory.js";
import { documentsToggle } from "./chat-sources.js";
import { toolCalls, toolsSelector } from "./chat-tools.js";
import { liveAnswer, storedMessage, userMessage } from "./chat-thread.js";
import { nodeName } from "./models-words.js";

const LAST_MODEL = "openfabric.chat.model";

const errorText = (err) => `${err.message}${err.code && err.code !== "UNREACHABLE" ? ` (${err.code})` : ""}`;

/** The model picker: every model in the cluster, with the nodes that hold it. */
function modelPicker(ctx) {
  const select = h("select", { name: "model" });
  let wanted = localStorage.getItem(LAST_MODEL);
  select.addEventListener("change", () => {
    wanted = select.value;
    localStorage.setItem(LAST_MODEL, wanted);
  });
  select.prefer = (name) => {
    if (name && [...select.options].some((o) => o.value === name)) select.value = wanted = name;
  };
  select.load = async () => {
    try {
      const catalog = await api("/api/llm/models", { signal: ctx.signal });
      const options = catalog.models.map((m) =>
        h("option", { value: m.name }, `${m.name} (${m.nodes.map((n) => nodeName(n.node_id, n.name)).join(", ")})`));
      if (!options.length) options.push(h("option", { value: "" }, "No model in the cluster"));
      const keep = select.value || wanted;
      select.replaceChildren(...options);
      if (keep && catalog.models.some((m) => m.name === keep)) select.value = keep;
    } catch (err) {
      if (err.name !== "AbortError") toast(`The models could not load: ${err.message}`, "error");
    }
    select.dispatchEvent(new Event("models"));
  };
  return select;
}

function renameForm(title, onSave, onCancel) {
  const input = h("input", { type: "text", value: title, maxLength: 200, required: true });
  const form = h(
    "form",
    { className: "chat-rename", "aria-label": "Rename this chat", onsubmit: (e) => {
      e.preventDefault();
      if (input.value.trim()) onSave(input.value.trim());
    } },
    field("Chat title", input),
    h("div", { className: "actions" }, button("Save", null, { kind: "primary small", type: "submit" }), button("Cancel", onCancel, { kind: "small" })),
  );
  input.addEventListener("keydown", (e) => {
    if (e.key === "Escape") onCancel();
  });
  form.focusInput = () => {
    input.focus();
    input.select();
  };
  return form;
}

export async function mountChat(root, ctx, sessionId, { forget }) {
  const picker = modelPicker(ctx);
  const sidebar = sessionsSidebar(ctx, sessionId, { model: () => picker.value });
  const main = h("section", { className: "panel chat-main", "aria-labelledby": "chat-title" });
  root.append(h("div", { className: "chat-layout" }, sidebar, main));
  ctx.on("llm.model", () => picker.load());
  ctx.on("llm.backend", () => picker.load());
  ctx.on("stream.resync", () => picker.load());

  if (!sessionId) {
    main.append(
      h("h2", { id: "chat-title" }, "No chat open"),
      empty("Pick a chat from the list, or start a new one."),
      button("Start a new chat", () => sidebar.create(), { kind: "primary" }),
    );
    await Promise.all([sidebar.load(), picker.load()]);
    return;
  }

  let session;
  try {
    [session] = await Promise.all([
      api(`/api/llm/sessions/${encodeURIComponent(sessionId)}`, { signal: ctx.signal }),
      sidebar.load(),
      picker.load(),
    ]);
  } catch (err) {
    if (err.name === "AbortError") return;
    if (err.status === 404) forget();
    const title = err.status === 404 ? "This chat no longer exists" : "The chat could not load";
    main.append(h("h2", { id: "chat-title" }, "Chat"), errorBox(err, title));
    return;
  }
  picker.prefer(session.model);

  const title = h("h2", { id: "chat-title", className: "chat-title" }, session.title);
  const facts = h("p", { className: "muted" });
  const showFacts = (count) => setText(facts, `${plural(count, "message")} · started ${dateTime(session.created_at)}`);
  showFacts(session.message_count);
  const heading = h("div", { className: "chat-heading" }, title, facts);
  const rename = button("Rename", () => startRename(), { kind: "small" });
  const remove = button("Delete chat", () => removeSession(), { kind: "danger small" });
  const head = h("header", { className: "chat-head" }, heading, h("div", { className: "actions" }, rename, remove));
  const thread = h("div", { className: "chat-thread", role: "log", "aria-label": "Conversation" });
  thread.append(...session.messages.map(storedMessage));
  if (!session.messages.length) thread.append(empty("No messages yet: say something below."));

  const text = h("textarea", { name: "message", rows: 3, placeholder: "Ask something. Enter sends, Shift+Enter adds a line." });
  const send = button("Send", null, { kind: "primary", type: "submit" });
  const stop = button("Stop", () => {
    if (!controller) return;
    controller.byUser = true;
    controller.abort();
  }, { kind: "danger" });
  stop.hidden = true;
  const documents = documentsToggle();
  const memory = memoryToggle();
  const tools = toolsSelector(ctx);
  const composer = h(
    "form",
    { className: "chat-compose", "aria-label": "Send a message", onsubmit: (e) => submit(e) },
    field("Model", picker),
    field("Message", text),
    h("div", { className: "actions" }, h("span", { className: "chat-toggles" }, documents, memory, tools), send, stop),
  );
  main.append(head, thread, composer);
  let controller = null;
  ctx.onCleanup(() => controller?.abort());

  // The same chat changed elsewhere (another tab, the CLI): follow it unless this tab is
  // the one streaming into it.
  const follow = coalesced(async () => {
    const fresh = await api(`/api/llm/sessions/${encodeURIComponent(sessionId)}`, { signal: ctx.signal });
    session = fresh;
    setText(title, fresh.title);
    showFacts(fresh.message_count);
    // This tab's own exchange is already shown, live (with its node and speed).
    if (controller || fresh.messages.length === thread.querySelectorAll(".msg").length) return;
    thread.replaceChildren(...fresh.messages.map(storedMessage));
    if (!fresh.messages.length) thread.append(empty("No messages yet: say something below."));
  }, ctx.signal);
  ctx.on("llm.session.changed", (change) => {
    if (change?.session_id !== sessionId) return;
    if (change.change === "deleted") {
      forget();
      main.replaceChildren(h("h2", { id: "chat-title" }, "Chat"), errorBox(new Error("It was deleted."), "This chat no longer exists"));
      return;
    }
    follow().catch(() => {});
  });

  const ready = () => {
    send.disabled = controller !== null || !picker.value;
  };
  picker.addEventListener("models", ready);
  ready();
  text.addEventListener("keydown", (e) => {
    if (e.key !== "Enter" || e.shiftKey || e.isComposing) return;
    e.preventDefault();
    composer.requestSubmit();
  });

  function startRename() {
    const close = () => {
      form.replaceWith(heading);
      rename.focus();
    };
    const form = renameForm(session.title, save, close);
    async function save(value) {
      try {
        session = await api(`/api/llm/sessions/${encodeURIComponent(sessionId)}/title`, {
          method: "PUT", body: { title: value }, signal: ctx.signal,
        });
        setText(title, session.title);
        close();
        sidebar.load();
      } catch (err) {
        if (err.name !== "AbortError") toast(err.message, "error");
      }
    }
    heading.replaceWith(form);
    form.focusInput();
  }

  async function removeSession() {
    const ok = await confirmDialog({
      title: `Delete “${session.title}”?`,
      message: "The chat and all its messages are deleted from this node.",
      confirm: "Delete chat",
    });
    if (!ok) return;
    try {
      await api(`/api/llm/sessions/${encodeURIComponent(sessionId)}`, { method: "DELETE", signal: ctx.signal });
      forget();
      toast(`Deleted the chat “${session.title}”`, "ok");
      ctx.navigate("/chat");
    } catch (err) {
      if (err.name !== "AbortError") toast(err.message, "error");
    }
  }

  async function submit(event) {
    event.preventDefault();
    const message = text.value.trim();
    const model = picker.value;
    if (!message || !model || controller) return;
    thread.querySelector(".empty")?.remove();
    thread.append(userMessage(message));
    const answer = liveAnswer();
    thread.append(answer.el);
    answer.el.scrollIntoView({ block: "nearest" });
    text.value = "";
    controller = new AbortController();
    const mine = controller;
    stop.hidden = false;
    thread.setAttribute("aria-busy", "true");
    ready();
    let ended = false;
    try {
      const body = { model, session_id: sessionId, message, stream: true };
      // The cluster's best passages go into the prompt; the answer cites them as [n].
      if (documents.checked()) body.use_brain = true;
      // The closest remembered facts go into the prompt; new facts are stored after.
      if (memory.checked()) body.use_memory = true;
      // The model may call these servers' tools; the agent runs the calls and streams them.
      const servers = tools.value();
      if (servers) body.mcp_servers = servers;
      const calls = toolCalls(answer.el);
      for await (const ev of postStream("/api/llm/chat", body, { signal: mine.signal })) {
        const data = ev.data ?? {};
        if (ev.event === "start") answer.start(data.node_id);
        else if (ev.event === "token") answer.append(String(data.content ?? ""));
        else if (ev.event === "tool_call") calls.call(data);
        else if (ev.event === "tool_result") calls.result(data);
        else if (ev.event === "done") {
          ended = true;
          calls.done(data.tools);
          answer.done(data);
        } else if (ev.event === "error") {
          ended = true;
          answer.error(`${data.error ?? "the answer failed"}${data.error_code ? ` (${data.error_code})` : ""}`);
        }
      }
      if (!ended) answer.error("The answer ended before it finished.");
    } catch (err) {
      if (err.name !== "AbortError") answer.error(errorText(err));
      else if (mine.byUser) answer.stopped();
      else return; // the page was left
    } finally {
      if (controller === mine) controller = null;
    }
    stop.hidden = true;
    thread.removeAttribute("aria-busy");
    ready();
    const sessions = await sidebar.load();
    const listed = sessions.find((s) => s.session_id === sessionId);
    if (listed) showFacts(listed.message_count);
    text.focus();
  }
}
