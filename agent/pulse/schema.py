"""Pulse's tables: state changes of insights (the latest `KEPT_CHANGES`), and the hourly
ledger behind the weekly digest (tasks and tokens this node saw, members' uptime and storage
as this node observed them; eight days kept)."""

from __future__ import annotations

from agent.core.db import Migration

MIGRATIONS = [
    Migration(
        "0001_pulse",
        """
        CREATE TABLE pulse_changes (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at REAL NOT NULL,
            insight_id TEXT NOT NULL,
            rule TEXT NOT NULL,
            node_id TEXT,
            from_status TEXT NOT NULL,
            to_status TEXT NOT NULL,
            dismissed INTEGER NOT NULL
        );
        CREATE INDEX pulse_changes_by_time ON pulse_changes (at);
        CREATE TABLE pulse_tasks (
            hour REAL NOT NULL,
            node_id TEXT NOT NULL,
            run INTEGER NOT NULL,
            failed INTEGER NOT NULL,
            PRIMARY KEY (hour, node_id)
        );
        CREATE TABLE pulse_tokens (
            hour REAL NOT NULL,
            model TEXT NOT NULL,
            node_id TEXT NOT NULL,
            tokens INTEGER NOT NULL,
            PRIMARY KEY (hour, model, node_id)
        );
        CREATE TABLE pulse_uptime (
            hour REAL NOT NULL,
            node_id TEXT NOT NULL,
            name TEXT NOT NULL,
            observed_s REAL NOT NULL,
            online_s REAL NOT NULL,
            PRIMARY KEY (hour, node_id)
        );
        CREATE TABLE pulse_storage (
            hour REAL NOT NULL,
            node_id TEXT NOT NULL,
            used INTEGER NOT NULL,
            PRIMARY KEY (hour, node_id)
        );
        """,
    ),
]
