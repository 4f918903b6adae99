// One conversation's messages: the stored ones, and an answer as it streams in. Text from
// the model is appended to a text node, so it can never become markup.

import { h, setText } from "../core/dom.js";
import { time } from "../core/format.js";
import { num } from "../core/store.js";
import { citations } from "./chat-sources.js";
import { storedTools } from "./chat-tools.js";
import { nodeName } from "./models-words.js";

const WHO = { user: "You", assistant: "Assistant", system: "System", tool: "Tool" };

/** "bravo · 52.3 tokens/s · 6 tokens": where an answer came from and how fast. */
export function statsText(stats) {
  if (!stats) return "";
  const parts = [nodeName(stats.node_id)];
  const speed = num(stats.tokens_per_s);
  const tokens = num(stats.completion_tokens);
  if (speed != null) parts.push(`${speed.toFixed(1)} tokens/s`);
  if (tokens != null) parts.push(`${tokens} token${tokens === 1 ? "" : "s"}`);
  if (stats.partial) parts.push("cut short");
  return parts.join(" · ");
}

function bubble(role, { text = "", meta = "", at = null } = {}) {
  const body = document.createTextNode(text);
  const metaEl = h("p", { className: "msg-meta muted" }, meta);
  const el = h(
    "article",
    { className: "msg", dataset: { role } },
    h("header", { className: "msg-head" },
      h("strong", {}, WHO[role] ?? role),
      at ? h("time", { className: "muted", dateTime: new Date(at * 1000).toISOString() }, time(at)) : null),
    h("p", { className: "msg-text" }, body),
    metaEl,
  );
  metaEl.hidden = !meta;
  return { el, body, metaEl };
}

export function storedMessage(message) {
  const meta = message.role === "assistant" ? statsText(message.stats) : "";
  const { el, metaEl } = bubble(message.role, { text: message.content, meta, at: message.created_at });
  const cited = citations(message.stats?.sources);
  if (cited) metaEl.before(cited);
  const used = storedTools(message.stats?.tools);
  if (used) el.querySelector(".msg-text").before(used);
  return el;
}

export function userMessage(text) {
  return bubble("user", { text, at: Date.now() / 1000 }).el;
}

/** An assistant message filled as the stream goes: start, token, done, error or stopped. */
export function liveAnswer() {
  const { el, body, metaEl } = bubble("assistant", { meta: "Waiting for an answer…" });
  el.dataset.streaming = "true";
  metaEl.hidden = false;
  let node = null;
  const end = (text) => {
    el.dataset.streaming = "false";
    setText(metaEl, text);
  };
  const problem = (message) => {
    el.append(h("p", { className: "msg-error", role: "alert" }, message));
  };
  return {
    el,
    start(nodeId) {
      node = nodeId;
      el.dataset.node = nodeId;
      setText(metaEl, `${nodeName(nodeId)} is answering…`);
    },
    append(piece) {
      body.appendData(piece);
    },
    done(stats) {
      if (stats?.node_id) el.dataset.node = stats.node_id;
      const cited = citations(stats?.sources);
      if (cited) metaEl.before(cited);
      end(statsText(stats));
    },
    error(message) {
      end(node ? `${nodeName(node)} did not finish` : "No answer");
      problem(message);
    },
    stopped() {
      end(`${node ? `${nodeName(node)} · ` : ""}stopped`);
    },
    get text() {
      return body.data;
    },
  };
}
