"""`openfabric dashboard`: open the web dashboard, logged in."""

from __future__ import annotations

import webbrowser
from urllib.parse import quote

import click

from cli import output
from cli.runtime import call, global_options, globals_of, locate


def login_url(base_url: str, token: str | None) -> str:
    """The link that logs a browser in (the agent swaps the token for a cookie)."""
    return f"{base_url}/?token={quote(token, safe='')}" if token else f"{base_url}/"


@click.command("dashboard")
@click.option("--no-browser", is_flag=True, help="Only print the login URL.")
@global_options
@click.pass_context
def dashboard(ctx: click.Context, no_browser: bool) -> None:
    """Print the dashboard login URL and open it in a browser."""
    g = globals_of(ctx)
    base_url, token = locate(g)
    # A link to an agent that is not running is no use: fail here, with the usual line.
    call(ctx, lambda client: client.health())
    url = login_url(base_url, token)
    g.emit(output.render({"url": url}, g.format, lambda body: body["url"]))
    if no_browser:
        return
    if webbrowser.open(url):
        g.note("opened the dashboard in your browser")
    else:
        g.note("could not open a browser; open the URL above yourself")
