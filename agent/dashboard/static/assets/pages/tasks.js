// Tasks: run a command on the cluster, follow the list and the scheduler, and one task's
// live output at /tasks/<id>.

import { pageHeader, useStyles } from "../core/ui.js";
import { h } from "../core/dom.js";
import { mountDetail } from "./tasks-detail.js";
import { listPanel } from "./tasks-list.js";
import { schedulerPanel } from "./tasks-scheduler.js";
import { submitPanel } from "./tasks-submit.js";

async function mountList(view, ctx) {
  const submit = submitPanel(ctx);
  const scheduler = schedulerPanel(ctx);
  const list = listPanel(ctx);
  view.append(
    pageHeader("Tasks", { sub: "Shell commands run across the cluster, placed by the scheduler." }),
    h("div", { className: "tasks-top" }, submit, scheduler.el),
    list.el,
  );
  await Promise.all([list.load(), scheduler.refresh()]);
}

export default {
  async mount(view, ctx) {
    useStyles("/assets/pages/tasks.css");
    if (ctx.params.id) await mountDetail(view, ctx);
    else await mountList(view, ctx);
  },
};
