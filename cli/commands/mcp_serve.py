"""`openfabric mcp serve`: this agent's operations as MCP tools, on stdin/stdout."""

from __future__ import annotations

import anyio
import click

from cli.runtime import EXIT_INTERRUPTED, global_options, globals_of, locate


@click.command("serve")
@global_options
@click.pass_context
def serve(ctx: click.Context) -> None:
    """Serve the fabric's tools to an MCP client over stdio.

    Configure it in the client as the command `openfabric mcp serve`: it speaks the Model
    Context Protocol on stdin/stdout (logs go to stderr) against the agent found as for every
    command (--url, $OPENFABRIC_URL, agent.json; the token from $OPENFABRIC_TOKEN or
    local.token), and ends when the client closes stdin.
    """
    # The SDK loads only for this command: every other command (`serve` included) starts
    # without it.
    from agent.mcp.fabric.server import serve_stdio

    g = globals_of(ctx)
    g.configure_logging()
    url, token = locate(g)
    try:
        anyio.run(serve_stdio, url, token)
    except KeyboardInterrupt:
        raise click.exceptions.Exit(EXIT_INTERRUPTED) from None
