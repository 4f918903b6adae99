"""`openfabric dashboard`: open the web dashboard, logged in."""

from __future__ import annotations

import webbrowser

import click

from agent.client import AgentClient
from cli import output
from cli.runtime import call, global_options, globals_of, locate


async def login_url(client: AgentClient, token: str | None) -> str:
    """A link that signs a browser in: a single-use code that lives a minute, never the token
    (a URL shows in `ps`, shell history and the browser's history)."""
    if not token:
        # auth = none: first make sure something answers, then the plain address will do.
        await client.health()
        return f"{client.base_url}/"
    code = await client.login_code()
    return client.base_url + code.login_path


@click.command("dashboard")
@click.option("--no-browser", is_flag=True, help="Only print the login URL.")
@global_options
@click.pass_context
def dashboard(ctx: click.Context, no_browser: bool) -> None:
    """Print a one-time dashboard login URL and open it in a browser."""
    g = globals_of(ctx)
    _, token = locate(g)
    url = call(ctx, lambda client: login_url(client, token))
    g.emit(output.render({"url": url}, g.format, lambda body: body["url"]))
    if no_browser:
        return
    if webbrowser.open(url):
        g.note("opened the dashboard in your browser")
    else:
        g.note("could not open a browser; open the URL above yourself (it works once)")
