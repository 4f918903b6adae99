"""`openfabric serve`: its flags come from the settings table, one per setting."""

from __future__ import annotations

from typing import Any

import click

from agent.settings import SETTINGS, SettingsError, SettingSpec, load_settings
from cli.runtime import EXIT_CONFIG, config_option, globals_of


def _metavar(spec: SettingSpec) -> str:
    if spec.choices:
        return "|".join(spec.choices)
    return "PATHS" if spec.kind is tuple else spec.kind.__name__.upper()


def _settings_options(command: Any) -> Any:
    for spec in reversed(SETTINGS):
        command = click.option(
            spec.flag,
            spec.name,
            default=None,
            metavar=_metavar(spec),
            help=f"{spec.help} [env {spec.env}; default {spec.default!r}]",
        )(command)
    return command


@click.command("serve")
@_settings_options
@config_option
@click.pass_context
def serve(ctx: click.Context, /, **flags: Any) -> None:
    """Run the agent in the foreground (Ctrl-C stops it)."""
    from agent.server import ServeError
    from agent.server import serve as run

    g = globals_of(ctx)
    if g.log_level and flags.get("log_level") is None:
        flags["log_level"] = g.log_level
    try:
        settings = load_settings(flags, config=g.config)
    except SettingsError as exc:
        click.echo(f"openfabric: invalid configuration: {exc}", err=True)
        ctx.exit(EXIT_CONFIG)
    try:
        run(settings)
    except SettingsError as exc:
        # Some settings (task_user) can only be checked against the machine at start.
        click.echo(f"openfabric: invalid configuration: {exc}", err=True)
        ctx.exit(EXIT_CONFIG)
    except ServeError as exc:
        click.echo(f"openfabric: {exc}", err=True)
        ctx.exit(1)
    except KeyboardInterrupt:
        pass
