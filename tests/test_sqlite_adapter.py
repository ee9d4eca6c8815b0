"""The SQLite engines' driver adapter (sqlite_adapter.py): one trip to aiosqlite's thread per
statement, and cursors that answer as the stock adapter's do."""

import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
import sqlalchemy as sa
from sqlalchemy import exc

from tests.helpers import make_settings
from threads_api.db import Database


@pytest.fixture
async def database(sqlite_template: Path, tmp_path: Path) -> AsyncIterator[Database]:
    path = tmp_path / "threads.db"
    shutil.copyfile(sqlite_template, path)
    db = Database(make_settings(f"sqlite+aiosqlite:///{path}"))
    async with db.write_engine.begin() as connection:
        await connection.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT UNIQUE)")
    yield db
    await db.dispose()


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every function run on an aiosqlite thread, from now on."""
    seen: list[Any] = []
    original = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(fn)
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    return seen


async def test_a_statement_is_one_trip(database: Database, trips: list[Any]) -> None:
    async with database.read_engine.connect() as connection:
        await connection.exec_driver_sql("SELECT 1")  # BEGIN, then the statement
        trips.clear()

        rows = (await connection.exec_driver_sql("SELECT 1 UNION ALL SELECT 2")).all()

        assert rows == [(1,), (2,)]
        assert len(trips) == 1  # stock aiosqlite: cursor, execute, fetchall, close


async def test_a_write_transaction_is_a_trip_per_statement_and_commit(
    database: Database, trips: list[Any]
) -> None:
    async with database.write_engine.begin() as connection:
        await connection.exec_driver_sql("INSERT INTO t (v) VALUES ('a')")
        await connection.exec_driver_sql("INSERT INTO t (v) VALUES ('b')")

    assert len(trips) == 4  # BEGIN IMMEDIATE, two INSERTs, COMMIT


async def test_cursors_answer_as_the_stock_ones(database: Database) -> None:
    async with database.write_engine.begin() as connection:
        inserted = await connection.exec_driver_sql("INSERT INTO t (v) VALUES ('a')")
        assert inserted.lastrowid == 1
        many = await connection.execute(
            sa.text("INSERT INTO t (v) VALUES (:v)"), [{"v": "b"}, {"v": "c"}]
        )
        assert many.rowcount == 2
        updated = await connection.exec_driver_sql("UPDATE t SET v = v || '!' WHERE id > 1")
        assert updated.rowcount == 2
        returned = await connection.exec_driver_sql("DELETE FROM t WHERE id = 3 RETURNING v")
        assert returned.all() == [("c!",)]
        assert (await connection.exec_driver_sql("SELECT v FROM t WHERE id = 99")).first() is None


async def test_errors_are_sqlalchemy_errors_and_roll_back(database: Database) -> None:
    with pytest.raises(exc.IntegrityError):
        async with database.write_engine.begin() as connection:
            await connection.exec_driver_sql("INSERT INTO t (v) VALUES ('same')")
            await connection.exec_driver_sql("INSERT INTO t (v) VALUES ('same')")
    with pytest.raises(exc.OperationalError):
        async with database.read_engine.connect() as connection:
            await connection.exec_driver_sql("SELECT * FROM no_such_table")

    async with database.read_engine.connect() as connection:
        count = (await connection.exec_driver_sql("SELECT count(*) FROM t")).scalar_one()
    assert count == 0
