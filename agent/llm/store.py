"""LLM SQL: chat sessions and their messages."""

from __future__ import annotations

from agent.core.db import Database, Migration
from agent.llm.models import ChatSession, ChatSessionMessage, MessageStats, Role

MIGRATIONS = [
    Migration(
        "0001_chat",
        """
        CREATE TABLE chat_sessions (
            session_id TEXT PRIMARY KEY,
            title TEXT NOT NULL,
            model TEXT,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        );
        CREATE TABLE chat_messages (
            session_id TEXT NOT NULL REFERENCES chat_sessions (session_id) ON DELETE CASCADE,
            seq INTEGER NOT NULL,
            role TEXT NOT NULL,
            content TEXT NOT NULL,
            created_at REAL NOT NULL,
            stats TEXT,
            PRIMARY KEY (session_id, seq)
        );
        """,
    ),
]


class ChatStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def migrate(self) -> None:
        await self.db.migrate("llm", MIGRATIONS)

    async def create(self, session_id: str, title: str, model: str | None, now: float) -> None:
        await self.db.execute(
            "INSERT INTO chat_sessions (session_id, title, model, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (session_id, title, model, now, now),
        )

    async def session(self, session_id: str) -> ChatSession | None:
        row = await self.db.fetchone(
            "SELECT s.*, (SELECT COUNT(*) FROM chat_messages m WHERE m.session_id = s.session_id)"
            " AS message_count FROM chat_sessions s WHERE session_id = ?",
            (session_id,),
        )
        return ChatSession.model_validate(dict(row)) if row else None

    async def sessions(self) -> list[ChatSession]:
        rows = await self.db.fetchall(
            "SELECT s.*, (SELECT COUNT(*) FROM chat_messages m WHERE m.session_id = s.session_id)"
            " AS message_count FROM chat_sessions s ORDER BY updated_at DESC"
        )
        return [ChatSession.model_validate(dict(r)) for r in rows]

    async def messages(self, session_id: str) -> list[ChatSessionMessage]:
        rows = await self.db.fetchall(
            "SELECT seq, role, content, created_at, stats FROM chat_messages"
            " WHERE session_id = ? ORDER BY seq",
            (session_id,),
        )
        return [
            ChatSessionMessage(
                seq=r["seq"],
                role=r["role"],
                content=r["content"],
                created_at=r["created_at"],
                stats=MessageStats.model_validate_json(r["stats"]) if r["stats"] else None,
            )
            for r in rows
        ]

    async def append(
        self,
        session_id: str,
        role: Role,
        content: str,
        now: float,
        stats: MessageStats | None = None,
        model: str | None = None,
    ) -> None:
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "SELECT COALESCE(MAX(seq), -1) + 1 FROM chat_messages WHERE session_id = ?",
                (session_id,),
            )
            row = await cursor.fetchone()
            seq = row[0] if row else 0  # MAX over no rows still answers one row
            await conn.execute(
                "INSERT INTO chat_messages (session_id, seq, role, content, created_at, stats)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (session_id, seq, role, content, now, stats.model_dump_json() if stats else None),
            )
            await conn.execute(
                "UPDATE chat_sessions SET updated_at = ?, model = COALESCE(?, model)"
                " WHERE session_id = ?",
                (now, model, session_id),
            )

    async def rename(self, session_id: str, title: str, now: float) -> bool:
        return (
            await self.db.execute(
                "UPDATE chat_sessions SET title = ?, updated_at = ? WHERE session_id = ?",
                (title, now, session_id),
            )
            == 1
        )

    async def delete(self, session_id: str) -> bool:
        return (
            await self.db.execute("DELETE FROM chat_sessions WHERE session_id = ?", (session_id,))
            == 1
        )
