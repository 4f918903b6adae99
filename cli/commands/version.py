"""`openfabric version`: this CLI's version and the running agent's."""

from __future__ import annotations

import asyncio
from typing import Any

import click

from agent import __version__
from agent.client import AgentClient, ClientError, Health
from cli import output
from cli.runtime import global_options, globals_of, locate


def version_table(body: dict[str, Any]) -> str:
    agent = body["agent"]
    if agent is None:
        running = f"not running: {body['agent_error']}"
    elif agent["version"] is None:
        running = f"running at {agent['url']} (its version is told to the token holder only)"
    else:
        running = f"{agent['version']} (node {agent['node_id']}, {agent['url']})"
    return output.pairs([("cli", body["cli_version"]), ("agent", running)])


async def _agent_info(url: str, token: str | None) -> dict[str, Any]:
    async with AgentClient(url, token, timeout=3.0) as client:
        health = await client.health()
    if not isinstance(health, Health):
        # Without a token the agent tells only that it is up, not what it runs.
        return {"version": None, "node_id": None, "url": url}
    return {"version": health.version, "node_id": health.node_id, "url": url}


@click.command("version")
@global_options
@click.pass_context
def version(ctx: click.Context) -> None:
    """Versions of the CLI and of the agent (if one is running)."""
    g = globals_of(ctx)
    g.configure_logging()
    url, token = locate(g)
    body: dict[str, Any] = {"cli_version": __version__, "agent": None}
    try:
        body["agent"] = asyncio.run(_agent_info(url, token))
    except ClientError as exc:
        # A missing agent is an answer here, not an error.
        body["agent_error"] = str(exc)
    g.emit(output.render(body, g.format, version_table))
