"""`openfabric <resource> <action>`."""

from __future__ import annotations

import click

from agent import __version__
from cli.commands import register
from cli.commands.brain import brain
from cli.commands.flows import flows
from cli.commands.mcp import mcp
from cli.commands.memory import memory
from cli.commands.pulse import pulse
from cli.runtime import global_options, globals_of


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@global_options
@click.version_option(__version__, "--version", prog_name="openfabric")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """OpenFabric: one agent on every device you own."""
    globals_of(ctx)


register(cli)
cli.add_command(brain)
cli.add_command(flows)
cli.add_command(mcp)
cli.add_command(memory)
cli.add_command(pulse)


def main(argv: list[str] | None = None) -> int:
    try:
        cli.main(args=argv, prog_name="openfabric", standalone_mode=True)
    except SystemExit as exc:
        return int(exc.code or 0)
