"""The brain's SQL: indexed files, their chunks (text, place and vector), the lexical index
(FTS5, kept by triggers), skipped files and a few settings of the index itself.

Chunk ids are the vector index's labels and are never reused (AUTOINCREMENT), so an id the
index still holds after a crash can only name a chunk that is gone. A file's chunks are
replaced in one transaction: a search sees the old version or the new one, never a mix.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import aiosqlite

from agent.brain.schema import MIGRATIONS
from agent.core.db import Database

KEPT_VECTORS = 4096


@dataclass(frozen=True, slots=True)
class FileState:
    content_hash: str
    size: int
    mtime_ns: int
    skipped: bool


@dataclass(frozen=True, slots=True)
class NewChunk:
    text_hash: str
    start_line: int
    end_line: int
    heading: tuple[str, ...]
    text: str
    vector: bytes


@dataclass(frozen=True, slots=True)
class StoredChunk:
    id: int
    path: str
    content_hash: str
    start_line: int
    end_line: int
    heading: tuple[str, ...]
    text: str


@dataclass(frozen=True, slots=True)
class Removed:
    path: str
    content_hash: str
    ids: list[int]
    # (text hash, vector) of some of its chunks, for a move that brings them back.
    vectors: list[tuple[str, bytes]]


def _heading(raw: str) -> tuple[str, ...]:
    return tuple(json.loads(raw))


def _under(prefix: str) -> tuple[str, str]:
    """LIKE-free prefix match on whole path segments: (exact, lower bound of children)."""
    root = prefix.rstrip("/")
    return root, root + "/"


class BrainStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def migrate(self) -> None:
        await self.db.migrate("brain", MIGRATIONS)

    # -- settings of the index --

    async def meta(self, key: str) -> str | None:
        row = await self.db.fetchone("SELECT value FROM brain_meta WHERE key = ?", (key,))
        return None if row is None else str(row["value"])

    async def set_meta(self, key: str, value: str) -> None:
        await self.db.execute(
            "INSERT INTO brain_meta (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    async def delete_meta(self, key: str) -> None:
        await self.db.execute("DELETE FROM brain_meta WHERE key = ?", (key,))

    # -- files --

    async def state(self, path: str) -> FileState | None:
        row = await self.db.fetchone(
            "SELECT content_hash, size, mtime_ns FROM brain_files WHERE path = ?", (path,)
        )
        if row is not None:
            return FileState(row["content_hash"], row["size"], row["mtime_ns"], False)
        row = await self.db.fetchone(
            "SELECT size, mtime_ns FROM brain_skipped WHERE path = ?", (path,)
        )
        return None if row is None else FileState("", row["size"], row["mtime_ns"], True)

    async def touch(self, path: str, size: int, mtime_ns: int) -> None:
        await self.db.execute(
            "UPDATE brain_files SET size = ?, mtime_ns = ? WHERE path = ?", (size, mtime_ns, path)
        )

    async def vectors_by_text(self, text_hashes: Iterable[str]) -> dict[str, bytes]:
        """Stored vectors of chunks with these texts (any file): they need no encoding."""
        found: dict[str, bytes] = {}
        wanted = list(dict.fromkeys(text_hashes))
        for start in range(0, len(wanted), 500):
            part = wanted[start : start + 500]
            marks = ",".join("?" * len(part))
            rows = await self.db.fetchall(
                "SELECT text_hash, vector FROM brain_chunks"
                f" WHERE text_hash IN ({marks}) GROUP BY text_hash",
                part,
            )
            found.update({r["text_hash"]: bytes(r["vector"]) for r in rows})
        return found

    async def replace_file(
        self,
        path: str,
        *,
        content_hash: str,
        size: int,
        mtime_ns: int,
        kind: str,
        chunks: Sequence[NewChunk],
        at: float,
    ) -> tuple[list[int], list[int]]:
        """The file's chunks become `chunks`; answers (ids removed, ids added)."""
        async with self.db.transaction() as conn:
            async with conn.execute("SELECT id FROM brain_chunks WHERE path = ?", (path,)) as cur:
                old = [int(r[0]) for r in await cur.fetchall()]
            await conn.execute("DELETE FROM brain_chunks WHERE path = ?", (path,))
            await conn.execute("DELETE FROM brain_skipped WHERE path = ?", (path,))
            new: list[int] = []
            for ordinal, c in enumerate(chunks):
                cursor = await conn.execute(
                    "INSERT INTO brain_chunks (path, ordinal, text_hash, start_line, end_line,"
                    " heading, text, vector) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        path,
                        ordinal,
                        c.text_hash,
                        c.start_line,
                        c.end_line,
                        json.dumps(list(c.heading)),
                        c.text,
                        c.vector,
                    ),
                )
                assert cursor.lastrowid is not None
                new.append(cursor.lastrowid)
            await conn.execute(
                "INSERT INTO brain_files (path, content_hash, size, mtime_ns, kind, chunks,"
                " indexed_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (path) DO UPDATE SET"
                " content_hash = excluded.content_hash, size = excluded.size,"
                " mtime_ns = excluded.mtime_ns, kind = excluded.kind, chunks = excluded.chunks,"
                " indexed_at = excluded.indexed_at",
                (path, content_hash, size, mtime_ns, kind, len(chunks), at),
            )
        return old, new

    async def skip_file(
        self, path: str, reason: str, detail: str, size: int, mtime_ns: int
    ) -> Removed | None:
        """Record the file as skipped; answers what of it left the index, if anything."""
        async with self.db.transaction() as conn:
            removed = await self._remove(conn, [path])
            await conn.execute(
                "INSERT INTO brain_skipped (path, reason, detail, size, mtime_ns)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (path) DO UPDATE SET"
                " reason = excluded.reason, detail = excluded.detail, size = excluded.size,"
                " mtime_ns = excluded.mtime_ns",
                (path, reason, detail[:500], size, mtime_ns),
            )
        return removed[0] if removed else None

    async def remove(self, paths: Sequence[str]) -> list[Removed]:
        async with self.db.transaction() as conn:
            return await self._remove(conn, paths)

    async def _remove(self, conn: aiosqlite.Connection, paths: Sequence[str]) -> list[Removed]:
        removed: list[Removed] = []
        for path in paths:
            async with conn.execute(
                "SELECT content_hash FROM brain_files WHERE path = ?", (path,)
            ) as cursor:
                row = await cursor.fetchone()
            async with conn.execute(
                "SELECT id, text_hash, vector FROM brain_chunks WHERE path = ?", (path,)
            ) as cursor:
                rows = list(await cursor.fetchall())
            await conn.execute("DELETE FROM brain_chunks WHERE path = ?", (path,))
            await conn.execute("DELETE FROM brain_files WHERE path = ?", (path,))
            await conn.execute("DELETE FROM brain_skipped WHERE path = ?", (path,))
            if row is not None:
                ids = [int(r[0]) for r in rows]
                vectors = [(str(r[1]), bytes(r[2])) for r in rows[:KEPT_VECTORS]]
                removed.append(Removed(path, str(row[0]), ids, vectors))
        return removed

    async def paths_under(self, prefix: str) -> list[str]:
        """Indexed or skipped files at `prefix` or below it (whole path segments)."""
        exact, children = _under(prefix)
        # Children sort between "<root>/" and "<root>0" ("0" follows "/" in ASCII).
        upper = exact + "0"
        rows = await self.db.fetchall(
            "SELECT path FROM brain_files WHERE path = ? OR (path >= ? AND path < ?)"
            " UNION SELECT path FROM brain_skipped WHERE path = ? OR (path >= ? AND path < ?)",
            (exact, children, upper, exact, children, upper),
        )
        return [r["path"] for r in rows]

    async def forget(self, content_hash: str, at: float) -> list[Removed]:
        """Every file with this content leaves the index, and stays out until it changes."""
        async with self.db.transaction() as conn:
            async with conn.execute(
                "SELECT path FROM brain_files WHERE content_hash = ?", (content_hash,)
            ) as cursor:
                paths = [r[0] for r in await cursor.fetchall()]
            removed = await self._remove(conn, paths)
            await conn.execute(
                "INSERT OR REPLACE INTO brain_forgotten (content_hash, at) VALUES (?, ?)",
                (content_hash, at),
            )
        return removed

    async def forgotten(self, hashes: Iterable[str]) -> set[str]:
        wanted = list(set(hashes))
        if not wanted:
            return set()
        marks = ",".join("?" * len(wanted))
        rows = await self.db.fetchall(
            f"SELECT content_hash FROM brain_forgotten WHERE content_hash IN ({marks})", wanted
        )
        return {r["content_hash"] for r in rows}

    # -- chunks --

    async def live_ids(self) -> list[int]:
        rows = await self.db.fetchall("SELECT id FROM brain_chunks")
        return [int(r["id"]) for r in rows]

    async def chunks(self, ids: Sequence[int]) -> dict[int, StoredChunk]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = await self.db.fetchall(
            "SELECT c.id, c.path, f.content_hash, c.start_line, c.end_line, c.heading, c.text"
            " FROM brain_chunks c JOIN brain_files f ON f.path = c.path"
            f" WHERE c.id IN ({marks})",
            list(ids),
        )
        return {
            int(r["id"]): StoredChunk(
                int(r["id"]),
                r["path"],
                r["content_hash"],
                int(r["start_line"]),
                int(r["end_line"]),
                _heading(r["heading"]),
                r["text"],
            )
            for r in rows
        }

    async def ids_under(self, prefix: str) -> set[int]:
        exact, children = _under(prefix)
        rows = await self.db.fetchall(
            "SELECT id FROM brain_chunks WHERE path = ? OR (path >= ? AND path < ?)",
            (exact, children, exact + "0"),
        )
        return {int(r["id"]) for r in rows}

    async def lexical(self, match: str, k: int, prefix: str | None) -> list[tuple[int, float]]:
        """(id, BM25 score, higher is better) for an FTS5 MATCH expression, best first."""
        where, params = "brain_fts MATCH ?", [match]
        if prefix is not None:
            exact, children = _under(prefix)
            where += " AND (c.path = ? OR (c.path >= ? AND c.path < ?))"
            params += [exact, children, exact + "0"]
        rows = await self.db.fetchall(
            "SELECT brain_fts.rowid AS id, bm25(brain_fts, 1.0, 0.5) AS rank FROM brain_fts"
            " JOIN brain_chunks c ON c.id = brain_fts.rowid"
            f" WHERE {where} ORDER BY rank LIMIT ?",
            [*params, k],
        )
        return [(int(r["id"]), -float(r["rank"])) for r in rows]

    # -- counts --

    async def totals(self) -> tuple[int, int]:
        row = await self.db.fetchone(
            "SELECT COUNT(*) AS files, COALESCE(SUM(chunks), 0) AS chunks FROM brain_files"
        )
        assert row is not None
        return int(row["files"]), int(row["chunks"])

    async def totals_under(self, prefix: str) -> tuple[int, int]:
        exact, children = _under(prefix)
        row = await self.db.fetchone(
            "SELECT COUNT(*) AS files, COALESCE(SUM(chunks), 0) AS chunks FROM brain_files"
            " WHERE path = ? OR (path >= ? AND path < ?)",
            (exact, children, exact + "0"),
        )
        assert row is not None
        return int(row["files"]), int(row["chunks"])

    async def skipped(self, limit: int) -> tuple[dict[str, int], list[tuple[str, str, str]]]:
        counts = await self.db.fetchall(
            "SELECT reason, COUNT(*) AS n FROM brain_skipped GROUP BY reason"
        )
        rows = await self.db.fetchall(
            "SELECT path, reason, detail FROM brain_skipped ORDER BY path LIMIT ?", (limit,)
        )
        return (
            {r["reason"]: int(r["n"]) for r in counts},
            [(r["path"], r["reason"], r["detail"]) for r in rows],
        )

    async def clear_vectors(self) -> None:
        """Forget every file and chunk (another model: nothing stored is comparable)."""
        async with self.db.transaction() as conn:
            await conn.execute("DELETE FROM brain_chunks")
            await conn.execute("DELETE FROM brain_files")
