// The "Use memory" switch of the chat composer: with it, the agent gives the model the facts
// it remembers that are closest to the message, and afterwards stores the new or changed
// facts the model names (listed on the Memory page). Remembered across chats and reloads.

import { h } from "../core/dom.js";
import { useStyles } from "../core/ui.js";

const USE_MEMORY = "openfabric.chat.memory";

export function memoryToggle() {
  useStyles("/assets/pages/memory.css");
  const box = h("input", { type: "checkbox", name: "use_memory" });
  box.checked = localStorage.getItem(USE_MEMORY) === "true";
  box.addEventListener("change", () => localStorage.setItem(USE_MEMORY, String(box.checked)));
  const el = h(
    "label",
    { className: "chat-documents chat-memory", title: "Give the model the facts it remembers, and let it remember new ones" },
    box,
    h("span", {}, "Use memory"),
  );
  el.checked = () => box.checked;
  return el;
}
