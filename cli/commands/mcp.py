"""`openfabric mcp builtins|servers|add|rm|toggle|tools|test|serve`: the Model Context
Protocol servers this node runs, their tools, and the fabric itself as an MCP server."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from agent.client import AgentClient
from agent.mcp.models import AllTools, ToolTestAnswer
from cli import output
from cli.commands.mcp_serve import serve
from cli.commands.mcp_views import (
    all_tools_view,
    builtins_view,
    server_line,
    servers_view,
    test_view,
    tools_view,
)
from cli.runtime import EXIT_ERROR, call, global_options, globals_of, interactive

FROM_STDIN = "-"


@click.group("mcp")
def mcp() -> None:
    """Model Context Protocol servers on this node, and their tools."""


mcp.add_command(serve)


def _pairs(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not NAME=VALUE", ctx, param)
        pairs[key] = value
    return pairs


def _secret(name: str) -> str:
    """A credential's value read without echo: from the terminal, else one line of stdin."""
    if interactive():
        value: str = click.prompt(f"Value of {name}", hide_input=True, err=True)
        return value
    line = sys.stdin.readline()
    if not line:
        raise click.UsageError(f"--credential {name}=- found no value on stdin")
    return line.rstrip("\r\n")


def _credentials(given: dict[str, str]) -> dict[str, str]:
    return {k: _secret(k) if v == FROM_STDIN else v for k, v in given.items()}


# --- builtins, servers -------------------------------------------------------------------


@mcp.command("builtins")
@global_options
@click.pass_context
def builtins(ctx: click.Context) -> None:
    """The integrations this node can add in one command, and what each needs."""
    g = globals_of(ctx)
    listing = call(ctx, lambda client: client.mcp_builtins())
    g.emit(output.render(listing, g.format, builtins_view))


@mcp.command("servers")
@global_options
@click.pass_context
def servers(ctx: click.Context) -> None:
    """This node's servers: state (and why it failed or restarts), restarts, tool count."""
    g = globals_of(ctx)
    listing = call(ctx, lambda client: client.mcp_servers())
    g.emit(output.render(listing, g.format, servers_view))


# --- add ---------------------------------------------------------------------------------

ADD_HELP = """Configure a server on this node: a process over stdio (--command), a streamable
HTTP endpoint (--endpoint), or a builtin (--builtin; see `openfabric mcp builtins`).

\b
  openfabric mcp add --builtin time
  openfabric mcp add --builtin git --option repository=/src/app
  openfabric mcp add notes --command python3 --arg -m --arg notes_server
  openfabric mcp add search --endpoint http://127.0.0.1:9000/mcp --credential API_TOKEN=-

Credentials go to the server as env vars (stdio) or headers (http) and are never shown
again. `--credential NAME=-` reads the value without echo (from the terminal, or one line of
stdin), so the secret does not sit in the shell's history.
"""


@mcp.command("add", help=ADD_HELP)
@click.argument("name", required=False)
@click.option("--command", "command", metavar="CMD", help="The program to run (stdio).")
@click.option("--arg", "args", multiple=True, metavar="A", help="An argument (repeatable).")
@click.option(
    "--env", multiple=True, metavar="K=V", callback=_pairs, help="An env var (repeatable)."
)
@click.option("--cwd", metavar="DIR", help="Working directory of the process.")
@click.option("--endpoint", "url", metavar="URL", help="The server's streamable HTTP endpoint.")
@click.option(
    "--header",
    "headers",
    multiple=True,
    metavar="K=V",
    callback=_pairs,
    help="An HTTP header (repeatable).",
)
@click.option(
    "--credential",
    multiple=True,
    metavar="K=V",
    callback=_pairs,
    help="A write-only credential; K=- reads the value without echo (repeatable).",
)
@click.option("--description", default="", help="What the server is for.")
@click.option("--builtin", metavar="B", help="Add a builtin instead (see `mcp builtins`).")
@click.option("--name", "builtin_name", metavar="N", help="With --builtin: the server's name.")
@click.option(
    "--option",
    multiple=True,
    metavar="K=V",
    callback=_pairs,
    help="With --builtin: an option (repeatable).",
)
@click.option("--disabled", is_flag=True, help="Add it disabled (not started).")
@global_options
@click.pass_context
def add(
    ctx: click.Context,
    /,
    name: str | None,
    builtin: str | None,
    builtin_name: str | None,
    option: dict[str, str],
    credential: dict[str, str],
    disabled: bool,
    **transport: Any,
) -> None:
    g = globals_of(ctx)
    if builtin is not None:
        if any(transport.values()):
            raise click.UsageError("--builtin takes only --name, --option and --credential")
        if name and builtin_name and name != builtin_name:
            raise click.UsageError("give the name once: NAME or --name")
        chosen = name or builtin_name
        secrets = _credentials(credential)
        server = call(
            ctx,
            lambda client: client.mcp_add_builtin(
                builtin, name=chosen, options=option, credentials=secrets, enabled=not disabled
            ),
        )
    else:
        if not name:
            raise click.UsageError("give the server's NAME (or --builtin B)")
        if option or builtin_name:
            raise click.UsageError("--option and --name go with --builtin")
        _check_transport(**transport)
        secrets = _credentials(credential)
        server = call(
            ctx,
            lambda client: client.mcp_add(
                name, **transport, credentials=secrets, enabled=not disabled
            ),
        )
    g.emit(output.render(server, g.format, lambda s: server_line(s, "added")))


