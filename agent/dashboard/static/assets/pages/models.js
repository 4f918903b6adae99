// Models & chat: the cluster's models (with the planner's verdict) and pulls at /models, and
// chat sessions at /chat and /chat/<session>. Each tab is its own deep link.

import { h } from "../core/dom.js";
import { pageHeader, useStyles } from "../core/ui.js";
import { mountChat } from "./chat.js";
import { mountCatalog } from "./models-catalog.js";

const LAST_SESSION = "openfabric.chat.session";

function tabs(active) {
  const last = sessionStorage.getItem(LAST_SESSION);
  const items = [
    ["models", "Models", "/models"],
    ["chat", "Chat", last ? `/chat/${encodeURIComponent(last)}` : "/chat"],
  ];
  return h(
    "nav",
    { className: "models-tabs", "aria-label": "Models and chat" },
    ...items.map(([id, text, href]) =>
      h("a", { href, dataset: { tab: id }, "aria-current": id === active ? "page" : null }, text),
    ),
  );
}

export default {
  async mount(view, ctx) {
    useStyles("/assets/pages/models.css");
    const chat = location.pathname.startsWith("/chat");
    const sub = chat
      ? "Chat with any model in the cluster; the node that holds it answers."
      : "Every model on every member, where the planner would run it, and each node's Ollama.";
    const body = h("div", { className: "models-body" });
    view.append(pageHeader("Models & chat", { sub }), tabs(chat ? "chat" : "models"), body);
    if (!chat) return mountCatalog(body, ctx);
    const session = ctx.params.session ?? null;
    if (session) sessionStorage.setItem(LAST_SESSION, session);
    else sessionStorage.removeItem(LAST_SESSION);
    return mountChat(body, ctx, session, {
      forget: () => sessionStorage.removeItem(LAST_SESSION),
    });
  },
};
