"""storage.put, storage.get, storage.ls and storage.rm: the cluster's shared storage.

`put` stores text, or a file of this node: only for flows written on this node, since a flow
from another member may not read this node's files. `get` answers text (UTF-8, undecodable
bytes replaced) of at most `max_bytes` and what the outputs' bound leaves.
"""

from __future__ import annotations

import codecs
from collections.abc import AsyncIterator
from typing import Any

import anyio

from agent.client import AgentClient, ApiError
from agent.flows.actions.base import StepCall, StepFailed
from agent.flows.actions.bounds import (
    OUTPUT_BUDGET,
    encoded_size,
    head_fitting,
    params_of,
    reported,
)
from agent.flows.actions.params import (
    StorageGetParams,
    StorageLsParams,
    StoragePutParams,
    StorageRmParams,
)

READ_BLOCK = 256 * 1024


class StoragePut:
    name = "storage.put"

    def __init__(self, client: AgentClient) -> None:
        self.client = client

    async def run(self, call: StepCall) -> dict[str, Any]:
        params = params_of(call, StoragePutParams)
        if params.file is None:
            data = (params.content or "").encode()
            with reported(f"{params.path} could not be stored"):
                stored = await self.client.storage_upload(params.path, data, overwrite=True)
        else:
            if call.foreign:
                raise StepFailed(
                    "this flow was written on another member: it may not read this node's "
                    "files (`file`); give `content`"
                )
            source = anyio.Path(params.file)
            if not source.is_absolute():
                raise StepFailed(f"`file` must be an absolute path, not {params.file!r}")
            try:
                size = (await source.stat()).st_size
            except OSError as exc:
                raise StepFailed(f"{source} cannot be read: {exc.strerror or exc}") from None
            with reported(f"{source} could not be stored at {params.path}"):
                stored = await self.client.storage_upload(
                    params.path, _blocks(source), overwrite=True, size=size
                )
        call.log(f"stored {stored.path} ({stored.size} bytes)")
        return {"path": stored.path, "size": stored.size, "sha256": stored.sha256}


async def _blocks(source: anyio.Path) -> AsyncIterator[bytes]:
    try:
        async with await anyio.open_file(source, "rb") as handle:
            while block := await handle.read(READ_BLOCK):
                yield block
    except OSError as exc:
        raise StepFailed(f"{source} cannot be read: {exc.strerror or exc}") from None


class StorageGet:
    name = "storage.get"

    def __init__(self, client: AgentClient) -> None:
        self.client = client

    async def run(self, call: StepCall) -> dict[str, Any]:
        params = params_of(call, StorageGetParams)
        raw = bytearray()
        cut = False
        with reported(f"{params.path} could not be read"):
            async with self.client.storage_download(params.path) as download:
                async for block in download.chunks():
                    raw += block
                    if len(raw) > params.max_bytes:
                        cut = True
                        break
                size = download.size if download.size is not None else len(raw)
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        # A cut may split a character: its first bytes are dropped, not shown as a "?".
        text = decoder.decode(bytes(raw[: params.max_bytes]), final=not cut)
        content = head_fitting(text, OUTPUT_BUDGET - 2048)
        return {
            "path": params.path,
            "content": content,
            "size": size,
            "truncated": cut or len(content) < len(text),
        }


class StorageLs:
    name = "storage.ls"

    def __init__(self, client: AgentClient) -> None:
        self.client = client

    async def run(self, call: StepCall) -> dict[str, Any]:
        params = params_of(call, StorageLsParams)
        with reported("the storage could not be listed"):
            listing = await self.client.storage_list(params.prefix)
        files: list[dict[str, Any]] = []
        used = 0
        for stored in listing.files[: params.limit]:
            entry = {
                "path": stored.path,
                "size": stored.size,
                "sha256": stored.sha256,
                "modified": stored.modified,
            }
            # Each path is in the outputs twice: in `files` and in `paths`.
            used += encoded_size(entry) + encoded_size(stored.path) + 2
            if used > OUTPUT_BUDGET:
                call.log(f"listed {len(files)} of {listing.count} files: the outputs are full")
                break
            files.append(entry)
        return {"files": files, "paths": [f["path"] for f in files], "count": len(files)}


class StorageRm:
    name = "storage.rm"

    def __init__(self, client: AgentClient) -> None:
        self.client = client

    async def run(self, call: StepCall) -> dict[str, Any]:
        params = params_of(call, StorageRmParams)
        with reported(f"{params.path} could not be deleted"):
            try:
                deleted = await self.client.storage_delete(params.path)
            except ApiError as exc:
                if exc.code == "FILE_NOT_FOUND" and params.missing_ok:
                    return {"path": params.path, "deleted": False}
                raise
        return {"path": deleted.path, "deleted": deleted.deleted}
