"""Cluster SQL: members (this node included), the cluster id, and join tokens."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from typing import Any

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
]

MEMBER, LEFT, EVICTED = "member", "left", "evicted"
_STATUS_RANK = {MEMBER: 0, LEFT: 1, EVICTED: 2}


@dataclass(frozen=True)
class Member:
    """One node's membership entry. The entry with the higher `rev` wins a merge; on equal
    revs the more final status wins (evicted > left > member), so every member converges to
    the same table whatever order changes arrive in."""

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

    def supersedes(self, other: Member) -> bool:
        if self.rev != other.rev:
            return self.rev > other.rev
        return _STATUS_RANK[self.status] > _STATUS_RANK[other.status]

    def bumped(self, now: float, **changes: Any) -> Member:
        return replace(self, rev=self.rev + 1, updated_at=now, **changes)

    def as_wire(self) -> dict[str, Any]:
        data = asdict(self)
        data["addresses"] = list(self.addresses)
        return data

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> Member:
        fields = {k: data[k] for k in cls.__dataclass_fields__}
        fields["addresses"] = tuple(str(a) for a in fields["addresses"])
        if fields["status"] not in _STATUS_RANK:
            raise ValueError(f"unknown member status {fields['status']!r}")
        return cls(**fields)


class ClusterStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def migrate(self) -> None:
        await self.db.migrate("cluster", MIGRATIONS)

    async def members(self) -> list[Member]:
        rows = await self.db.fetchall("SELECT * FROM members ORDER BY joined_at, node_id")
        return [_member(dict(row)) for row in rows]

    async def save(self, members: list[Member]) -> None:
        async with self.db.transaction() as conn:
            await conn.executemany(
                "INSERT INTO members (node_id, name, public_key, fingerprint, cert_pem,"
                " addresses, peer_port, version, status, rev, joined_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT(node_id) DO UPDATE SET name = excluded.name,"
                " public_key = excluded.public_key, fingerprint = excluded.fingerprint,"
                " cert_pem = excluded.cert_pem, addresses = excluded.addresses,"
                " peer_port = excluded.peer_port, version = excluded.version,"
                " status = excluded.status, rev = excluded.rev,"
                " joined_at = excluded.joined_at, updated_at = excluded.updated_at",
                [
                    (
                        m.node_id,
                        m.name,
                        m.public_key,
                        m.fingerprint,
                        m.cert_pem,
                        json.dumps(list(m.addresses)),
                        m.peer_port,
                        m.version,
                        m.status,
                        m.rev,
                        m.joined_at,
                        m.updated_at,
                    )
                    for m in members
                ],
            )

    async def reset(self, keep: Member) -> None:
        """Forget the cluster: only this node's own entry remains."""
        async with self.db.transaction() as conn:
            await conn.execute("DELETE FROM members WHERE node_id != ?", (keep.node_id,))
            await conn.execute("DELETE FROM cluster_state WHERE key = 'cluster_id'")
        await self.save([keep])

    async def save_last_seen(self, seen: dict[str, float]) -> None:
        await self.db.executemany(
            "UPDATE members SET last_seen = ? WHERE node_id = ?",
            [(ts, node_id) for node_id, ts in seen.items()],
        )

    async def last_seen(self) -> dict[str, float]:
        rows = await self.db.fetchall("SELECT node_id, last_seen FROM members")
        return {row["node_id"]: row["last_seen"] for row in rows}

    async def cluster_id(self) -> str | None:
        row = await self.db.fetchone("SELECT value FROM cluster_state WHERE key = 'cluster_id'")
        return row["value"] if row else None

    async def set_cluster_id(self, cluster_id: str) -> None:
        await self.db.execute(
            "INSERT INTO cluster_state (key, value) VALUES ('cluster_id', ?)"
            " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (cluster_id,),
        )

    async def add_token(
        self, token_id: str, secret_sha256: str, created_at: float, expires_at: float
    ) -> None:
        await self.db.execute(
            "INSERT INTO join_tokens (token_id, secret_sha256, created_at, expires_at)"
            " VALUES (?, ?, ?, ?)",
            (token_id, secret_sha256, created_at, expires_at),
        )

    async def token(self, token_id: str) -> dict[str, Any] | None:
        row = await self.db.fetchone("SELECT * FROM join_tokens WHERE token_id = ?", (token_id,))
        return dict(row) if row else None

    async def consume_token(
        self, token_id: str, secret_sha256: str, node_id: str, now: float
    ) -> bool:
        """Mark the token used, atomically; False if it is unknown, wrong, used or expired."""
        changed = await self.db.execute(
            "UPDATE join_tokens SET used_at = ?, used_by = ? WHERE token_id = ?"
            " AND secret_sha256 = ? AND used_at IS NULL AND expires_at > ?",
            (now, node_id, token_id, secret_sha256, now),
        )
        return changed == 1

    async def prune_tokens(self, before: float) -> None:
        await self.db.execute("DELETE FROM join_tokens WHERE expires_at < ?", (before,))


def _member(row: dict[str, Any]) -> Member:
    row.pop("last_seen", None)
    row["addresses"] = tuple(json.loads(row["addresses"]))
    return Member(**row)
