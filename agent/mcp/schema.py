"""MCP's table: the servers configured on this node. Credentials are not here (see
`credentials`): the database is copied into backups and read by tools that never need them."""

from __future__ import annotations

from agent.core.db import Migration

MIGRATIONS = [
    Migration(
        "0001_mcp",
        """
        CREATE TABLE mcp_servers (
            name TEXT PRIMARY KEY,
            description TEXT NOT NULL,
            builtin TEXT,
            transport TEXT NOT NULL,
            credential_names TEXT NOT NULL,
            enabled INTEGER NOT NULL,
            created_at REAL NOT NULL
        );
        """,
    ),
]
