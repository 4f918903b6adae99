// The numbered citations under an answer given with the documents ("Use documents"): each
// [n] the answer may cite, with the member that holds the passage, where it is, the headings
// above it and its score. Paths come from other members: they are shown as text only.

import { h } from "../core/dom.js";
import { headingText, scoreText, whereText } from "./brain-format.js";
import { nodeName } from "./models-words.js";

const USE_DOCUMENTS = "openfabric.chat.documents";

/** The "Use documents" switch of the composer; remembered across chats and reloads. */
export function documentsToggle() {
  const box = h("input", { type: "checkbox", name: "use_brain" });
  box.checked = localStorage.getItem(USE_DOCUMENTS) === "true";
  box.addEventListener("change", () => localStorage.setItem(USE_DOCUMENTS, String(box.checked)));
  const el = h(
    "label",
    { className: "chat-documents", title: "Search the cluster's documents and give the best passages to the model" },
    box,
    h("span", {}, "Use documents"),
  );
  el.checked = () => box.checked;
  return el;
}

/** The citations list, or null when there is none. */
export function citations(sources) {
  if (!Array.isArray(sources) || !sources.length) return null;
  return h(
    "ol",
    { className: "msg-sources", "aria-label": "Sources" },
    ...sources.map((s) => {
      const heading = headingText(s.heading);
      return h(
        "li",
        { dataset: { n: String(s.n), path: String(s.path), node: String(s.node_id) } },
        h("span", { className: "msg-source-n" }, `[${s.n}]`),
        h("span", { className: "msg-source-node" }, nodeName(s.node_id, s.node_name)),
        h("span", { className: "msg-source-where" }, whereText(s)),
        heading ? h("span", { className: "msg-source-heading muted" }, heading) : null,
        h("span", { className: "msg-source-score muted", title: `Score ${s.score}` }, `score ${scoreText(s.score)}`),
      );
    }),
  );
}
