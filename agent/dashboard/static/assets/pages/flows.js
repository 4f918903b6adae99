// Flows: the cluster's automations. The list (enable switch, triggers in words, the member
// that runs them, the last run, Run with an inputs form), the editor of the open flow (errors
// at their lines), its runs, and one run as a timeline of steps (logs, rerun from a step,
// cancel). The open flow and run are in the URL (?flow=ID&run=RUN, ?new=1 for a new one).
// Everything follows flow.* events, each list with one request in flight at most.

import { api, coalesced } from "../core/api.js";
import { h } from "../core/dom.js";
import { confirmDialog, errorBox, pageHeader, toast, useStyles } from "../core/ui.js";
import { editorPanel } from "./flows-editor.js";
import { CONTENT_TYPES, errorText } from "./flows-format.js";
import { flowsPanel } from "./flows-list.js";
import { runsPanel } from "./flows-runs.js";
import { timelinePanel } from "./flows-timeline.js";

const TICK_MS = 1000;
const path = (...parts) => ["/api/flows", ...parts.map((p) => encodeURIComponent(p))].join("/");

export default {
  async mount(view, ctx) {
    useStyles("/assets/pages/flows.css");
    const signal = ctx.signal;
    const state = { flows: [], flow: ctx.query.get("flow"), run: ctx.query.get("run"), isNew: ctx.query.get("new") === "1" };
    const banner = h("div", { className: "flows-banner" });
    const list = flowsPanel({ onSelect: (id) => select(id), onToggle: toggle, onRun: start, onNew: () => openNew() });
    const editor = editorPanel({ onSave: save, onDelete: remove });
    const runs = runsPanel({ onSelect: (id) => selectRun(id) });
    const timeline = timelinePanel({ onCancel: cancel, onRerun: rerun, onDeleteRun: removeRun });
    const detail = h("div", { className: "flows-detail" }, editor, runs, timeline);
    view.append(
      pageHeader("Flows", { sub: "Automations that run on the cluster: triggers say when, steps say what." }),
      banner,
      h("div", { className: "flows-grid" }, list, detail),
    );
    const fail = (err) => err.name !== "AbortError" && toast(errorText(err), "error");
    const flowOf = (id) => state.flows.find((f) => String(f.id) === id) ?? null;
    const setUrl = () => ctx.setQuery({ flow: state.flow, run: state.run, new: state.isNew ? "1" : null });

    const loadList = coalesced(async () => {
      try {
        const listing = await api("/api/flows", { signal });
        state.flows = Array.isArray(listing?.flows) ? listing.flows : [];
        list.show(listing);
        banner.replaceChildren();
      } catch (err) {
        if (err.name !== "AbortError") banner.replaceChildren(errorBox(err, "The flows could not load"));
      }
    }, signal);
    const loadRuns = coalesced(async () => {
      if (!state.flow) return;
      const id = state.flow;
      try {
        const listing = await api(path(id, "runs"), { query: { limit: 50 }, signal });
        if (state.flow !== id) return;
        if (!state.run && listing.runs?.length) {
          state.run = String(listing.runs[0].id);
          loadRun();
        }
        runs.show(listing, state.run);
      } catch (err) {
        if (err.name !== "AbortError" && err.status !== 404) fail(err);
      }
    }, signal);
    const loadRun = coalesced(async () => {
      if (!state.flow || !state.run) return timeline.clear();
      const [id, runId] = [state.flow, state.run];
      try {
        const run = await api(path(id, "runs", runId), { signal });
        if (state.flow === id && state.run === runId) timeline.show(run, flowOf(id));
      } catch (err) {
        if (err.name === "AbortError") return;
        if (err.status === 404) timeline.clear("This run is gone.");
        else fail(err);
      }
    }, signal);

    function showSelection() {
      list.select(state.flow);
      const flow = state.flow ? flowOf(state.flow) : null;
      detail.hidden = !flow && !state.isNew;
      runs.hidden = timeline.hidden = !flow;
      if (state.isNew) editor.open(null);
      else if (flow && editor.currentId() !== flow.id) editor.open(flow);
      if (flow) {
        runs.clear();
        loadRuns();
        loadRun();
      }
    }
    function select(id, runId = null) {
      Object.assign(state, { flow: id, run: runId, isNew: false });
      setUrl();
      const flow = flowOf(id);
      if (flow) editor.open(flow);
      showSelection();
    }
    function selectRun(runId) {
      state.run = runId;
      setUrl();
      loadRun();
      loadRuns();
    }
    function openNew() {
      Object.assign(state, { flow: null, run: null, isNew: true });
      setUrl();
      showSelection();
      editor.querySelector("textarea")?.focus();
    }

    async function save(id, text, format) {
      const options = { method: id ? "PUT" : "POST", body: text, headers: { "Content-Type": CONTENT_TYPES[format] }, signal };
      const flow = await api(id ? path(id) : "/api/flows", options);
      toast(`Saved ${flow.name}.`, "ok");
      await loadList();
      if (!id) select(String(flow.id));
      return flow;
    }
    async function remove(id) {
      const flow = flowOf(id);
      const confirmed = await confirmDialog({
        title: `Delete the flow “${flow?.name ?? id}”?`,
        message: "Its definition and every run of it are deleted on every member.",
        confirm: "Delete flow",
      });
      if (!confirmed) return;
      try {
        await api(path(id), { method: "DELETE", signal });
        toast(`Deleted ${flow?.name ?? id}.`, "ok");
        Object.assign(state, { flow: null, run: null });
        setUrl();
      } catch (err) {
        fail(err);
      }
      await loadList();
      showSelection();
    }
    async function toggle(id, enabled, input) {
      input.disabled = true;
      try {
        await api(path(id, "toggle"), { method: "PUT", body: { enabled }, signal });
      } catch (err) {
        input.checked = !enabled;
        fail(err);
      } finally {
        input.disabled = false;
      }
      loadList();
    }
    async function start(id, inputs) {
      const run = await api(path(id, "run"), { method: "POST", body: { inputs }, signal }).catch((err) => {
        fail(err);
        throw err;
      });
      toast(run.state === "skipped" ? "Skipped: the flow's mode allows no new run now." : `Started run ${String(run.id).slice(0, 12)}.`, run.state === "skipped" ? "info" : "ok");
      select(id, String(run.id));
      loadList();
    }
    async function act(request, message) {
      try {
        const run = await request();
        if (message) toast(message, "ok");
        return run;
      } catch (err) {
        fail(err);
        return null;
      }
    }
    async function cancel(runId) {
      await act(() => api(path(state.flow, "runs", runId, "cancel"), { method: "POST", signal }), "Cancelling the run.");
      loadRun();
    }
    async function rerun(runId, fromStep) {
      const body = fromStep ? { from_step: fromStep } : {};
      const run = await act(() => api(path(state.flow, "runs", runId, "rerun"), { method: "POST", body, signal }));
      if (run) {
        toast(`Rerun ${String(run.id).slice(0, 12)} started${fromStep ? ` from ${fromStep}` : ""}.`, "ok");
        selectRun(String(run.id));
      }
    }
    async function removeRun(runId) {
      const confirmed = await confirmDialog({ title: "Delete this run?", message: "Its steps, outputs and logs are deleted.", confirm: "Delete run" });
      if (!confirmed) return;
      if (await act(() => api(path(state.flow, "runs", runId), { method: "DELETE", signal }), "Deleted the run.")) {
        state.run = null;
        setUrl();
        timeline.clear();
        loadRuns();
      }
    }

    ctx.on("flow.changed", async (data) => {
      await loadList();
      if (data?.flow_id !== state.flow) return;
      const flow = flowOf(state.flow);
      if (!flow) {
        Object.assign(state, { flow: null, run: null });
        setUrl();
        showSelection();
      } else editor.refresh(flow);
    });
    ctx.on("flow.owner", () => loadList());
    ctx.on("flow.run", (data) => {
      loadList();
      if (data?.flow_id === state.flow) loadRuns();
      if (data?.run_id === state.run) loadRun();
    });
    ctx.on("flow.step", (data) => {
      if (data?.run_id === state.run) loadRun();
    });
    ctx.on("stream.resync", async () => {
      await loadList();
      loadRuns();
      loadRun();
    });
    ctx.every(TICK_MS, () => {
      list.tick();
      timeline.tick();
    });
    await loadList();
    showSelection();
  },
};
