// Replaced by the real page.
import { pageHeader } from "../core/ui.js";

export default {
  id: "health",
  title: "Health",
  nav: "Health",
  paths: ["/health"],
  mount(view) {
    view.append(pageHeader("Health"));
  },
};
