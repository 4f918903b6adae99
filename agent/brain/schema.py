"""The brain's tables: files, chunks with their vectors, the FTS5 index kept by triggers,
skipped and forgotten files, and settings of the index."""

from __future__ import annotations

from agent.core.db import Migration

MIGRATIONS = [
    Migration(
        "0001_brain",
        """
        CREATE TABLE brain_files (
            path TEXT PRIMARY KEY,
            content_hash TEXT NOT NULL,
            size INTEGER NOT NULL,
            mtime_ns INTEGER NOT NULL,
            kind TEXT NOT NULL,
            chunks INTEGER NOT NULL,
            indexed_at REAL NOT NULL
        );
        CREATE INDEX brain_files_by_hash ON brain_files (content_hash);
        CREATE TABLE brain_chunks (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            path TEXT NOT NULL,
            ordinal INTEGER NOT NULL,
            text_hash TEXT NOT NULL,
            start_line INTEGER NOT NULL,
            end_line INTEGER NOT NULL,
            heading TEXT NOT NULL,
            text TEXT NOT NULL,
            vector BLOB NOT NULL
        );
        CREATE INDEX brain_chunks_by_path ON brain_chunks (path);
        CREATE INDEX brain_chunks_by_text ON brain_chunks (text_hash);
        CREATE VIRTUAL TABLE brain_fts USING fts5 (
            text, heading, content='brain_chunks', content_rowid='id',
            tokenize='porter unicode61'
        );
        CREATE TRIGGER brain_chunks_added AFTER INSERT ON brain_chunks BEGIN
            INSERT INTO brain_fts (rowid, text, heading) VALUES (new.id, new.text, new.heading);
        END;
        CREATE TRIGGER brain_chunks_removed AFTER DELETE ON brain_chunks BEGIN
            INSERT INTO brain_fts (brain_fts, rowid, text, heading)
            VALUES ('delete', old.id, old.text, old.heading);
        END;
        CREATE TABLE brain_skipped (
            path TEXT PRIMARY KEY,
            reason TEXT NOT NULL,
            detail TEXT NOT NULL,
            size INTEGER NOT NULL,
            mtime_ns INTEGER NOT NULL
        );
        CREATE TABLE brain_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE brain_forgotten (content_hash TEXT PRIMARY KEY, at REAL NOT NULL);
        """,
    ),
]
