"""Memory's table: every version of every fact this node holds (live facts, superseded ones
and tombstones), each with its vector as computed here (never taken from the wire)."""

from __future__ import annotations

from agent.core.db import Migration

MIGRATIONS = [
    Migration(
        "0001_memory",
        """
        CREATE TABLE memory_facts (
            id TEXT PRIMARY KEY,
            modified REAL NOT NULL,
            writer TEXT NOT NULL,
            deleted INTEGER NOT NULL,
            cleared INTEGER NOT NULL,
            text TEXT NOT NULL,
            norm TEXT NOT NULL,
            key TEXT,
            tags TEXT NOT NULL,
            source TEXT NOT NULL,
            session_id TEXT,
            node_id TEXT NOT NULL,
            created_at REAL NOT NULL,
            superseded_by TEXT,
            superseded_at REAL,
            vector BLOB,
            model TEXT
        );
        CREATE INDEX memory_facts_active_norm ON memory_facts (norm)
            WHERE deleted = 0 AND superseded_by IS NULL;
        CREATE INDEX memory_facts_active_key ON memory_facts (key)
            WHERE deleted = 0 AND superseded_by IS NULL AND key IS NOT NULL;
        CREATE INDEX memory_facts_by_created ON memory_facts (created_at) WHERE deleted = 0;
        CREATE INDEX memory_facts_tombstones ON memory_facts (modified) WHERE deleted = 1;
        """,
    ),
]
