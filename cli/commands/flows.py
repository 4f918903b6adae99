"""`openfabric flows list|show|apply|run|toggle|runs|rm|cancel|rerun|schema`: automations that
run on the cluster, their runs step by step, and the schema their definitions follow."""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable
from contextlib import aclosing
from pathlib import Path
from typing import Any, TypeVar

import click
import yaml

from agent.client import AgentClient, ApiError, ClientError
from agent.client.flows import definition_errors, flow_id_of
from agent.flows.models import Flow, FlowRun, SourceFormat
from cli import output
from cli.commands import flows_views as views
from cli.runtime import EXIT_ERROR, Globals, call, global_options, globals_of

T = TypeVar("T")
FROM_STDIN = "-"


@click.group("flows")
def flows() -> None:
    """Automations: triggers say when a flow runs, steps say what it does."""


async def node_names(client: AgentClient) -> dict[str, str]:
    try:
        return {n.node_id: n.name for n in await client.nodes()}
    except ClientError:
        return {}


def with_names(
    operation: Callable[[AgentClient], Awaitable[T]],
) -> Callable[[AgentClient], Awaitable[tuple[T, dict[str, str]]]]:
    async def both(client: AgentClient) -> tuple[T, dict[str, str]]:
        found = await operation(client)
        return found, await node_names(client)

    return both


# --- list, show, schema ------------------------------------------------------------------


@flows.command("list")
@global_options
@click.pass_context
def list_flows(ctx: click.Context) -> None:
    """Every flow: enabled, triggers in words, the member that runs them, the last run."""
    g = globals_of(ctx)
    listing, names = call(ctx, with_names(lambda client: client.flows()))
    g.emit(output.render(listing, g.format, lambda found: views.flows_view(found, names)))


@flows.command("show")
@click.argument("flow_id", metavar="ID")
@global_options
@click.pass_context
def show(ctx: click.Context, flow_id: str) -> None:
    """A flow's facts, when its triggers fire next, and its definition as saved."""
    g = globals_of(ctx)
    flow, names = call(ctx, with_names(lambda client: client.flow(flow_id)))
    g.emit(output.render(flow, g.format, lambda found: views.flow_view(found, names)))


@flows.command("schema")
@global_options
@click.pass_context
def schema(ctx: click.Context) -> None:
    """The JSON Schema flow definitions are validated against."""
    g = globals_of(ctx)
    found = call(ctx, lambda client: client.flow_schema())
    g.emit(output.render(found, g.format, lambda s: json.dumps(s, indent=2)))


# --- apply -------------------------------------------------------------------------------


