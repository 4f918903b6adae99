"""What every command shares: the global options, finding the agent, and turning errors into
one line on stderr with the right exit code.

Global options are accepted on the group and again after any command
(`openfabric status --format json`); a value given after the command wins.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, NoReturn, TypeVar

import click

from agent.client import AgentClient, ClientError, discover
from agent.settings import SettingsError
from cli.output import FORMATS

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])
EXIT_ERROR = 1
EXIT_CONFIG = 2
EXIT_INTERRUPTED = 130
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


@dataclass
class Globals:
    format: str = "table"
    output: Path | None = None
    quiet: bool = False
    verbose: bool = False
    log_level: str | None = None
    config: Path | None = None
    url: str | None = None
    _sink: IO[str] | None = field(default=None, repr=False)
    _log_handler: logging.Handler | None = field(default=None, repr=False)
    _saved_level: int = field(default=logging.WARNING, repr=False)

    def emit(self, text: str) -> None:
        """Write essential output (stdout or --output), one flush per call for streaming."""
        self.write(text + "\n")

    def write(self, text: str) -> None:
        """Write `text` as is (no newline added) where `emit` writes, flushed at once."""
        if self._sink is None:
            self._sink = sys.stdout if self.output is None else self._open_output()
        self._sink.write(text)
        self._sink.flush()

    def note(self, text: str) -> None:
        """Non-essential remarks go to stderr, and not at all with --quiet."""
        if not self.quiet:
            click.echo(text, err=True)

    def close(self) -> None:
        if self._sink is not None and self._sink is not sys.stdout:
            self._sink.close()
        self._sink = None
        if self._log_handler is not None:
            root = logging.getLogger()
            root.removeHandler(self._log_handler)
            root.setLevel(self._saved_level)
            self._log_handler = None

    def _open_output(self) -> IO[str]:
        assert self.output is not None
        try:
            return self.output.open("w", encoding="utf-8")
        except OSError as exc:
            fail(f"cannot write {self.output}: {exc.strerror}")

    def configure_logging(self) -> None:
        """Route log records to stderr when --verbose or --log-level asks for them.

        Without either, Python's last-resort handler already shows warnings. The handler is
        removed again on close so embedding callers (and tests) keep their own logging.
        """
        if self._log_handler is not None or not (self.verbose or self.log_level):
            return
        level = getattr(logging, (self.log_level or "info").upper())
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        root = logging.getLogger()
        self._log_handler, self._saved_level = handler, root.level
        root.addHandler(handler)
        root.setLevel(level)


def fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    click.echo(f"openfabric: {message}", err=True)
    raise click.exceptions.Exit(code)


def interactive() -> bool:
    """Whether a person can answer a prompt (stdin is a terminal)."""
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


def confirm(question: str, yes: bool, *, refused: str) -> None:
    """Go on when `yes`; else ask on a terminal, and refuse (exit 1) on no or without one.

    Without a terminal nobody can answer, so scripts must say --yes instead of hanging or
    reading an answer meant for something else.
    """
    if yes:
        return
    if not interactive():
        fail(f"{refused}: confirm with --yes when not running in a terminal")
    if not click.confirm(question, err=True):
        fail(refused)


def globals_of(ctx: click.Context) -> Globals:
    found = ctx.find_object(Globals)
    if found is None:
        root = ctx.find_root()
        root.obj = found = Globals()
        root.call_on_close(found.close)
    return found


def _store(name: str, convert: Callable[[Any], Any] = lambda v: v) -> Any:
    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> None:
        # Unset (None) or unset flags (False) must not undo a value given on the group.
        if value is not None and value is not False:
            setattr(globals_of(ctx), name, convert(value))

    return callback


def _path(value: str) -> Path:
    return Path(value).expanduser()


def config_option(command: F) -> F:
    return click.option(
        "--config",
        type=click.Path(dir_okay=False),
        expose_value=False,
        callback=_store("config", _path),
        help="Config file (YAML) of the agent settings.",
    )(command)


def global_options(command: F) -> F:
    options = [
        click.option(
            "--format",
            type=click.Choice(FORMATS),
            expose_value=False,
            callback=_store("format"),
            help="Output format [default: table].",
        ),
        click.option(
            "--output",
            "-o",
            type=click.Path(dir_okay=False),
            expose_value=False,
            callback=_store("output", _path),
            help="Write the output to FILE instead of stdout.",
        ),
        click.option(
            "--quiet",
            "-q",
            is_flag=True,
            default=None,
            expose_value=False,
            callback=_store("quiet"),
            help="No non-essential output.",
        ),
        click.option(
            "--verbose",
            "-v",
            is_flag=True,
            default=None,
            expose_value=False,
            callback=_store("verbose"),
            help="More detail (and request logs).",
        ),
        click.option(
            "--log-level",
            type=click.Choice(LOG_LEVELS, case_sensitive=False),
            expose_value=False,
            callback=_store("log_level", str.lower),
            help="Log level of the CLI itself.",
        ),
        config_option,
        click.option(
            "--url",
            metavar="URL",
            expose_value=False,
            callback=_store("url"),
            help="Agent API URL [default: from agent.json, else "
            "http://127.0.0.1:4892; env OPENFABRIC_URL].",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def locate(g: Globals) -> tuple[str, str | None]:
    try:
        return discover(url=g.url, config=g.config)
    except SettingsError as exc:
        fail(f"invalid configuration: {exc}", EXIT_CONFIG)


def call(
    ctx: click.Context,
    operation: Callable[[AgentClient], Awaitable[T]],
    *,
    interrupted: int = EXIT_INTERRUPTED,
    on_interrupt: Callable[[], None] | None = None,
) -> T:
    """Run `operation` against the agent; agent and API errors exit 1 with one line.

    Ctrl-C exits with `interrupted` and no traceback, after calling `on_interrupt`.
    """
    g = globals_of(ctx)
    g.configure_logging()
    url, token = locate(g)

    async def run() -> T:
        async with AgentClient(url, token) as client:
            return await operation(client)

    try:
        return asyncio.run(run())
    except ClientError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        if on_interrupt is not None:
            on_interrupt()
        raise click.exceptions.Exit(interrupted) from None
