"""A stored file's manifest, and which version of a path wins.

Every write of a path (upload, overwrite, delete) makes a new manifest version stamped
(`modified`, `writer` node id). Members converge on the greatest stamp: last writer wins, ties
broken by node id. A delete is a manifest too (a tombstone, `deleted`), so an older copy of
the file arriving later can never bring it back. What members push is validated as
`requests.ManifestWire` before it becomes a `Manifest`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Manifest:
    path: str
    modified: float
    writer: str
    deleted: bool
    size: int
    sha256: str
    chunk_size: int
    chunks: tuple[str, ...]

    @property
    def stamp(self) -> tuple[float, str]:
        return (self.modified, self.writer)

    def supersedes(self, other: Manifest | None) -> bool:
        return other is None or self.stamp > other.stamp

    def as_wire(self) -> dict[str, Any]:
        data = asdict(self)
        data["chunks"] = list(self.chunks)
        return data
