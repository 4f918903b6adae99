"""Storage SQL: manifests (live files and tombstones) and which nodes hold which chunks."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from agent.core.db import Database, Migration
from agent.storage.manifest import Manifest

MIGRATIONS = [
    Migration(
        "0001_storage",
        """
        CREATE TABLE manifests (
            path TEXT PRIMARY KEY,
            modified REAL NOT NULL,
            writer TEXT NOT NULL,
            deleted INTEGER NOT NULL,
            size INTEGER NOT NULL,
            sha256 TEXT NOT NULL,
            chunk_size INTEGER NOT NULL,
            chunks TEXT NOT NULL
        );
        CREATE TABLE chunk_holders (
            digest TEXT NOT NULL,
            node_id TEXT NOT NULL,
            PRIMARY KEY (digest, node_id)
        );
        CREATE INDEX chunk_holders_by_node ON chunk_holders (node_id);
        """,
    ),
]


def _manifest(row: Any) -> Manifest:
    data = dict(row)
    data["deleted"] = bool(data["deleted"])
    data["chunks"] = tuple(json.loads(data["chunks"]))
    return Manifest(**data)


class StorageStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def migrate(self) -> None:
        await self.db.migrate("storage", MIGRATIONS)

    async def get(self, path: str) -> Manifest | None:
        row = await self.db.fetchone("SELECT * FROM manifests WHERE path = ?", (path,))
        return _manifest(row) if row else None

    async def all(self, include_deleted: bool = True) -> list[Manifest]:
        where = "" if include_deleted else "WHERE deleted = 0"
        rows = await self.db.fetchall(f"SELECT * FROM manifests {where} ORDER BY path")
        return [_manifest(r) for r in rows]

    async def listing(self, prefix: str) -> list[Manifest]:
        if not prefix:
            return await self.all(include_deleted=False)
        # substr, not LIKE: no wildcard escaping to get wrong.
        rows = await self.db.fetchall(
            "SELECT * FROM manifests WHERE deleted = 0 AND (path = ? OR substr(path, 1, ?) = ?)"
            " ORDER BY path",
            (prefix, len(prefix) + 1, prefix + "/"),
        )
        return [_manifest(r) for r in rows]

    async def save_if_newer(self, manifest: Manifest) -> bool:
        """Store the manifest unless a newer version of its path is stored (atomically)."""
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "SELECT modified, writer FROM manifests WHERE path = ?", (manifest.path,)
            )
            row = await cursor.fetchone()
            if row is not None and (row[0], row[1]) >= manifest.stamp:
                return False
            await conn.execute(
                "INSERT OR REPLACE INTO manifests (path, modified, writer, deleted, size, sha256,"
                " chunk_size, chunks) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    manifest.path,
                    manifest.modified,
                    manifest.writer,
                    int(manifest.deleted),
                    manifest.size,
                    manifest.sha256,
                    manifest.chunk_size,
                    json.dumps(list(manifest.chunks)),
                ),
            )
            return True

    async def holders(self, digest: str) -> set[str]:
        rows = await self.db.fetchall(
            "SELECT node_id FROM chunk_holders WHERE digest = ?", (digest,)
        )
        return {r["node_id"] for r in rows}

    async def holders_of(self, digests: Iterable[str]) -> dict[str, set[str]]:
        wanted = list(dict.fromkeys(digests))
        found: dict[str, set[str]] = {d: set() for d in wanted}
        for start in range(0, len(wanted), 500):
            batch = wanted[start : start + 500]
            marks = ", ".join("?" for _ in batch)
            rows = await self.db.fetchall(
                f"SELECT digest, node_id FROM chunk_holders WHERE digest IN ({marks})", batch
            )
            for row in rows:
                found[row["digest"]].add(row["node_id"])
        return found

    async def add_holders(self, pairs: Iterable[tuple[str, str]]) -> None:
        await self.db.executemany(
            "INSERT OR IGNORE INTO chunk_holders (digest, node_id) VALUES (?, ?)", list(pairs)
        )

    async def remove_holder(self, node_id: str, digest: str | None = None) -> None:
        if digest is None:
            await self.db.execute("DELETE FROM chunk_holders WHERE node_id = ?", (node_id,))
        else:
            await self.db.execute(
                "DELETE FROM chunk_holders WHERE node_id = ? AND digest = ?", (node_id, digest)
            )

    async def held_by(self, node_id: str) -> set[str]:
        rows = await self.db.fetchall(
            "SELECT digest FROM chunk_holders WHERE node_id = ?", (node_id,)
        )
        return {r["digest"] for r in rows}

    async def remove_holdings(self, node_id: str, digests: Iterable[str]) -> None:
        await self.db.executemany(
            "DELETE FROM chunk_holders WHERE node_id = ? AND digest = ?",
            [(node_id, d) for d in digests],
        )

    async def replace_holdings(self, node_id: str, digests: Iterable[str]) -> None:
        """What `node_id` holds is exactly `digests` (its own report), atomically."""
        async with self.db.transaction() as conn:
            await conn.execute("DELETE FROM chunk_holders WHERE node_id = ?", (node_id,))
            await conn.executemany(
                "INSERT OR IGNORE INTO chunk_holders (digest, node_id) VALUES (?, ?)",
                [(d, node_id) for d in digests],
            )

    async def all_holders(self) -> list[tuple[str, str]]:
        rows = await self.db.fetchall("SELECT digest, node_id FROM chunk_holders")
        return [(r["digest"], r["node_id"]) for r in rows]

    async def referenced(self) -> set[str]:
        """Every chunk some live file still needs."""
        rows = await self.db.fetchall("SELECT chunks FROM manifests WHERE deleted = 0")
        return {d for r in rows for d in json.loads(r["chunks"])}
