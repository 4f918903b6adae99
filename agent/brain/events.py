"""Topics the brain publishes, on the node whose index changed."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from agent.brain.models import ReindexProgress
from agent.core.events import Topic
from agent.core.wire import Answer


class FileIndexed(Answer):
    path: str = Field(description="Absolute path of the file")
    content_hash: str = Field(description="SHA-256 of its bytes")
    chunks: int = Field(description="Its chunks now in the index")
    embedded: int = Field(description="Of those, encoded by the model now")
    reused: int = Field(description="Of those, whose text was already embedded")


class FileRemoved(Answer):
    path: str
    content_hash: str
    chunks: int = Field(description="Chunks that left the index")
    why: str = Field(description="deleted, moved, skipped, forgotten, or source_removed")


BRAIN_INDEXED = Topic(
    "brain.indexed", FileIndexed, "A file was indexed (new, or its content changed)."
)
BRAIN_REMOVED = Topic(
    "brain.removed", FileRemoved, "A file's chunks left the index: nothing of it is found."
)
BRAIN_REINDEX = Topic(
    "brain.reindex.progress",
    ReindexProgress,
    "How a scan of the sources is going (about twice a second, and once when done).",
    replay=False,
)

TOPICS: tuple[Topic[Any], ...] = (BRAIN_INDEXED, BRAIN_REMOVED, BRAIN_REINDEX)
