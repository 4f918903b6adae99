"""Topics the storage subsystem publishes. Files are named by their canonical path, chunks by
their sha256 digest."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from agent.core.events import Topic
from agent.core.wire import Answer

PATH = "The file's canonical path"


class FileUploaded(Answer):
    path: str = Field(description=PATH)
    size: int = Field(description="Bytes")
    sha256: str = Field(description="Of the whole file")


class FileDeleted(Answer):
    path: str = Field(description=PATH)


class FileHealthChanged(Answer):
    path: str = Field(description=PATH)


SYNCED_PATHS = 20


class FilesSynced(Answer):
    """What one exchange with another member brought: newer versions or deletions."""

    sender: str = Field(description="The member whose manifests were taken")
    count: int = Field(description="Files changed here by the exchange")
    paths: list[str] = Field(description=f"Up to {SYNCED_PATHS} of their canonical paths")


class ChunkRepaired(Answer):
    chunk: str = Field(description="Digest of the chunk restored on this node")


class ChunkReplicated(Answer):
    chunk: str = Field(description="Digest of the chunk copied")
    node_id: str = Field(description="The member that received the copy")
    path: str = Field(description="A file the chunk belongs to")


STORAGE_UPLOADED = Topic(
    "storage.uploaded",
    FileUploaded,
    "A file was stored (new, or a new version of its path), on the node that received it.",
)
STORAGE_DELETED = Topic(
    "storage.deleted", FileDeleted, "A file was deleted, on the node that was asked to."
)
STORAGE_DEGRADED = Topic(
    "storage.degraded",
    FileHealthChanged,
    "A file has a chunk with fewer online copies than the wanted replicas (each node "
    "publishes it as it sees the cluster, from its maintenance pass).",
)
STORAGE_HEALTHY = Topic(
    "storage.healthy",
    FileHealthChanged,
    "A degraded file no longer is: all its replicas are online again, or it was deleted.",
)
STORAGE_REPAIRED = Topic(
    "storage.repaired",
    ChunkRepaired,
    "A chunk this node holds, found corrupt or missing here, was restored from a replica.",
)
STORAGE_REPLICATED = Topic(
    "storage.replicated",
    ChunkReplicated,
    "A chunk short of replicas was copied to another member (by the one holder that heals it).",
)

STORAGE_SYNCED = Topic(
    "storage.synced",
    FilesSynced,
    "Files written or deleted on other members reached this node (one event per exchange "
    "that changed anything; `storage.uploaded` and `storage.deleted` come from the node that "
    "was asked).",
)

TOPICS: tuple[Topic[Any], ...] = (
    STORAGE_UPLOADED,
    STORAGE_DELETED,
    STORAGE_DEGRADED,
    STORAGE_HEALTHY,
    STORAGE_REPAIRED,
    STORAGE_REPLICATED,
    STORAGE_SYNCED,
)
