"""The configured servers in SQLite (`mcp_servers`): definitions only, never credentials."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import TypeAdapter

from agent.core.db import Database, Row
from agent.mcp.models import Transport
from agent.mcp.schema import MIGRATIONS

_TRANSPORT: TypeAdapter[Transport] = TypeAdapter(Transport)


@dataclass(frozen=True, slots=True)
class ServerRecord:
    name: str
    description: str
    builtin: str | None
    transport: Transport
    credential_names: tuple[str, ...]
    enabled: bool
    created_at: float


class DuplicateServer(Exception):
    pass


class ServerStore:
    def __init__(self, db: Database, clock: Callable[[], float]) -> None:
        self.db = db
        self.clock = clock

    async def migrate(self) -> None:
        await self.db.migrate("mcp", MIGRATIONS)

    async def all(self) -> list[ServerRecord]:
        rows = await self.db.fetchall("SELECT * FROM mcp_servers ORDER BY name")
        return [_record(row) for row in rows]

    async def add(self, record: ServerRecord) -> None:
        try:
            await self.db.execute(
                "INSERT INTO mcp_servers (name, description, builtin, transport,"
                " credential_names, enabled, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    record.name,
                    record.description,
                    record.builtin,
                    record.transport.model_dump_json(),
                    json.dumps(list(record.credential_names)),
                    int(record.enabled),
                    record.created_at,
                ),
            )
        except sqlite3.IntegrityError:
            raise DuplicateServer(record.name) from None

    async def set_enabled(self, name: str, enabled: bool) -> None:
        await self.db.execute(
            "UPDATE mcp_servers SET enabled = ? WHERE name = ?", (int(enabled), name)
        )

    async def remove(self, name: str) -> None:
        await self.db.execute("DELETE FROM mcp_servers WHERE name = ?", (name,))


def _record(row: Row) -> ServerRecord:
    return ServerRecord(
        name=row["name"],
        description=row["description"],
        builtin=row["builtin"],
        transport=_TRANSPORT.validate_json(row["transport"]),
        credential_names=tuple(json.loads(row["credential_names"])),
        enabled=bool(row["enabled"]),
        created_at=row["created_at"],
    )
