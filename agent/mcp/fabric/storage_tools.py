"""The shared storage as tools: `storage_list`, `storage_get` (text, bounded),
`storage_upload` (text)."""

from __future__ import annotations

import hashlib
from typing import Annotated

from mcp.server.mcpserver import MCPServer
from mcp_types import ToolAnnotations
from pydantic import Field

from agent.client import AgentClient
from agent.client.types import StorageListing, StoredFile
from agent.mcp.fabric.calls import ClientOpener, ToolContext, call_agent
from agent.mcp.fabric.models import MAX_TEXT_BYTES, StoredText

READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)
# Bodies over the MCP transport are bounded (4 MiB); text to store is bounded below that.
MAX_UPLOAD_CHARS = 1024 * 1024

StoragePath = Annotated[
    str,
    Field(min_length=1, max_length=4096, description="A path in the shared storage: a/b.txt"),
]


def register(server: MCPServer, opener: ClientOpener) -> None:
    @server.tool(annotations=READ_ONLY)
    async def storage_list(
        ctx: ToolContext,
        prefix: Annotated[
            str, Field(max_length=4096, description="Only paths under this prefix ('' for all)")
        ] = "",
    ) -> StorageListing:
        """List the files in the cluster's shared storage (pooled across the nodes), sorted by
        path: each with its size, sha256, when and by which node it was stored, the nodes
        holding its chunks and its health. Refused with INVALID_PATH."""
        return await call_agent(opener, ctx, lambda client: client.storage_list(prefix))

    @server.tool(annotations=READ_ONLY)
    async def storage_get(path: StoragePath, ctx: ToolContext) -> StoredText:
        """Read a file from the shared storage. A UTF-8 text file of at most 256 KiB comes back
        whole in `text`; anything larger, or not text, comes back as a short summary (size
        and sha256, `text` null, `note` saying why). Refusals: FILE_NOT_FOUND, INVALID_PATH,
        DATA_UNAVAILABLE (no node holding its chunks is reachable)."""
        return await call_agent(opener, ctx, lambda client: read_text(client, path))

    @server.tool(annotations=ToolAnnotations(destructive_hint=True, open_world_hint=False))
    async def storage_upload(
        path: StoragePath,
        content: Annotated[
            str, Field(max_length=MAX_UPLOAD_CHARS, description="The file's text (UTF-8)")
        ],
        ctx: ToolContext,
        overwrite: Annotated[bool, Field(description="Replace a file already at `path`")] = False,
    ) -> StoredFile:
        """Store text as a file in the cluster's shared storage (UTF-8, chunked and copied
        across nodes) and answer the stored file. Refusals: FILE_EXISTS (a file is there and
        `overwrite` is false), INVALID_PATH, INSUFFICIENT_STORAGE."""
        data = content.encode("utf-8")
        return await call_agent(
            opener,
            ctx,
            lambda client: client.storage_upload(path, data, overwrite=overwrite),
        )


async def read_text(client: AgentClient, path: str) -> StoredText:
    async with client.storage_download(path) as download:
        size, sha256 = download.size, download.sha256
        if size is not None and size > MAX_TEXT_BYTES:
            return StoredText(path=path, size=size, sha256=sha256, text=None, note=too_large(size))
        data = bytearray()
        async for block in download.chunks():
            data += block
            if len(data) > MAX_TEXT_BYTES:
                return StoredText(
                    path=path, size=size, sha256=sha256, text=None, note=too_large(size)
                )
    size = len(data) if size is None else size
    sha256 = sha256 or hashlib.sha256(data).hexdigest()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is None or "\x00" in text:
        note = "not UTF-8 text (binary content): only its size and sha256 are given"
        return StoredText(path=path, size=size, sha256=sha256, text=None, note=note)
    return StoredText(path=path, size=size, sha256=sha256, text=text, note=None)


def too_large(size: int | None) -> str:
    shown = f"{size} bytes" if size is not None else "its size"
    return f"{shown} is over the {MAX_TEXT_BYTES} bytes given as text: only size and sha256"
