"""How `openfabric flows` answers read in a terminal: flows with their triggers in words, a
run as a timeline of steps, a refused definition as compiler-style FILE:LINE:COLUMN lines."""

from __future__ import annotations

import time

from agent.client.flows import FlowRunEvent
from agent.flows.models import DefinitionError, Flow, FlowList, FlowRun, RunList, StepRun
from cli import output

TEXT_WIDTH = 60
LOG_LINES_SHOWN = 20


def flat(text: str, width: int = TEXT_WIDTH) -> str:
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


def millis(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 1000:
        return f"{value:.0f}ms"
    if value < 60_000:
        return f"{value / 1000:.1f}s"
    return output.duration(value / 1000)


def node_text(node_id: str | None, names: dict[str, str]) -> str:
    if node_id is None:
        return "-"
    return names.get(node_id) or output.short_id(node_id)


def last_run_text(flow: Flow, now: float | None = None) -> str:
    last = flow.last_run
    if last is None:
        return "never"
    return f"{last.state} {output.ago(last.finished_at or last.created_at, now)}"


def flows_view(listing: FlowList, names: dict[str, str]) -> str:
    if not listing.flows:
        return "no flows yet (save one: openfabric flows apply -f FILE)"
    rows = [
        [
            flow.id,
            "on" if flow.enabled else "off",
            flat("; ".join(t.summary for t in flow.triggers) or "by hand", 40),
            node_text(flow.owner, names),
            last_run_text(flow),
            flat(flow.name, 40),
        ]
        for flow in listing.flows
    ]
    return output.table(["ID", "ENABLED", "TRIGGERS", "OWNER", "LAST RUN", "NAME"], rows)


def next_text(at: float | None) -> str:
    if at is None:
        return ""
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at))
    return f" (next {when})"


def flow_view(flow: Flow, names: dict[str, str]) -> str:
    facts = [
        ("id", flow.id),
        ("name", flow.name),
        ("description", flat(flow.description, 100) or "-"),
        ("enabled", "yes" if flow.enabled else "no"),
        ("mode", flow.mode if flow.mode in ("single", "restart") else f"{flow.mode} {flow.max}"),
        ("owner", node_text(flow.owner, names)),
        ("version", f"{flow.version} (saved on {node_text(flow.author, names)})"),
        ("last run", last_run_text(flow)),
    ]
    for trigger in flow.triggers:
        facts.append(("trigger", trigger.summary + next_text(trigger.next_at)))
    if not flow.triggers:
        facts.append(("trigger", "none: runs by hand only"))
    return f"{output.pairs(facts)}\n\n{flow.source.rstrip()}"


def saved_line(flow: Flow, verb: str) -> str:
    state = "enabled" if flow.enabled else "disabled"
    return f"{verb} {flow.id} (version {flow.version}, {state})"


def run_line(run: FlowRun) -> str:
    extra = f": {run.error}" if run.error else ""
    if run.skipped_count > 1:
        extra += f" ({run.skipped_count} triggers)"
    return f"run {run.id} of {run.flow_id} {run.state}{extra}"


def runs_view(listing: RunList, names: dict[str, str]) -> str:
    if not listing.runs:
        return "no runs yet"
    rows = [
        [
            run.id,
            run.state,
            run.trigger.kind,
            node_text(run.node_id, names),
            output.ago(run.created_at),
            millis(run.duration_ms),
            flat(run.error or "", 40) or "-",
        ]
        for run in listing.runs
    ]
    return output.table(["RUN", "STATE", "TRIGGER", "NODE", "STARTED", "DURATION", "ERROR"], rows)


def _step_block(step: StepRun) -> list[str]:
    attempts = f"{step.attempts} attempt{'' if step.attempts == 1 else 's'}"
    lines = [f"  {step.id:<20} {step.state:<10} {attempts:<11} {millis(step.duration_ms):>8}"]
    lines[0] = lines[0].rstrip() + f"  ({step.uses})"
    if step.error:
        lines.append(f"      error: {flat(step.error, 100)}")
    for log in step.logs[-LOG_LINES_SHOWN:]:
        lines.append(f"      | {log}")
    return lines


def run_view(run: FlowRun, names: dict[str, str]) -> str:
    facts = [
        ("run", run.id),
        ("flow", f"{run.flow_id} (version {run.flow_version})"),
        ("state", run.state + (f": {run.error}" if run.error else "")),
        ("trigger", run.trigger.kind),
        ("node", node_text(run.node_id, names)),
        ("created", output.ago(run.created_at)),
        ("duration", millis(run.duration_ms)),
    ]
    if run.rerun_of:
        facts.append(("rerun of", run.rerun_of))
    if run.resumed:
        facts.append(("resumed", f"{run.resumed} time(s) after a restart"))
    lines = [output.pairs(facts), "", "steps:"]
    for step in run.steps:
        lines.extend(_step_block(step))
    if not run.steps:
        lines.append("  (none started)")
    return "\n".join(lines)


def event_line(event: FlowRunEvent, now: float | None = None) -> str:
    stamp = output.clock(time.time() if now is None else now)
    if event.kind == "step":
        attempt = f" (attempt {event.attempt})" if event.attempt and event.attempt > 1 else ""
        took = f" in {millis(event.duration_ms)}" if event.duration_ms is not None else ""
        error = f": {event.error}" if event.error else ""
        return f"{stamp} step {event.step_id} {event.state}{attempt}{took}{error}"
    if event.kind == "done" and event.run is not None:
        return f"{stamp} {run_line(event.run)}"
    return f"{stamp} run {event.state}" + (f": {event.error}" if event.error else "")


def error_lines(file: str, errors: list[DefinitionError]) -> list[str]:
    """`FILE:LINE:COLUMN: message (at path)`, as compilers write them."""
    lines = []
    for error in errors:
        where = file if error.line is None else f"{file}:{error.line}:{error.column or 1}"
        at = f" (at {error.path})" if error.path else ""
        lines.append(f"{where}: {error.message}{at}")
    return lines