def _check_transport(
    command: str | None, url: str | None, args: tuple[str, ...], env: dict[str, str],
    cwd: str | None, headers: dict[str, str], description: str,
) -> None:  # fmt: skip
    if (command is None) == (url is None):
        raise click.UsageError("give exactly one of --command (stdio) and --endpoint (http)")
    if url is not None and (args or env or cwd):
        raise click.UsageError("--arg, --env and --cwd go with --command")
    if command is not None and headers:
        raise click.UsageError("--header goes with --endpoint")


# --- rm, toggle --------------------------------------------------------------------------


@mcp.command("rm")
@click.argument("name")
@global_options
@click.pass_context
def remove(ctx: click.Context, name: str) -> None:
    """Stop the server (its whole process tree) and forget it, credentials included."""
    g = globals_of(ctx)
    removed = call(ctx, lambda client: client.mcp_remove(name))
    g.emit(output.render(removed, g.format, lambda r: f"removed {r.name}"))


@mcp.command("toggle")
@click.argument("name")
@click.option("--on/--off", "enabled", default=None, help="Enable or disable [default: flip].")
@global_options
@click.pass_context
def toggle(ctx: click.Context, name: str, enabled: bool | None) -> None:
    """Enable or disable a server; disabling stops its process."""
    g = globals_of(ctx)
    server = call(ctx, lambda client: client.mcp_toggle(name, enabled))
    verb = "enabled" if server.enabled else "disabled"
    g.emit(output.render(server, g.format, lambda s: server_line(s, verb)))


# --- tools, test -------------------------------------------------------------------------


@mcp.command("tools")
@click.argument("name", required=False)
@click.option("--all", "everywhere", is_flag=True, help="Every enabled tool in the cluster.")
@global_options
@click.pass_context
def tools(ctx: click.Context, name: str | None, everywhere: bool) -> None:
    """A server's tools (starting it if needed), or with --all the cluster's."""
    g = globals_of(ctx)
    if everywhere == bool(name):
        raise click.UsageError("give a server NAME, or --all")
    if name:
        listing = call(ctx, lambda client: client.mcp_tools(name))
        g.emit(output.render(listing, g.format, tools_view))
        return

    async def operation(client: AgentClient) -> tuple[AllTools, list[str]]:
        found = await client.mcp_all_tools()
        names = {n.node_id: n.name for n in await client.nodes()} if found.unreachable else {}
        return found, [names.get(n) or output.short_id(n) for n in found.unreachable]

    found, unreachable = call(ctx, operation)
    g.emit(output.render(found, g.format, lambda f: all_tools_view(f, unreachable)))


def _arguments(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    if value is None:
        return None
    try:
        parsed = json.loads(value)
    except ValueError as exc:
        raise click.BadParameter(f"not valid JSON: {exc}", ctx, param) from None
    if not isinstance(parsed, dict):
        raise click.BadParameter('must be a JSON object, like \'{"name": "value"}\'', ctx, param)
    return parsed


@mcp.command("test")
@click.argument("name")
@click.option("--tool", metavar="T", help="The tool to call [default: only list the tools].")
@click.option("--args", "arguments", metavar="JSON", callback=_arguments,
              help="The tool's arguments, a JSON object [default: {}].")  # fmt: skip
@global_options
@click.pass_context
def test(ctx: click.Context, name: str, tool: str | None, arguments: dict[str, Any] | None) -> None:
    """Start the server if needed and call a tool (or list the tools), with the timings.

    Exits 1 when the tool answers with an error (the answer is still printed).
    """
    g = globals_of(ctx)
    if arguments is not None and tool is None:
        raise click.UsageError("--args goes with --tool")
    answer: ToolTestAnswer = call(ctx, lambda client: client.mcp_test(name, tool, arguments))
    g.emit(output.render(answer, g.format, test_view))
    if answer.result is not None and answer.result.is_error:
        raise click.exceptions.Exit(EXIT_ERROR)
