"""`openfabric storage ls|put|get|rm`: files in the cluster's shared storage.

Transfers stream in 1 MiB blocks (nothing is held whole in memory) and are verified by
sha256 at both ends: `put` checks the agent stored exactly the bytes it sent, `get` that it
received exactly the file the agent described before anything is put in place.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import sys
import unicodedata
from collections.abc import AsyncIterator
from pathlib import Path, PurePosixPath
from typing import IO, Any, BinaryIO

import click

from agent.client import (
    AgentClient,
    ApiError,
    ClientError,
    DeleteResult,
    StorageListing,
    StoredFile,
)
from cli import output
from cli.progress import Progress, wanted
from cli.runtime import Globals, call, fail, global_options, globals_of

READ_SIZE = 1024 * 1024
STDIO = "-"


@click.group("storage")
def storage() -> None:
    """Files in the cluster's shared storage."""


def files_table(listing: StorageListing) -> str:
    rows = [
        [f.path, output.size(f.size), f.health, len(f.nodes), output.ago(f.modified)]
        for f in listing.files
    ]
    return output.table(["PATH", "SIZE", "HEALTH", "NODES", "MODIFIED"], rows)


@storage.command("ls")
@click.argument("prefix", required=False, default="")
@global_options
@click.pass_context
def ls(ctx: click.Context, prefix: str) -> None:
    """Stored files, only those under PREFIX when given."""
    g = globals_of(ctx)
    listing = call(ctx, lambda client: client.storage_list(prefix))
    g.emit(output.render(listing, g.format, files_table))


# --- put ---------------------------------------------------------------------------------


async def _blocks(
    source: BinaryIO, name: str, digest: Any, meter: Progress
) -> AsyncIterator[bytes]:
    """The file in 1 MiB reads, hashed and counted as they are handed to the upload."""
    while True:
        try:
            block = source.read(READ_SIZE)
        except OSError as exc:
            raise ClientError(f"cannot read {name}: {exc.strerror or exc}") from None
        if not block:
            return
        digest.update(block)
        meter.update(len(block))
        yield block


def _open_source(local: Path) -> tuple[BinaryIO, int | None]:
    if str(local) == STDIO:
        return sys.stdin.buffer, None
    try:
        source = local.open("rb")
    except OSError as exc:
        fail(f"cannot read {local}: {exc.strerror or exc}")
    return source, os.fstat(source.fileno()).st_size


async def _refuse_existing(client: AgentClient, path: str) -> None:
    """Fail fast when PATH is taken, instead of streaming the whole file to hear so.

    Only a shortcut: the upload itself refuses an existing file too (race-free), and any
    doubt here (an invalid path, say) is left for the upload to report.
    """
    canonical = "/".join(p for p in unicodedata.normalize("NFC", path).split("/") if p)
    try:
        listing = await client.storage_list(canonical)
    except ApiError:
        return
    if any(f.path == canonical for f in listing.files):
        raise ApiError(
            409, "FILE_EXISTS", f"{canonical} already exists; replace it with --overwrite"
        )


def _stored_line(stored: StoredFile) -> str:
    return f"stored {stored.path} ({output.size(stored.size)}) sha256 {stored.sha256}"


def _interrupted(meter: Progress, what: str) -> None:
    meter.close()
    click.echo(f"openfabric: {what} was interrupted", err=True)


@storage.command("put")
@click.argument(
    "local", type=click.Path(exists=True, dir_okay=False, allow_dash=True, path_type=Path)
)
@click.argument("path", required=False)
@click.option("--overwrite", is_flag=True, help="Replace a file already stored at PATH.")
@global_options
@click.pass_context
def put(ctx: click.Context, local: Path, path: str | None, overwrite: bool) -> None:
    """Upload the local file LOCAL to PATH.

    PATH defaults to LOCAL's name; LOCAL '-' reads stdin (PATH is then required). Shows a
    progress meter on a terminal; prints the stored path and its sha256 (with --quiet only
    'SHA256  PATH', as sha256sum does). Fails if the agent's sha256 of what it stored differs
    from that of the bytes sent.
    """
    g = globals_of(ctx)
    if path is None:
        if str(local) == STDIO:
            raise click.UsageError("say where to store stdin: openfabric storage put - PATH")
        path = local.name
    source, total = _open_source(local)
    meter = Progress(path, total, enabled=wanted(g.quiet))
    digest = hashlib.sha256()

    async def operation(client: AgentClient) -> StoredFile:
        try:
            if not overwrite:
                await _refuse_existing(client, path)
            blocks = _blocks(source, str(local), digest, meter)
            return await client.storage_upload(path, blocks, overwrite=overwrite, size=total)
        finally:
            meter.close()  # before any error message, so it starts on a line of its own

    try:
        stored = call(ctx, operation, on_interrupt=lambda: _interrupted(meter, "the upload"))
    finally:
        if str(local) != STDIO:
            source.close()
    if stored.sha256 != digest.hexdigest() or stored.size != meter.done:
        fail(
            f"the agent stored {stored.path} with sha256 {stored.sha256} "
            f"({stored.size} bytes), but the {meter.done} bytes sent have sha256 "
            f"{digest.hexdigest()}"
        )
    if g.quiet and g.format == "table":
        g.emit(f"{stored.sha256}  {stored.path}")
    else:
        g.emit(output.render(stored, g.format, _stored_line))


