"""Pulse's SQL: state changes of insights and the hourly ledger (see `schema`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agent.core.db import Database
from agent.pulse.ledger import Ledger
from agent.pulse.models import StateChange
from agent.pulse.schema import MIGRATIONS

KEPT_CHANGES = 5000
_SAVE = {
    "tasks": "INSERT OR REPLACE INTO pulse_tasks (hour, node_id, run, failed) VALUES (?, ?, ?, ?)",
    "tokens": "INSERT OR REPLACE INTO pulse_tokens (hour, model, node_id, tokens)"
    " VALUES (?, ?, ?, ?)",
    "uptime": "INSERT OR REPLACE INTO pulse_uptime (hour, node_id, name, observed_s, online_s)"
    " VALUES (?, ?, ?, ?, ?)",
    "storage": "INSERT OR REPLACE INTO pulse_storage (hour, node_id, used) VALUES (?, ?, ?)",
}
_TABLES = ("pulse_tasks", "pulse_tokens", "pulse_uptime", "pulse_storage")


class PulseStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def migrate(self) -> None:
        await self.db.migrate("pulse", MIGRATIONS)

    async def add_changes(self, changes: Sequence[StateChange]) -> None:
        if not changes:
            return
        async with self.db.transaction() as conn:
            await conn.executemany(
                "INSERT INTO pulse_changes"
                " (at, insight_id, rule, node_id, from_status, to_status, dismissed)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (c.at, c.insight_id, c.rule, c.node_id, c.from_status, c.to_status, c.dismissed)
                    for c in changes
                ],
            )
            await conn.execute(
                "DELETE FROM pulse_changes WHERE id <= (SELECT MAX(id) FROM pulse_changes) - ?",
                (KEPT_CHANGES,),
            )

    async def changes(
        self,
        *,
        rule: str | None = None,
        node: str | None = None,
        until: float | None = None,
        limit: int = KEPT_CHANGES,
    ) -> list[StateChange]:
        """Most recent first."""
        where: list[str] = ["1 = 1"]
        params: list[str | float] = []
        for column, value in (("rule", rule), ("node_id", node)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if until is not None:
            where.append("at <= ?")
            params.append(until)
        rows = await self.db.fetchall(
            "SELECT at, insight_id, rule, node_id, from_status, to_status, dismissed"
            f" FROM pulse_changes WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?",
            (*params, limit),
        )
        return [
            StateChange(
                at=row["at"],
                insight_id=row["insight_id"],
                rule=row["rule"],
                node_id=row["node_id"],
                from_status=row["from_status"],
                to_status=row["to_status"],
                dismissed=bool(row["dismissed"]),
            )
            for row in rows
        ]

    async def load_ledger(self, ledger: Ledger, oldest: float) -> None:
        for row in await self._rows("pulse_tasks", oldest):
            ledger.tasks[(row["hour"], row["node_id"])] = [row["run"], row["failed"]]
        for row in await self._rows("pulse_tokens", oldest):
            ledger.tokens[(row["hour"], row["model"], row["node_id"])] = row["tokens"]
        for row in await self._rows("pulse_uptime", oldest):
            ledger.uptime[(row["hour"], row["node_id"])] = (
                row["name"],
                row["observed_s"],
                row["online_s"],
            )
        for row in await self._rows("pulse_storage", oldest):
            ledger.storage[(row["hour"], row["node_id"])] = row["used"]

    async def _rows(self, table: str, oldest: float) -> list[Any]:
        return await self.db.fetchall(f"SELECT * FROM {table} WHERE hour >= ?", (oldest,))

    async def save_ledger(self, ledger: Ledger, oldest: float) -> None:
        """Write the buckets changed since the last save, and forget expired ones."""
        dirty, ledger.dirty = ledger.dirty, set()
        rows: dict[str, list[tuple[Any, ...]]] = {kind: [] for kind in _SAVE}
        for kind, key in dirty:
            value = getattr(ledger, kind).get(key)
            if value is None:
                continue
            values = tuple(value) if isinstance(value, list | tuple) else (value,)
            rows[kind].append((*key, *values))
        try:
            async with self.db.transaction() as conn:
                for kind, batch in rows.items():
                    if batch:
                        await conn.executemany(_SAVE[kind], batch)
                for table in _TABLES:
                    await conn.execute(f"DELETE FROM {table} WHERE hour < ?", (oldest,))
        except BaseException:
            ledger.dirty |= dirty  # saved next time
            raise
