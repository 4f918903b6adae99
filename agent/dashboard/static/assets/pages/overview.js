// Replaced by the real page.
import { pageHeader } from "../core/ui.js";

export default {
  id: "overview",
  title: "Overview",
  nav: "Overview",
  paths: ["/"],
  mount(view) {
    view.append(pageHeader("Overview"));
  },
};
