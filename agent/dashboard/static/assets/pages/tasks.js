// Replaced by the real page.
import { pageHeader } from "../core/ui.js";

export default {
  id: "tasks",
  title: "Tasks",
  nav: "Tasks",
  paths: ["/tasks"],
  mount(view) {
    view.append(pageHeader("Tasks"));
  },
};
