"""Request bodies of the storage peer routes, validated before anything is stored.

A member can sign any body, so every field a push carries is bounded here: paths must already
be canonical (`paths.normalize`), digests and node ids have their one form, sizes and stamps
are finite and below 2^53 (exact in every JSON implementation), and a manifest's chunk list
must be exactly as long as its size says. What needs this node's state (its clock, its member
list) is judged later, in `Replicator.merge`. These bodies check against this node's code
(paths, chunks, manifests), so they live apart from the answer models in `models`, which the
SDK imports.
"""

from __future__ import annotations

import math
import re
from typing import Annotated

from pydantic import AfterValidator, Field, model_validator

from agent.core.wire import StrictModel
from agent.storage.blocks import CHUNK_SIZE
from agent.storage.chunks import validate_digest
from agent.storage.manifest import Manifest
from agent.storage.paths import InvalidPath, normalize

MAX_EXACT = 2**53
# 200,000 chunks of 4 MiB (about 780 GiB) keep one manifest's chunk list (~13 MiB of JSON)
# inside the manifests route's body limit.
MAX_CHUNKS = 200_000
MAX_FILE_BYTES = MAX_CHUNKS * CHUNK_SIZE
MAX_MANIFESTS = 100_000
MAX_HOLDERS = 1_000_000
MAX_CHUNK_SIZE = 64 * 1024 * 1024
_NODE_ID = re.compile(r"[a-z2-7]{1,64}")


def _canonical_path(value: str) -> str:
    try:
        canonical = normalize(value)
    except InvalidPath as exc:
        raise ValueError(f"invalid storage path: {exc}") from None
    if canonical != value:
        # Members only ever send canonical paths; two spellings of one file would fork it.
        raise ValueError("storage path is not in canonical form")
    return value


def _node_id(value: str) -> str:
    if not _NODE_ID.fullmatch(value):
        raise ValueError("not a node id")
    return value


def _digest(value: str) -> str:
    validate_digest(value)
    return value


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


StoragePath = Annotated[str, Field(max_length=4096), AfterValidator(_canonical_path)]
NodeId = Annotated[str, Field(max_length=64), AfterValidator(_node_id)]
Digest = Annotated[str, Field(max_length=64), AfterValidator(_digest)]
Stamp = Annotated[float, AfterValidator(_finite), Field(ge=0, lt=MAX_EXACT)]
# JSON has no tuples: a pair arrives as a list, which strict mode would refuse.
HolderPair = Annotated[tuple[Digest, NodeId], Field(strict=False)]


class ManifestWire(StrictModel):
    path: StoragePath
    modified: Stamp
    writer: NodeId
    deleted: bool
    size: Annotated[int, Field(ge=0, lt=MAX_EXACT)]
    sha256: Annotated[str, Field(max_length=64)]
    chunk_size: Annotated[int, Field(ge=1, le=MAX_CHUNK_SIZE)]
    chunks: Annotated[list[Digest], Field(max_length=MAX_CHUNKS)]

    @model_validator(mode="after")
    def _consistent(self) -> ManifestWire:
        if self.deleted:
            if self.size or self.chunks or self.sha256:
                raise ValueError("a tombstone has no size, chunks or sha256")
            return self
        validate_digest(self.sha256)
        if len(self.chunks) != -(-self.size // self.chunk_size):
            raise ValueError("the chunk list does not match the file's size")
        return self

    def to_manifest(self) -> Manifest:
        return Manifest(
            path=self.path,
            modified=self.modified,
            writer=self.writer,
            deleted=self.deleted,
            size=self.size,
            sha256=self.sha256,
            chunk_size=self.chunk_size,
            chunks=tuple(self.chunks),
        )


class PushBody(StrictModel):
    """A push of manifests and holder records. `complete` marks a whole table (a sync
    snapshot): its sender's own holder records then replace what was known about it."""

    digest: Digest | None = None
    manifests: Annotated[list[ManifestWire], Field(max_length=MAX_MANIFESTS)] = []
    holders: Annotated[list[HolderPair], Field(max_length=MAX_HOLDERS)] = []
    complete: bool = False


class SyncBody(StrictModel):
    digest: Digest


class PinBody(StrictModel):
    """Chunks of an upload in progress that the sender asks this node to keep."""

    digests: Annotated[list[Digest], Field(max_length=MAX_CHUNKS)]
