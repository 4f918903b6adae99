"""What the storage routes answer: stored files, listings and deletions.

Downloads answer the file's bytes and have no model here. The peer routes' request bodies
are in `requests`: they validate against this node's code, which the SDK must not load.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from agent.core.wire import Answer

StorageHealth = Literal["healthy", "degraded", "unavailable"]


class StoredFile(Answer):
    """A file in the shared storage, and where its data is."""

    path: str = Field(description="Canonical: relative, '/'-separated, NFC")
    size: int = Field(description="Bytes")
    sha256: str = Field(description="Of the whole file; also its download's ETag")
    modified: float = Field(description="When this version was stored (Unix seconds)")
    writer: str = Field(description="The node that stored this version")
    chunks: int = Field(description="How many chunks the file is cut into")
    nodes: list[str] = Field(description="Every node holding at least one of its chunks, sorted")
    health: StorageHealth = Field(
        description="healthy: every chunk has all its replicas online; degraded: each has at "
        "least one online; unavailable: some chunk has none"
    )


class StorageListing(Answer):
    files: list[StoredFile] = Field(description="Sorted by path")
    count: int


class StorageDeleted(Answer):
    path: str = Field(description="The canonical path of the file deleted")
    deleted: bool
