"""Flows' tables.

- `flow_records`: the winning record of each flow id (tombstones kept, so an older version
  arriving late from a member is not taken for new), with the parsed definition as JSON so
  reads need no re-parse (NULL for a tombstone, or a source this version cannot parse).
- `flow_cursors`: when each cron/interval trigger last fired anywhere in the cluster.
- `flow_runs` and `flow_steps`: runs of this node, step by step. A run keeps the definition it
  started with while it is unfinished (`definition`), and where it goes on (`position`), so a
  restart resumes it even when the flow changed meanwhile.
"""

from __future__ import annotations

from agent.core.db import Migration

MIGRATIONS = [
    Migration(
        "0001_flows",
        """
        CREATE TABLE flow_records (
            flow_id TEXT PRIMARY KEY,
            version INTEGER NOT NULL,
            author TEXT NOT NULL,
            updated_at REAL NOT NULL,
            deleted INTEGER NOT NULL,
            enabled INTEGER NOT NULL,
            format TEXT NOT NULL,
            source TEXT NOT NULL,
            signature TEXT NOT NULL,
            created_at REAL NOT NULL,
            name TEXT,
            definition TEXT
        );
        CREATE TABLE flow_cursors (
            flow_id TEXT NOT NULL,
            trigger_index INTEGER NOT NULL,
            fired_at REAL NOT NULL,
            node_id TEXT NOT NULL,
            signature TEXT NOT NULL,
            PRIMARY KEY (flow_id, trigger_index)
        );
        CREATE TABLE flow_runs (
            id TEXT PRIMARY KEY,
            flow_id TEXT NOT NULL,
            flow_version INTEGER NOT NULL,
            node_id TEXT NOT NULL,
            state TEXT NOT NULL,
            trigger_kind TEXT NOT NULL,
            trigger_at REAL NOT NULL,
            trigger_payload TEXT NOT NULL,
            inputs TEXT NOT NULL,
            outputs TEXT NOT NULL,
            error TEXT,
            created_at REAL NOT NULL,
            started_at REAL,
            finished_at REAL,
            skipped_count INTEGER NOT NULL DEFAULT 0,
            parent_run_id TEXT,
            rerun_of TEXT,
            resumed INTEGER NOT NULL DEFAULT 0,
            blocked_by TEXT,
            depth INTEGER NOT NULL DEFAULT 0,
            position INTEGER NOT NULL DEFAULT 0,
            executions INTEGER NOT NULL DEFAULT 0,
            definition TEXT
        );
        CREATE INDEX flow_runs_by_flow ON flow_runs (flow_id, created_at);
        CREATE INDEX flow_runs_by_state ON flow_runs (state);
        CREATE TABLE flow_steps (
            run_id TEXT NOT NULL REFERENCES flow_runs (id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            step_id TEXT NOT NULL,
            uses TEXT NOT NULL,
            state TEXT NOT NULL,
            attempts INTEGER NOT NULL,
            inputs TEXT NOT NULL,
            outputs TEXT NOT NULL,
            error TEXT,
            logs TEXT NOT NULL,
            started_at REAL,
            finished_at REAL,
            duration_ms REAL,
            wake_at REAL,
            PRIMARY KEY (run_id, step_id)
        );
        """,
    ),
]
