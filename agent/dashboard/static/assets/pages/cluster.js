// Replaced by the real page.
import { pageHeader } from "../core/ui.js";

export default {
  id: "cluster",
  title: "Cluster",
  nav: "Cluster",
  paths: ["/cluster"],
  mount(view) {
    view.append(pageHeader("Cluster"));
  },
};