# --- get ---------------------------------------------------------------------------------


def _target(path: str, local: Path | None) -> Path:
    """Where `get` saves: LOCAL, LOCAL/<basename> for a directory, else ./<basename>."""
    name = PurePosixPath(path).name
    if local is None or local.is_dir():
        if name in ("", ".", ".."):
            raise click.UsageError(f"cannot name a local file after {path!r}: give LOCAL")
        return Path(name) if local is None else local / name
    return local


class _Sink:
    """Where downloaded bytes go: stdout, or a hidden temporary file next to the target that
    only `commit` renames into place (and `discard` removes, whatever happened)."""

    def __init__(self, target: Path | None) -> None:
        self.target = target
        self.temp: Path | None = None
        self._file: IO[bytes] | None = None

    def open(self) -> None:
        if self.target is None:
            self._file = sys.stdout.buffer
            return
        temp = self.target.parent / f".{self.target.name}.{secrets.token_hex(4)}.part"
        try:
            self._file = temp.open("xb")
        except OSError as exc:
            raise ClientError(f"cannot write {self.target}: {exc.strerror or exc}") from None
        self.temp = temp

    def write(self, block: bytes) -> None:
        assert self._file is not None
        try:
            self._file.write(block)
        except OSError as exc:
            raise ClientError(f"cannot write {self.target or 'stdout'}: {exc.strerror}") from None

    def finish(self) -> None:
        if self._file is not None:
            try:
                self._file.flush()
            except OSError as exc:
                raise ClientError(f"cannot write {self.target or 'stdout'}: {exc}") from None
            if self.temp is not None:
                self._file.close()

    def commit(self) -> None:
        if self.temp is not None and self.target is not None:
            try:
                os.replace(self.temp, self.target)
            except OSError as exc:
                fail(f"cannot write {self.target}: {exc.strerror or exc}")
            self.temp = None

    def discard(self) -> None:
        if self.temp is not None:
            if self._file is not None:
                self._file.close()
            self.temp.unlink(missing_ok=True)
            self.temp = None


def _saved(g: Globals, path: str, target: Path, size: int, sha256: str | None) -> None:
    if g.format == "table":
        if not g.quiet:
            g.emit(f"saved {path} to {target} ({output.size(size)})")
        return
    doc = {"path": path, "local": str(target), "size": size, "sha256": sha256}
    g.emit(output.render(doc, g.format, str))


@storage.command("get")
@click.argument("path")
@click.argument("local", required=False, type=click.Path(allow_dash=True, path_type=Path))
@click.option("--force", "-f", is_flag=True, help="Replace LOCAL if it exists.")
@global_options
@click.pass_context
def get(ctx: click.Context, path: str, local: Path | None, force: bool) -> None:
    """Download the stored file PATH to LOCAL.

    LOCAL defaults to PATH's name in the current directory (or in LOCAL when it is a
    directory); '-' writes to stdout. Shows a progress meter on a terminal. The file appears
    only once it is complete and its sha256 matches the agent's; a failed or interrupted
    download leaves nothing behind. An existing LOCAL is replaced only with --force.
    """
    g = globals_of(ctx)
    to_stdout = local is not None and str(local) == STDIO
    target = None if to_stdout else _target(path, local)
    if target is not None and target.is_dir():
        fail(f"{target} is a directory")
    if target is not None and target.exists() and not force:
        fail(f"{target} already exists (replace it with --force)")
    sink = _Sink(target)
    meter = Progress(path, None, enabled=wanted(g.quiet))
    digest = hashlib.sha256()

    async def operation(client: AgentClient) -> tuple[int | None, str | None]:
        try:
            async with client.storage_download(path) as download:
                meter.total = download.size
                sink.open()
                async for block in download.chunks():
                    sink.write(block)
                    digest.update(block)
                    meter.update(len(block))
                sink.finish()
                return download.size, download.sha256
        finally:
            meter.close()  # before any error message, so it starts on a line of its own

    try:
        size, sha256 = call(
            ctx, operation, on_interrupt=lambda: _interrupted(meter, f"the download of {path}")
        )
        if size is not None and meter.done != size:
            fail(f"received {meter.done} bytes of {path}, but it has {size}")
        if sha256 is not None and sha256 != digest.hexdigest():
            fail(f"the bytes received have sha256 {digest.hexdigest()}, not {path}'s {sha256}")
        sink.commit()
    finally:
        sink.discard()
    if target is not None:
        _saved(g, path, target, meter.done, sha256)


# --- rm ----------------------------------------------------------------------------------


@storage.command("rm")
@click.argument("path")
@global_options
@click.pass_context
def rm(ctx: click.Context, path: str) -> None:
    """Delete the stored file PATH everywhere."""
    g = globals_of(ctx)
    result = call(ctx, lambda client: client.storage_delete(path))
    g.emit(output.render(result, g.format, _deleted_line))


def _deleted_line(result: DeleteResult) -> str:
    return f"deleted {result.path}"
