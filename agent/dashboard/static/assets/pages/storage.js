// Replaced by the real page.
import { pageHeader } from "../core/ui.js";

export default {
  id: "storage",
  title: "Storage",
  nav: "Storage",
  paths: ["/storage"],
  mount(view) {
    view.append(pageHeader("Storage"));
  },
};
