// Replaced by the real page.
import { pageHeader } from "../core/ui.js";

export default {
  id: "node",
  title: "Node",
  nav: null,
  paths: ["/nodes/:id"],
  mount(view) {
    view.append(pageHeader("Node"));
  },
};
