"""Memory's SQL: fact versions, their vectors, and the queries that decide what a new claim
is (the active fact with the same text, the active facts with the same key).

A version is written whole, in one transaction with the versions it came with: a reader sees
a supersession (new fact and old fact's new version) entirely or not at all.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import aiosqlite

from agent.core.db import Database
from agent.memory.record import FactRecord
from agent.memory.schema import MIGRATIONS
from agent.memory.text import normalise

ACTIVE = "deleted = 0 AND superseded_by IS NULL"
_COLUMNS = (
    "id, modified, writer, deleted, cleared, text, key, tags, source, session_id, node_id,"
    " created_at, superseded_by, superseded_at"
)
_UPSERT = (
    "INSERT INTO memory_facts (id, modified, writer, deleted, cleared, text, norm, key, tags,"
    " source, session_id, node_id, created_at, superseded_by, superseded_at, vector, model)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET"
    " modified = excluded.modified, writer = excluded.writer, deleted = excluded.deleted,"
    " cleared = excluded.cleared, norm = excluded.norm, key = excluded.key, tags = excluded.tags,"
    " source = excluded.source, session_id = excluded.session_id, node_id = excluded.node_id,"
    " created_at = excluded.created_at, superseded_by = excluded.superseded_by,"
    " superseded_at = excluded.superseded_at,"
    # A vector belongs to its text: kept while the text stays, dropped when it changes.
    " vector = CASE WHEN memory_facts.text = excluded.text AND excluded.vector IS NULL"
    " THEN memory_facts.vector ELSE excluded.vector END,"
    " model = CASE WHEN memory_facts.text = excluded.text AND excluded.vector IS NULL"
    " THEN memory_facts.model ELSE excluded.model END,"
    " text = excluded.text"
)
Vector = tuple[bytes, str]


def _record(row: Any) -> FactRecord:
    return FactRecord(
        id=row["id"],
        modified=row["modified"],
        writer=row["writer"],
        deleted=bool(row["deleted"]),
        cleared=bool(row["cleared"]),
        text=row["text"],
        key=row["key"],
        tags=tuple(json.loads(row["tags"])),
        source=row["source"],
        session_id=row["session_id"],
        node_id=row["node_id"],
        created_at=row["created_at"],
        superseded_by=row["superseded_by"],
        superseded_at=row["superseded_at"],
    )


def _params(r: FactRecord, vector: Vector | None) -> tuple[Any, ...]:
    blob, model = vector if vector is not None else (None, None)
    return (
        r.id,
        r.modified,
        r.writer,
        int(r.deleted),
        int(r.cleared),
        r.text,
        normalise(r.text),
        r.key,
        json.dumps(list(r.tags)),
        r.source,
        r.session_id,
        r.node_id,
        r.created_at,
        r.superseded_by,
        r.superseded_at,
        blob,
        model,
    )


class MemoryStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def migrate(self) -> None:
        await self.db.migrate("memory", MIGRATIONS)

    async def stamps(self) -> list[tuple[str, float, str, bool]]:
        rows = await self.db.fetchall("SELECT id, modified, writer, deleted FROM memory_facts")
        return [(r[0], r[1], r[2], bool(r[3])) for r in rows]

    async def stamp_page(self, after: str, limit: int) -> list[tuple[str, float, str]]:
        rows = await self.db.fetchall(
            "SELECT id, modified, writer FROM memory_facts WHERE id > ? ORDER BY id LIMIT ?",
            (after, limit),
        )
        return [(r[0], r[1], r[2]) for r in rows]

    async def get(self, fact_id: str) -> FactRecord | None:
        row = await self.db.fetchone(
            f"SELECT {_COLUMNS} FROM memory_facts WHERE id = ?", (fact_id,)
        )
        return None if row is None else _record(row)

    async def get_many(self, ids: Iterable[str]) -> dict[str, FactRecord]:
        wanted = list(dict.fromkeys(ids))
        found: dict[str, FactRecord] = {}
        for start in range(0, len(wanted), 500):
            part = wanted[start : start + 500]
            marks = ",".join("?" * len(part))
            rows = await self.db.fetchall(
                f"SELECT {_COLUMNS} FROM memory_facts WHERE id IN ({marks})", part
            )
            found.update((r["id"], _record(r)) for r in rows)
        return found

    async def listing(self, include_superseded: bool) -> list[FactRecord]:
        where = "deleted = 0" if include_superseded else ACTIVE
        rows = await self.db.fetchall(
            f"SELECT {_COLUMNS} FROM memory_facts WHERE {where} ORDER BY created_at DESC, id"
        )
        return [_record(r) for r in rows]

    async def active_with_text(self, norm: str) -> list[FactRecord]:
        rows = await self.db.fetchall(
            f"SELECT {_COLUMNS} FROM memory_facts WHERE {ACTIVE} AND norm = ?", (norm,)
        )
        return [_record(r) for r in rows]

    async def active_with_key(self, key: str) -> list[FactRecord]:
        rows = await self.db.fetchall(
            f"SELECT {_COLUMNS} FROM memory_facts WHERE {ACTIVE} AND key = ?", (key,)
        )
        return [_record(r) for r in rows]

    async def live_ids(self) -> list[str]:
        rows = await self.db.fetchall("SELECT id FROM memory_facts WHERE deleted = 0")
        return [r[0] for r in rows]

    async def write(self, records: Sequence[FactRecord], vectors: dict[str, Vector]) -> None:
        """Store these versions as they are (this node's own changes), in one transaction."""
        async with self.db.transaction() as conn:
            await conn.executemany(_UPSERT, [_params(r, vectors.get(r.id)) for r in records])

    async def write_if_newer(
        self, records: Sequence[FactRecord]
    ) -> list[tuple[FactRecord, FactRecord | None]]:
        """Store each version unless a newer one of its fact is stored; answers (taken, the
        version it replaced) for each taken."""
        taken: list[tuple[FactRecord, FactRecord | None]] = []
        async with self.db.transaction() as conn:
            for record in records:
                old = await _get(conn, record.id)
                if record.newer_than(old):
                    await conn.execute(_UPSERT, _params(record, None))
                    taken.append((record, old))
        return taken

    # -- vectors --

    async def vectors(self, model: str) -> list[tuple[str, bytes]]:
        rows = await self.db.fetchall(
            f"SELECT id, vector FROM memory_facts WHERE {ACTIVE} AND model = ?", (model,)
        )
        return [(r[0], bytes(r[1])) for r in rows]

    async def unembedded(self, model: str, limit: int) -> list[tuple[str, str]]:
        """Active facts without a vector of `model`: (id, text)."""
        rows = await self.db.fetchall(
            f"SELECT id, text FROM memory_facts WHERE {ACTIVE}"
            " AND (model IS NULL OR model != ?) LIMIT ?",
            (model, limit),
        )
        return [(r[0], r[1]) for r in rows]

    async def set_vectors(self, found: Sequence[tuple[str, str, bytes]], model: str) -> list[str]:
        """Store vectors of (id, text it was computed from); answers the ids whose text was
        still that text (and the fact still active)."""
        stored: list[str] = []
        async with self.db.transaction() as conn:
            for fact_id, text, blob in found:
                cursor = await conn.execute(
                    f"UPDATE memory_facts SET vector = ?, model = ? WHERE id = ? AND text = ?"
                    f" AND {ACTIVE}",
                    (blob, model, fact_id, text),
                )
                if cursor.rowcount:
                    stored.append(fact_id)
        return stored

    async def clear_vectors(self, ids: Sequence[str]) -> None:
        await self.db.executemany(
            "UPDATE memory_facts SET vector = NULL, model = NULL WHERE id = ?", [(i,) for i in ids]
        )

    async def purge_tombstones(self, before: float) -> list[str]:
        async with self.db.transaction() as conn:
            async with conn.execute(
                "SELECT id FROM memory_facts WHERE deleted = 1 AND modified < ?", (before,)
            ) as cursor:
                ids = [r[0] for r in await cursor.fetchall()]
            await conn.execute(
                "DELETE FROM memory_facts WHERE deleted = 1 AND modified < ?", (before,)
            )
        return ids


async def _get(conn: aiosqlite.Connection, fact_id: str) -> FactRecord | None:
    async with conn.execute(
        f"SELECT {_COLUMNS} FROM memory_facts WHERE id = ?", (fact_id,)
    ) as cursor:
        row = await cursor.fetchone()
    return None if row is None else _record(row)
