// Replaced by the real page.
import { pageHeader } from "../core/ui.js";

export default {
  id: "models",
  title: "Models & chat",
  nav: "Models & chat",
  paths: ["/models"],
  mount(view) {
    view.append(pageHeader("Models & chat"));
  },
};
