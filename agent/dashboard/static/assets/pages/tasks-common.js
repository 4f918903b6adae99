// What the task views share: states, node names, and one task's cells.

import { h, setText } from "../core/dom.js";
import { duration, shortId, time } from "../core/format.js";
import { cluster } from "../core/store.js";
import { badge, setBadge } from "../core/ui.js";

export const ACTIVE = ["queued", "scheduled", "running"];
export const FINAL = ["succeeded", "failed", "cancelled", "timed_out", "lost"];
export const STATES = [...ACTIVE, ...FINAL];

export const isActive = (task) => ACTIVE.includes(task?.state);

/**
 * Whether `next` may replace `current`. A read (the list, the detail, the output's `end`) can
 * overtake an event still on its way, so an active state never replaces an ended one, except
 * after `lost`, from which a task with retries left is queued again.
 */
export const supersedes = (current, next) =>
  !current || !isActive(next) || isActive(current) || current.state === "lost";

export const stateText = (state) => String(state ?? "unknown").replace("_", " ");

/** A member's name, or its short id where this node does not know it (yet). */
export function nodeName(nodeId) {
  if (!nodeId) return "—";
  return cluster.nodes.get(nodeId)?.name ?? shortId(nodeId);
}

export const exitText = (task) =>
  task.exit_code != null ? String(task.exit_code) : task.signal != null ? `signal ${task.signal}` : "—";

/** How long it ran: the agent's figure once ended, otherwise none (nothing ticks here). */
export function durationText(task) {
  const s = task.duration_s;
  if (s == null || !Number.isFinite(s)) return "—";
  return s < 1 ? `${Math.round(s * 1000)} ms` : duration(s);
}

/** A list row for a task, with `row.update(task)` to change it in place. */
export function taskRow(task) {
  const link = h("a", { href: `/tasks/${encodeURIComponent(task.task_id)}`, className: "mono" });
  const command = h("span", { className: "task-command mono" });
  const node = h("td");
  const state = badge(task.state, stateText(task.state));
  const exit = h("td", { className: "num" });
  const started = h("td", { className: "num" });
  const took = h("td", { className: "num" });
  const row = h(
    "tr",
    { dataset: { taskId: task.task_id } },
    h("td", {}, link),
    h("td", { className: "task-command-cell" }, command),
    node,
    h("td", {}, state),
    exit,
    started,
    took,
  );
  row.update = (next) => {
    row.task = next;
    row.dataset.state = next.state;
    setText(link, next.task_id);
    setText(command, next.command);
    command.title = next.command;
    setText(node, nodeName(next.node_id));
    setBadge(state, next.state, stateText(next.state));
    setText(exit, exitText(next));
    setText(started, next.started_at ? time(next.started_at) : "—");
    setText(took, durationText(next));
  };
  row.update(task);
  return row;
}
