// Any URL no page claims.

import { h } from "../core/dom.js";
import { pageHeader } from "../core/ui.js";

export default {
  mount(view) {
    view.append(
      pageHeader("Page not found"),
      h("section", { className: "panel" }, h("p", {}, `Nothing lives at ${location.pathname}. `, h("a", { href: "/" }, "Go to the overview"), ".")),
    );
  },
};
