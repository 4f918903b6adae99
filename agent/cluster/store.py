"""Cluster SQL: the known nodes of this cluster, this node included."""

from __future__ import annotations

from dataclasses import dataclass

from agent.core.db import Database, Migration

MIGRATIONS = [
    Migration(
        "0001_nodes",
        """
        CREATE TABLE nodes (
            node_id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            public_key TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            address TEXT NOT NULL DEFAULT '',
            peer_port INTEGER NOT NULL DEFAULT 0,
            version TEXT NOT NULL DEFAULT '',
            joined_at REAL NOT NULL,
            last_seen REAL NOT NULL
        );
        """,
    ),
]


@dataclass(frozen=True)
class NodeRecord:
    node_id: str
    name: str
    public_key: str
    fingerprint: str
    address: str
    peer_port: int
    version: str
    joined_at: float
    last_seen: float


class ClusterStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def migrate(self) -> None:
        await self.db.migrate("cluster", MIGRATIONS)

    async def upsert(self, node: NodeRecord) -> None:
        await self.db.execute(
            "INSERT INTO nodes (node_id, name, public_key, fingerprint, address, peer_port,"
            " version, joined_at, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT(node_id) DO UPDATE SET name = excluded.name,"
            " public_key = excluded.public_key, fingerprint = excluded.fingerprint,"
            " address = excluded.address, peer_port = excluded.peer_port,"
            " version = excluded.version, last_seen = excluded.last_seen",
            (
                node.node_id,
                node.name,
                node.public_key,
                node.fingerprint,
                node.address,
                node.peer_port,
                node.version,
                node.joined_at,
                node.last_seen,
            ),
        )

    async def all(self) -> list[NodeRecord]:
        rows = await self.db.fetchall("SELECT * FROM nodes ORDER BY joined_at, node_id")
        return [NodeRecord(**dict(row)) for row in rows]

    async def get(self, node_id: str) -> NodeRecord | None:
        row = await self.db.fetchone("SELECT * FROM nodes WHERE node_id = ?", (node_id,))
        return NodeRecord(**dict(row)) if row else None
