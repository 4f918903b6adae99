// One task: what it runs, where, its state (live from task.* events), timings and output.

import { api } from "../core/api.js";
import { h, setText } from "../core/dom.js";
import { dateTime, duration } from "../core/format.js";
import { badge, button, confirmDialog, errorBox, pageHeader, panel, setBadge, toast } from "../core/ui.js";
import { durationText, exitText, isActive, nodeName, stateText, supersedes } from "./tasks-common.js";
import { outputView } from "./tasks-output.js";

function missing(view, id) {
  view.append(
    pageHeader("Task"),
    h(
      "section",
      { className: "panel notice", role: "alert", dataset: { missing: "" } },
      h("h2", {}, "No such task"),
      h("p", {}, "This agent has no task ", h("code", {}, id), ". It may have been removed by retention, or the link is wrong."),
      h("p", {}, h("a", { href: "/tasks" }, "Back to the task list")),
    ),
  );
}

function facts(pairs) {
  const values = {};
  const list = h("dl", { className: "task-facts" });
  for (const [key, label] of pairs) {
    values[key] = h("dd", { dataset: { fact: key } }, "—");
    list.append(h("div", {}, h("dt", {}, label), values[key]));
  }
  return { list, values };
}

export async function mountDetail(view, ctx) {
  const id = ctx.params.id;
  let task;
  try {
    task = await api(`/api/tasks/${encodeURIComponent(id)}`, { signal: ctx.signal });
  } catch (err) {
    if (err.status === 404) return missing(view, id);
    throw err;
  }

  const state = badge(task.state, stateText(task.state));
  state.dataset.taskState = "";
  const detail = h("p", { className: "muted task-state-detail", dataset: { stateDetail: "" } });
  const cancel = button("Cancel task", onCancel, { kind: "danger" });
  const command = h("pre", { className: "output task-command-full", "aria-label": "Command" }, task.command);
  const { list, values } = facts([
    ["node", "Node"],
    ["exit", "Exit code"],
    ["attempts", "Attempts"],
    ["submitted", "Submitted"],
    ["scheduled", "Scheduled"],
    ["started", "Started"],
    ["ended", "Ended"],
    ["duration", "Duration"],
    ["timeout", "Timeout"],
  ]);
  const error = h("p", { className: "task-error", role: "status" });
  const streamNote = h("span", { className: "muted", dataset: { streamState: "" } });

  function show(next, { fresh = false } = {}) {
    if (!fresh && !supersedes(task, next)) return;
    task = next;
    setBadge(state, task.state, stateText(task.state));
    setText(detail, task.state_detail ?? "");
    detail.hidden = !task.state_detail;
    cancel.hidden = !isActive(task);
    setText(values.node, task.node_id ? nodeName(task.node_id) : task.preferred_node ? `waiting for ${nodeName(task.preferred_node)}` : "not placed yet");
    values.node.title = task.node_id ?? "";
    setText(values.exit, exitText(task));
    setText(values.attempts, `${task.attempts}${task.retries ? ` (may retry ${task.retries}×)` : ""}`);
    setText(values.submitted, dateTime(task.submitted_at));
    setText(values.scheduled, dateTime(task.scheduled_at));
    setText(values.started, dateTime(task.started_at));
    setText(values.ended, dateTime(task.ended_at));
    setText(values.duration, durationText(task));
    setText(values.timeout, task.timeout_s != null ? duration(task.timeout_s) : "none");
    setText(error, task.error ?? "");
    error.hidden = !task.error;
  }

  async function onCancel() {
    const ok = await confirmDialog({
      title: "Cancel this task?",
      message: "Its process group gets SIGTERM, and SIGKILL 5 seconds later.",
      confirm: "Cancel task",
    });
    if (!ok) return;
    cancel.disabled = true;
    try {
      // Its answer may predate the task.cancelled event already shown: the event sets the state.
      await api(`/api/tasks/${encodeURIComponent(id)}`, { method: "DELETE", signal: ctx.signal });
      toast("Cancelling the task.", "ok");
    } catch (err) {
      if (err.name !== "AbortError") toast(err.message, "error");
    } finally {
      cancel.disabled = false;
    }
  }

  const STREAM_TEXT = { live: "following", retrying: "reconnecting…", ended: "complete", gone: "unavailable" };
  const output = outputView(id, {
    signal: ctx.signal,
    onEnd: (final) => show(final),
    onStatus: (s, err) => {
      setText(streamNote, STREAM_TEXT[s] ?? s);
      if (s === "gone" && err) toast(err.message, "error");
    },
  });

  view.append(
    pageHeader(`Task ${id}`, {
      sub: h("a", { href: "/tasks" }, "← All tasks"),
      actions: [state, cancel],
    }),
    panel("Command", command, detail, error, list),
    panel("Output", h("p", { className: "muted task-stream-line" }, "Stream: ", streamNote), output.el),
  );
  show(task);
  ctx.on("task", (next) => {
    if (next?.task_id === id) show(next);
  });
  ctx.on("stream.resync", async () => {
    try {
      show(await api(`/api/tasks/${encodeURIComponent(id)}`, { signal: ctx.signal }), { fresh: true });
    } catch (err) {
      if (err.name !== "AbortError") toast(err.message, "error");
    }
  });
  output.follow();
}
