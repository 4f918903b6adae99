"""Cluster SQL: signed membership records, node entries, the cluster id, and join tokens."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from agent.cluster.records import Node, Record
from agent.core.db import Database, Migration

MIGRATIONS = [
    Migration(
        "0001_membership",
        """
        CREATE TABLE members (
            node_id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            public_key TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            cert_pem TEXT NOT NULL,
            addresses TEXT NOT NULL,
            peer_port INTEGER NOT NULL,
            version TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('member', 'left', 'evicted')),
            rev INTEGER NOT NULL,
            joined_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            last_seen REAL NOT NULL DEFAULT 0
        );
        CREATE TABLE cluster_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE join_tokens (
            token_id TEXT PRIMARY KEY,
            secret_sha256 TEXT NOT NULL,
            created_at REAL NOT NULL,
            expires_at REAL NOT NULL,
            used_at REAL,
            used_by TEXT
        );
        """,
    ),
    # Membership becomes signed records plus self-signed node entries. The old unsigned
    # table cannot be certified, so it goes, and with it the cluster it described: the node
    # starts alone (its identity and data kept), signs its own entry at start, and joins
    # again with a token. Outstanding tokens were not bound to a cluster: they go too.
    Migration(
        "0002_signed_membership",
        """
        CREATE TABLE member_records (
            id TEXT PRIMARY KEY,
            cluster_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            node_id TEXT NOT NULL,
            body TEXT NOT NULL
        );
        CREATE TABLE member_nodes (
            node_id TEXT PRIMARY KEY,
            seq INTEGER NOT NULL,
            body TEXT NOT NULL,
            last_seen REAL NOT NULL DEFAULT 0
        );
        DROP TABLE members;
        DELETE FROM cluster_state WHERE key = 'cluster_id';
        DELETE FROM join_tokens;
        ALTER TABLE join_tokens ADD COLUMN cluster_id TEXT NOT NULL DEFAULT '';
        """,
    ),
]

MEMBER, LEFT, EVICTED = "member", "left", "evicted"


@dataclass(frozen=True)
class Member:
    """One node as this member sees it: its own signed entry plus the standing the records
    give it (member, left or evicted). Derived, never merged directly."""

    node_id: str
    name: str
    public_key: str
    fingerprint: str
    cert_pem: str
    addresses: tuple[str, ...]
    peer_port: int
    version: str
    status: str
    rev: int
    joined_at: float
    updated_at: float


class ClusterStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def migrate(self) -> None:
        await self.db.migrate("cluster", MIGRATIONS)

    async def records(self) -> list[dict[str, Any]]:
        rows = await self.db.fetchall("SELECT body FROM member_records ORDER BY rowid")
        return [json.loads(row["body"]) for row in rows]

    async def nodes(self) -> list[dict[str, Any]]:
        rows = await self.db.fetchall("SELECT body FROM member_nodes ORDER BY rowid")
        return [json.loads(row["body"]) for row in rows]

    async def save(self, records: list[Record], nodes: list[Node]) -> None:
        async with self.db.transaction() as conn:
            await conn.executemany(
                "INSERT OR IGNORE INTO member_records (id, cluster_id, kind, node_id, body)"
                " VALUES (?, ?, ?, ?, ?)",
                [
                    (r.id, r.body.cluster_id, r.body.kind, r.body.node_id, json.dumps(r.wire()))
                    for r in records
                ],
            )
            await conn.executemany(
                "INSERT INTO member_nodes (node_id, seq, body) VALUES (?, ?, ?)"
                " ON CONFLICT(node_id) DO UPDATE SET seq = excluded.seq, body = excluded.body",
                [(n.node_id, n.body.seq, json.dumps(n.wire())) for n in nodes],
            )

    async def drop_nodes(self, node_ids: list[str]) -> None:
        await self.db.executemany(
            "DELETE FROM member_nodes WHERE node_id = ?", [(n,) for n in node_ids]
        )

    async def reset(self, keep: str) -> None:
        """Forget the cluster: only this node's own entry remains, and no token works."""
        async with self.db.transaction() as conn:
            await conn.execute("DELETE FROM member_records")
            await conn.execute("DELETE FROM member_nodes WHERE node_id != ?", (keep,))
            await conn.execute("DELETE FROM cluster_state WHERE key = 'cluster_id'")
            await conn.execute("DELETE FROM join_tokens WHERE used_at IS NULL")

    async def save_last_seen(self, seen: dict[str, float]) -> None:
        await self.db.executemany(
            "UPDATE member_nodes SET last_seen = ? WHERE node_id = ?",
            [(ts, node_id) for node_id, ts in seen.items()],
        )

    async def last_seen(self) -> dict[str, float]:
        rows = await self.db.fetchall("SELECT node_id, last_seen FROM member_nodes")
        return {row["node_id"]: row["last_seen"] for row in rows}

    async def cluster_id(self) -> str | None:
        row = await self.db.fetchone("SELECT value FROM cluster_state WHERE key = 'cluster_id'")
        return row["value"] if row else None

    async def adopt(self, cluster_id: str, keep: str) -> None:
        """Become part of `cluster_id`: another cluster's records and tokens are void here."""
        async with self.db.transaction() as conn:
            await conn.execute("DELETE FROM member_records WHERE cluster_id != ?", (cluster_id,))
            await conn.execute("DELETE FROM member_nodes WHERE node_id != ?", (keep,))
            await conn.execute(
                "DELETE FROM join_tokens WHERE used_at IS NULL AND cluster_id != ?",
                (cluster_id,),
            )
            await conn.execute(
                "INSERT INTO cluster_state (key, value) VALUES ('cluster_id', ?)"
                " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (cluster_id,),
            )

    async def add_token(
        self,
        token_id: str,
        secret_sha256: str,
        cluster_id: str,
        created_at: float,
        expires_at: float,
    ) -> None:
        await self.db.execute(
            "INSERT INTO join_tokens (token_id, secret_sha256, cluster_id, created_at,"
            " expires_at) VALUES (?, ?, ?, ?, ?)",
            (token_id, secret_sha256, cluster_id, created_at, expires_at),
        )

    async def token(self, token_id: str) -> dict[str, Any] | None:
        row = await self.db.fetchone("SELECT * FROM join_tokens WHERE token_id = ?", (token_id,))
        return dict(row) if row else None

    async def consume_token(
        self, token_id: str, secret_sha256: str, cluster_id: str, node_id: str, now: float
    ) -> bool:
        """Mark the token used, atomically; False if it is unknown, wrong, used, expired or
        issued for another cluster than `cluster_id`."""
        changed = await self.db.execute(
            "UPDATE join_tokens SET used_at = ?, used_by = ? WHERE token_id = ?"
            " AND secret_sha256 = ? AND cluster_id = ? AND used_at IS NULL AND expires_at > ?",
            (now, node_id, token_id, secret_sha256, cluster_id, now),
        )
        return changed == 1

    async def prune_tokens(self, before: float) -> None:
        await self.db.execute("DELETE FROM join_tokens WHERE expires_at < ?", (before,))
