// The chat sessions list (most recent first) with "New chat"; each session is a link to
// /chat/<id>. It reloads on llm.session.changed, so changes from any tab or client show.

import { api, coalesced } from "../core/api.js";
import { h } from "../core/dom.js";
import { ago, plural } from "../core/format.js";
import { button, empty, errorBox, toast } from "../core/ui.js";

export function sessionsSidebar(ctx, selected, { model }) {
  const list = h("ul", { className: "chat-sessions" });
  const newChat = button("New chat", () => create(), { kind: "primary" });
  const el = h(
    "aside",
    { className: "panel chat-side", "aria-labelledby": "chat-side-title" },
    h("div", { className: "chat-side-head" }, h("h2", { id: "chat-side-title" }, "Chats"), newChat),
    list,
  );

  async function create() {
    newChat.disabled = true;
    try {
      const body = { title: "New chat", ...(model() ? { model: model() } : {}) };
      const session = await api("/api/llm/sessions", { method: "POST", body, signal: ctx.signal });
      ctx.navigate(`/chat/${encodeURIComponent(session.session_id)}`);
    } catch (err) {
      if (err.name !== "AbortError") toast(err.message, "error");
      newChat.disabled = false;
    }
  }

  function item(session) {
    const current = session.session_id === selected;
    return h(
      "li",
      { dataset: { session: session.session_id } },
      h("a", { href: `/chat/${encodeURIComponent(session.session_id)}`, "aria-current": current ? "page" : null },
        h("span", { className: "chat-session-title" }, session.title),
        h("span", { className: "muted" }, `${plural(session.message_count, "message")} · ${ago(session.updated_at)}`)),
    );
  }

  el.load = coalesced(async () => {
    try {
      const answer = await api("/api/llm/sessions", { signal: ctx.signal });
      list.replaceChildren(...answer.sessions.map(item));
      if (!answer.sessions.length) list.replaceChildren(h("li", {}, empty("No chats yet.")));
      return answer.sessions;
    } catch (err) {
      if (err.name !== "AbortError") list.replaceChildren(h("li", {}, errorBox(err, "The chats could not load")));
      return [];
    }
  }, ctx.signal);
  ctx.on("llm.session.changed", () => el.load());
  ctx.on("stream.resync", () => el.load());
  el.create = create;
  return el;
}
