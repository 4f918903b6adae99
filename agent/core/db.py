"""SQLite through aiosqlite: WAL, one writer, named migrations.

Writes go through `transaction()`, which holds the single writer lock for the whole
transaction, so concurrent writers queue instead of failing with SQLITE_BUSY and a kill at
any moment leaves either the whole transaction or none of it. Reads use a second connection
and never wait for writers (WAL).

Migrations are named and ordered per subsystem; each runs once, in its own transaction, and
is recorded in `schema_migrations`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosqlite
import anyio

Row = aiosqlite.Row


@dataclass(frozen=True)
class Migration:
    name: str
    sql: str


class Database:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._write_lock = asyncio.Lock()

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = await self._connect()
        await self._writer.execute("PRAGMA journal_mode=WAL")
        await self._writer.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " subsystem TEXT NOT NULL, name TEXT NOT NULL, applied_at REAL NOT NULL,"
            " PRIMARY KEY (subsystem, name))"
        )
        await self._writer.commit()
        self._reader = await self._connect()
        await self._reader.execute("PRAGMA query_only=ON")

    async def _connect(self) -> aiosqlite.Connection:
        conn = await aiosqlite.connect(self.path, isolation_level=None)
        conn.row_factory = aiosqlite.Row
        await conn.execute("PRAGMA busy_timeout=5000")
        await conn.execute("PRAGMA synchronous=NORMAL")
        await conn.execute("PRAGMA foreign_keys=ON")
        return conn

    async def close(self) -> None:
        for conn in (self._reader, self._writer):
            if conn is not None:
                await conn.close()
        self._reader = self._writer = None

    @property
    def is_open(self) -> bool:
        return self._writer is not None

    def _require(self, conn: aiosqlite.Connection | None) -> aiosqlite.Connection:
        if conn is None:
            raise RuntimeError("database is not open")
        return conn

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        conn = self._require(self._writer)
        async with self._write_lock:
            await conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                # Shielded: a cancelled caller must still end the transaction, or the writer
                # stays inside it and every later BEGIN fails.
                with anyio.CancelScope(shield=True):
                    await conn.execute("ROLLBACK")
                raise
            else:
                with anyio.CancelScope(shield=True):
                    await conn.execute("COMMIT")

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one write statement; answers the affected row count.

        A single statement is atomic on its own (autocommit), so it skips BEGIN/COMMIT: one
        round trip to the database thread instead of three.
        """
        conn = self._require(self._writer)
        async with self._write_lock:
            cursor = await conn.execute(sql, params)
            return cursor.rowcount

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        async with self.transaction() as conn:
            await conn.executemany(sql, rows)

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        conn = self._require(self._reader)
        async with conn.execute(sql, params) as cursor:
            return list(await cursor.fetchall())

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        conn = self._require(self._reader)
        async with conn.execute(sql, params) as cursor:
            return await cursor.fetchone()

    async def migrate(self, subsystem: str, migrations: Sequence[Migration]) -> list[str]:
        """Apply the subsystem's migrations not yet applied, in order; answers their names."""
        names = [m.name for m in migrations]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate migration names for {subsystem}: {names}")
        rows = await self.fetchall(
            "SELECT name FROM schema_migrations WHERE subsystem = ?", (subsystem,)
        )
        done = {row["name"] for row in rows}
        applied: list[str] = []
        for migration in migrations:
            if migration.name in done:
                continue
            async with self.transaction() as conn:
                for statement in _statements(migration.sql):
                    await conn.execute(statement)
                await conn.execute(
                    "INSERT INTO schema_migrations (subsystem, name, applied_at)"
                    " VALUES (?, ?, julianday('now'))",
                    (subsystem, migration.name),
                )
            applied.append(migration.name)
        return applied

    async def applied_migrations(self) -> list[tuple[str, str]]:
        rows = await self.fetchall(
            "SELECT subsystem, name FROM schema_migrations ORDER BY applied_at, rowid"
        )
        return [(row["subsystem"], row["name"]) for row in rows]


def _statements(script: str) -> list[str]:
    """Split a migration script into complete statements (executescript would commit)."""
    import sqlite3

    statements: list[str] = []
    current = ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            if current.strip():
                statements.append(current.strip())
            current = ""
    if current.strip():
        raise ValueError(f"incomplete SQL statement in migration: {current.strip()[:80]}")
    return statements
