// The task list: filters and page in the query string (a filtered view is a link), newest
// first, kept current from task.* events (rows change in place; new matching tasks appear).

import { api } from "../core/api.js";
import { h, setText } from "../core/dom.js";
import { plural } from "../core/format.js";
import { members } from "../core/store.js";
import { button, empty, errorBox, field, panel, table } from "../core/ui.js";
import { STATES, stateText, supersedes, taskRow } from "./tasks-common.js";

const LIMIT = 25;
const COLUMNS = ["Task", "Command", "Node", "State", { label: "Exit", num: true }, { label: "Started", num: true }, { label: "Took", num: true }];

function select(name, options, value) {
  const el = h("select", { name }, ...options.map(([v, text]) => h("option", { value: v }, text)));
  el.value = options.some(([v]) => v === value) ? value : "";
  return el;
}

function nodeChoices(current) {
  const choices = [["", "All nodes"], ...members().map((n) => [n.node_id, n.name])];
  // A deep link may name a node that has since left: keep it selectable.
  if (current && !choices.some(([v]) => v === current)) choices.push([current, current]);
  return choices;
}

export function listPanel(ctx) {
  const filters = {
    status: STATES.includes(ctx.query.get("status")) ? ctx.query.get("status") : "",
    node: ctx.query.get("node") ?? "",
    offset: Math.max(0, Number.parseInt(ctx.query.get("offset") ?? "0", 10) || 0),
  };
  const status = select("status", [["", "All states"], ...STATES.map((s) => [s, stateText(s)])], filters.status);
  const node = select("node", nodeChoices(filters.node), filters.node);
  const list = table("Tasks", COLUMNS);
  const summary = h("p", { className: "muted", role: "status", dataset: { taskSummary: "" } });
  const problem = h("div");
  const newer = button("Newer", () => go(filters.offset - LIMIT), { kind: "small" });
  const older = button("Older", () => go(filters.offset + LIMIT), { kind: "small" });
  const rows = new Map();
  let total = 0;
  let loading = null;

  const el = panel(
    "Tasks",
    h("div", { className: "form-row task-filters" }, field("State", status), field("Node", node)),
    problem,
    list,
    h("div", { className: "task-pager" }, summary, h("div", { className: "actions" }, newer, older)),
  );
  el.dataset.taskList = "";

  function showSummary() {
    const range = rows.size ? `${filters.offset + 1}–${filters.offset + rows.size} of ` : "";
    setText(summary, total ? `${range}${plural(total, "task")}` : "");
    newer.disabled = filters.offset === 0;
    older.disabled = filters.offset + rows.size >= total;
  }

  function showEmpty() {
    if (rows.size) return;
    let text = filters.status || filters.node ? "No tasks match these filters." : "No tasks yet. Run one above.";
    if (total && filters.offset) text = "No tasks this far back.";
    list.body.replaceChildren(h("tr", { className: "task-empty" }, h("td", { colSpan: COLUMNS.length }, empty(text))));
  }

  async function load() {
    loading?.abort();
    el.dataset.loaded = "false";
    const mine = (loading = new AbortController());
    ctx.signal.addEventListener("abort", () => mine.abort(), { once: true });
    try {
      const page = await api("/api/tasks", {
        query: { status: filters.status, node: filters.node, limit: LIMIT, offset: filters.offset },
        signal: mine.signal,
      });
      if (mine !== loading) return;
      problem.replaceChildren();
      rows.clear();
      total = page.total;
      list.body.replaceChildren(...page.tasks.map((t) => remember(taskRow(t))));
      showEmpty();
      showSummary();
      el.dataset.loaded = "true";
    } catch (err) {
      if (err.name === "AbortError" || mine !== loading) return;
      problem.replaceChildren(errorBox(err, "Tasks could not load"));
    }
  }

  function remember(row) {
    rows.set(row.task.task_id, row);
    return row;
  }

  function go(offset) {
    filters.offset = Math.max(0, offset);
    ctx.setQuery({ offset: filters.offset || null });
    load();
  }

  function onFilter() {
    filters.status = status.value;
    filters.node = node.value;
    filters.offset = 0;
    ctx.setQuery({ status: filters.status, node: filters.node, offset: null });
    load();
  }
  status.addEventListener("change", onFilter);
  node.addEventListener("change", onFilter);

  const matches = (task) =>
    (!filters.status || task.state === filters.status) && (!filters.node || task.node_id === filters.node);

  function onTask(task) {
    if (!task?.task_id) return;
    const row = rows.get(task.task_id);
    if (row) {
      if (supersedes(row.task, task)) row.update(task);
      return;
    }
    // Only the first page shows new arrivals; further pages keep their place.
    if (filters.offset !== 0 || !matches(task)) return;
    list.body.querySelector(".task-empty")?.remove();
    const fresh = remember(taskRow(task));
    const after = [...list.body.children].find((r) => r.task && r.task.submitted_at < task.submitted_at);
    list.body.insertBefore(fresh, after ?? null);
    total += 1;
    while (rows.size > LIMIT) {
      const last = list.body.lastElementChild;
      rows.delete(last.dataset.taskId);
      last.remove();
    }
    showSummary();
  }

  ctx.on("task", onTask);
  ctx.on("stream.resync", () => load());
  ctx.onCluster((change) => {
    if (change.kind === "telemetry") return;
    const chosen = node.value;
    node.replaceChildren(...nodeChoices(chosen).map(([v, text]) => h("option", { value: v }, text)));
    node.value = chosen;
    for (const row of rows.values()) row.update(row.task);
  });
  return { el, load };
}