def read_definition(file: str) -> tuple[str, SourceFormat]:
    """The file's text (stdin for -) and its format: by extension, else by its content."""
    try:
        text = sys.stdin.read() if file == FROM_STDIN else Path(file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise click.BadParameter(f"cannot read {file}: {exc}", param_hint="-f") from None
    suffix = Path(file).suffix.lower()
    if suffix in (".yaml", ".yml"):
        return text, "yaml"
    if suffix == ".json":
        return text, "json"
    return text, "json" if text.lstrip().startswith(("{", "[")) else "yaml"


def name_in(text: str) -> str | None:
    """The definition's name, when the text parses that far (else the agent says why)."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    name = document.get("name") if isinstance(document, dict) else None
    return name if isinstance(name, str) else None


async def save(client: AgentClient, text: str, fmt: SourceFormat) -> tuple[Flow, str]:
    """Update the flow whose id the definition's name makes, else create it."""
    name = name_in(text)
    if name is not None:
        try:
            return await client.update_flow(flow_id_of(name), text, fmt), "updated"
        except ApiError as exc:
            if exc.code != "FLOW_NOT_FOUND":
                raise
    try:
        return await client.create_flow(text, fmt), "created"
    except ApiError as exc:
        # The agent read the name otherwise than this YAML parser did: its id is the truth.
        held = exc.details.get("id") if exc.code == "FLOW_EXISTS" else None
        if not isinstance(held, str):
            raise
        return await client.update_flow(held, text, fmt), "updated"


@flows.command("apply")
@click.option("-f", "--file", "file", required=True, metavar="FILE",
              help="The definition, YAML or JSON (- reads stdin).")  # fmt: skip
@global_options
@click.pass_context
def apply(ctx: click.Context, file: str) -> None:
    """Create a flow from a definition, or update the flow of the same name.

    A definition the agent refuses prints each problem as FILE:LINE:COLUMN: message and
    exits 1; nothing is saved then.
    """
    g = globals_of(ctx)
    text, fmt = read_definition(file)
    problems: list[str] = []

    async def operation(client: AgentClient) -> tuple[Flow, str] | None:
        try:
            return await save(client, text, fmt)
        except ApiError as exc:
            errors = definition_errors(exc)
            if not errors:
                raise
            problems.extend(views.error_lines(file, errors))
            return None

    saved = call(ctx, operation)
    if saved is None:
        for line in problems:
            click.echo(line, err=True)
        count = len(problems)
        click.echo(f"openfabric: {count} problem{'s' * (count != 1)}; nothing saved", err=True)
        raise click.exceptions.Exit(EXIT_ERROR)
    flow, verb = saved
    g.emit(output.render(flow, g.format, lambda f: views.saved_line(f, verb)))


# --- run, runs, rerun, cancel --------------------------------------------------------------


def _inputs(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict[str, Any]:
    inputs: dict[str, Any] = {}
    for item in values:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not NAME=VALUE", ctx, param)
        try:
            inputs[key] = json.loads(raw)
        except ValueError:
            inputs[key] = raw
    return inputs


async def follow(g: Globals, client: AgentClient, run: FlowRun) -> FlowRun:
    """Print the run's transitions until it finishes (table format); answers the final run."""
    if g.format == "table":
        g.emit(views.run_line(run))
    async with aclosing(client.follow_flow_run(run.flow_id, run.id)) as stream:
        async for event in stream:
            if g.format == "table" and event.kind != "done":
                g.emit(views.event_line(event))
            if event.run is not None:
                return event.run
    raise ClientError(f"the events of run {run.id} ended before it finished")


def finish(g: Globals, run: FlowRun, names: dict[str, str]) -> None:
    """Show the finished run and exit 0 when it succeeded, else 1."""
    g.emit(output.render(run, g.format, lambda r: views.run_view(r, names)))
    raise click.exceptions.Exit(0 if run.state == "succeeded" else EXIT_ERROR)


def _stopped(run_ids: list[str]) -> Callable[[], None]:
    def note() -> None:
        if run_ids:
            click.echo(f"openfabric: stopped following run {run_ids[0]}; it goes on", err=True)

    return note


def start_and_maybe_follow(
    ctx: click.Context, start: Callable[[AgentClient], Awaitable[FlowRun]], follow_it: bool
) -> None:
    g = globals_of(ctx)
    started: list[str] = []

    async def operation(client: AgentClient) -> tuple[FlowRun, dict[str, str]]:
        run = await start(client)
        started.append(run.id)
        if follow_it and run.state != "skipped":
            run = await follow(g, client, run)
        return run, (await node_names(client)) if follow_it else {}

    run, names = call(ctx, operation, on_interrupt=_stopped(started))
    if follow_it:
        finish(g, run, names)
    if g.quiet and g.format == "table":
        g.emit(run.id)
    else:
        g.emit(output.render(run, g.format, views.run_line))


@flows.command("run")
@click.argument("flow_id", metavar="ID")
@click.argument("run_id", metavar="[RUN]", required=False)
@click.option("--input", "inputs", multiple=True, metavar="K=V", callback=_inputs,
              help="An input; V is JSON when it parses so, else text (repeatable).")  # fmt: skip
@click.option("--follow", "-f", is_flag=True, help="Print its steps as they go, until it ends.")
@global_options
@click.pass_context
def run(
    ctx: click.Context, flow_id: str, run_id: str | None, inputs: dict[str, Any], follow: bool
) -> None:
    """Run a flow now, or with RUN show that run step by step.

    Prints the run's ID and state (only the ID with --quiet). With --follow, prints each
    step's transitions live and exits 0 when the run succeeds, else 1; Ctrl-C stops
    following, not the run.
    """
    g = globals_of(ctx)
    if run_id is not None:
        if inputs or follow:
            raise click.UsageError("--input and --follow start a run: give no RUN")
        found, names = call(ctx, with_names(lambda client: client.flow_run(flow_id, run_id)))
        g.emit(output.render(found, g.format, lambda r: views.run_view(r, names)))
        return
    start_and_maybe_follow(ctx, lambda client: client.run_flow(flow_id, inputs), follow)


@flows.command("rerun")
@click.argument("flow_id", metavar="ID")
@click.argument("run_id", metavar="RUN")
@click.option("--from", "from_step", metavar="STEP",
              help="Start at this step [default: the first that did not succeed].")  # fmt: skip
@click.option("--follow", "-f", is_flag=True, help="Print its steps as they go, until it ends.")
@global_options
@click.pass_context
def rerun(
    ctx: click.Context, flow_id: str, run_id: str, from_step: str | None, follow: bool
) -> None:
    """Run RUN again as a new run: the steps before STEP keep their outputs."""
    start_and_maybe_follow(
        ctx, lambda client: client.rerun_flow(flow_id, run_id, from_step), follow
    )


@flows.command("runs")
@click.argument("flow_id", metavar="ID")
@click.option("--limit", type=click.IntRange(1, 50), default=50, show_default=True)
@global_options
@click.pass_context
def runs(ctx: click.Context, flow_id: str, limit: int) -> None:
    """A flow's latest runs on every member, newest first."""
    g = globals_of(ctx)
    listing, names = call(ctx, with_names(lambda client: client.flow_runs(flow_id, limit)))
    g.emit(output.render(listing, g.format, lambda found: views.runs_view(found, names)))


@flows.command("cancel")
@click.argument("flow_id", metavar="ID")
@click.argument("run_id", metavar="RUN")
@global_options
@click.pass_context
def cancel(ctx: click.Context, flow_id: str, run_id: str) -> None:
    """Stop an active run."""
    g = globals_of(ctx)
    found = call(ctx, lambda client: client.cancel_flow_run(flow_id, run_id))
    g.emit(output.render(found, g.format, views.run_line))


# --- toggle, rm --------------------------------------------------------------------------


@flows.command("toggle")
@click.argument("flow_id", metavar="ID")
@click.option("--on/--off", "enabled", default=None, help="Enable or disable [default: flip].")
@global_options
@click.pass_context
def toggle(ctx: click.Context, flow_id: str, enabled: bool | None) -> None:
    """Enable or disable a flow's triggers (it can still be run by hand)."""
    g = globals_of(ctx)
    flow = call(ctx, lambda client: client.toggle_flow(flow_id, enabled))
    verb = "enabled" if flow.enabled else "disabled"
    g.emit(output.render(flow, g.format, lambda f: views.saved_line(f, verb)))


@flows.command("rm")
@click.argument("flow_id", metavar="ID")
@click.argument("run_id", metavar="[RUN]", required=False)
@global_options
@click.pass_context
def remove(ctx: click.Context, flow_id: str, run_id: str | None) -> None:
    """Delete a flow and its runs on every member, or with RUN only that finished run."""
    g = globals_of(ctx)
    if run_id is not None:
        gone = call(ctx, lambda client: client.delete_flow_run(flow_id, run_id))
        g.emit(output.render(gone, g.format, lambda r: f"removed run {r.id}"))
        return
    deleted = call(ctx, lambda client: client.delete_flow(flow_id))
    g.emit(output.render(deleted, g.format, lambda d: f"removed {d.id} ({d.runs_deleted} runs)"))
