from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from agent.core.db import Database, Migration

MIGRATIONS = [
    Migration("0001_items", "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL);"),
    Migration(
        "0002_price",
        "ALTER TABLE items ADD COLUMN price REAL;\nCREATE INDEX items_name ON items(name);",
    ),
]


@pytest.fixture
async def db(tmp_path: Path):
    database = Database(tmp_path / "fabric.db")
    await database.open()
    yield database
    await database.close()


async def test_wal_mode(db: Database) -> None:
    row = await db.fetchone("PRAGMA journal_mode")
    assert row is not None
    assert row[0] == "wal"


async def test_migrations_apply_in_order_once(db: Database) -> None:
    assert await db.migrate("shop", MIGRATIONS) == ["0001_items", "0002_price"]
    assert await db.migrate("shop", MIGRATIONS) == []
    extra = [*MIGRATIONS, Migration("0003_stock", "ALTER TABLE items ADD COLUMN stock INT;")]
    assert await db.migrate("shop", extra) == ["0003_stock"]
    assert await db.applied_migrations() == [
        ("shop", "0001_items"),
        ("shop", "0002_price"),
        ("shop", "0003_stock"),
    ]


async def test_migrations_survive_reopen(tmp_path: Path) -> None:
    first = Database(tmp_path / "f.db")
    await first.open()
    await first.migrate("shop", MIGRATIONS)
    await first.execute("INSERT INTO items (name, price) VALUES ('a', 1.0)")
    await first.close()
    second = Database(tmp_path / "f.db")
    await second.open()
    assert await second.migrate("shop", MIGRATIONS) == []
    assert (await second.fetchone("SELECT name FROM items"))["name"] == "a"
    await second.close()


async def test_failing_migration_rolls_back_and_is_not_recorded(db: Database) -> None:
    bad = [Migration("0001_half", "CREATE TABLE ok (x INT);\nCREATE TABLE ok (x INT);")]
    with pytest.raises(sqlite3.OperationalError):
        await db.migrate("broken", bad)
    assert await db.fetchone("SELECT name FROM sqlite_master WHERE name = 'ok'") is None
    assert await db.applied_migrations() == []


async def test_duplicate_migration_names_are_refused(db: Database) -> None:
    with pytest.raises(ValueError, match="duplicate"):
        await db.migrate("x", [Migration("a", "SELECT 1;"), Migration("a", "SELECT 2;")])


async def test_transaction_rolls_back_on_error(db: Database) -> None:
    await db.migrate("shop", MIGRATIONS)

    async def insert_then_fail() -> None:
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO items (name) VALUES ('lost')")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await insert_then_fail()
    assert await db.fetchall("SELECT * FROM items") == []


async def test_concurrent_writers_are_serialised(db: Database) -> None:
    await db.migrate("shop", MIGRATIONS)

    async def write(i: int) -> None:
        async with db.transaction() as conn:
            cursor = await conn.execute("SELECT COUNT(*) FROM items")
            (count,) = await cursor.fetchone()
            await conn.execute("INSERT INTO items (name, price) VALUES (?, ?)", (f"n{i}", count))

    await asyncio.gather(*(write(i) for i in range(50)))
    rows = await db.fetchall("SELECT price FROM items ORDER BY price")
    assert [int(r["price"]) for r in rows] == list(range(50))
