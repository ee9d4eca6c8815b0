"""The SQLite engines' driver adapter (sqlite_adapter.py): one trip to aiosqlite's thread per
statement; statement by statement, what SQLAlchemy reads of a cursor (rows, rowcount,
lastrowid, columns, the error raised) is what the stock aiosqlite adapter gives; and SQLite's
lock errors over HTTP answer 503, on the engines and on the plain reads."""

import contextlib
import shutil
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiosqlite
import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

import threads_api.sqlite_adapter  # noqa: F401 - registers the driver
from tests.helpers import Api, admin_client, make_settings, problem, started_app
from threads_api.db import Database
from threads_api.sqlite_adapter import DRIVER


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


Step = Callable[[AsyncConnection], Awaitable[Any]]


def _rows(result: Any) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in result]


async def _outcome(connection: AsyncConnection, step: Step) -> Any:
    try:
        return await step(connection)
    except Exception as error:  # the class SQLAlchemy raised is part of the outcome
        return type(error).__name__


def _sql(statement: str, parameters: Any = None) -> Step:
    async def step(connection: AsyncConnection) -> Any:
        result = await connection.execute(sa.text(statement), parameters)
        rows = _rows(result) if result.returns_rows else None
        keys = list(result.keys()) if result.returns_rows else None
        return rows, keys, result.rowcount, getattr(result, "lastrowid", None)

    return step


def _fetchmany(size: int | None) -> Step:
    async def step(connection: AsyncConnection) -> Any:
        result = await connection.exec_driver_sql("SELECT v FROM t ORDER BY id")
        return _rows(result.fetchmany() if size is None else result.fetchmany(size))

    return step


async def _partitions(connection: AsyncConnection) -> Any:
    result = await connection.exec_driver_sql("SELECT v FROM t ORDER BY id")
    return [_rows(part) for part in result.partitions()]


async def _fetchone_then_all(connection: AsyncConnection) -> Any:
    result = await connection.exec_driver_sql("SELECT v FROM t ORDER BY id")
    return result.fetchone(), _rows(result.fetchall())


async def _stream(connection: AsyncConnection) -> Any:
    result = await connection.stream(sa.text("SELECT v FROM t ORDER BY id"))
    return [tuple(row) async for row in result]


async def _savepoint_rolled_back(connection: AsyncConnection) -> Any:
    with contextlib.suppress(sa.exc.IntegrityError):
        async with connection.begin_nested():
            await connection.exec_driver_sql("INSERT INTO t (v) VALUES ('nested')")
            await connection.exec_driver_sql("INSERT INTO t (v) VALUES ('nested')")
    return _rows(await connection.exec_driver_sql("SELECT v FROM t WHERE v = 'nested'"))


STEPS: list[tuple[str, Step]] = [
    ("insert", _sql("INSERT INTO t (v) VALUES ('a')")),
    ("insert returning", _sql("INSERT INTO t (v) VALUES ('b') RETURNING id, v")),
    ("executemany", _sql("INSERT INTO t (v) VALUES (:v)", [{"v": "c"}, {"v": "d"}])),
    ("update", _sql("UPDATE t SET v = v || '!' WHERE id > 2")),
    ("update none", _sql("UPDATE t SET v = 'x' WHERE id > 100")),
    ("select", _sql("SELECT id, v FROM t ORDER BY id")),
    ("select nothing", _sql("SELECT id, v FROM t WHERE id > 100")),
    ("fetchmany", _fetchmany(None)),
    ("fetchmany 2", _fetchmany(2)),
    ("partitions", _partitions),
    ("fetchone", _fetchone_then_all),
    ("stream", _stream),
    ("pragma", _sql("PRAGMA user_version")),
    ("delete returning", _sql("DELETE FROM t WHERE id >= 3 RETURNING v")),
    ("unique", _sql("INSERT INTO t (v) VALUES ('a')")),
    ("savepoint", _savepoint_rolled_back),
    ("no such table", _sql("SELECT * FROM nowhere")),
    ("syntax", _sql("SELEC 1")),
    ("after errors", _sql("SELECT count(*) FROM t")),
]


@contextlib.asynccontextmanager
async def connected(driver: str, path: Path) -> AsyncIterator[AsyncConnection]:
    engine = create_async_engine(f"sqlite+{driver}:///{path}")
    try:
        async with engine.connect() as connection:
            await connection.exec_driver_sql(
                "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT UNIQUE)"
            )
            yield connection
    finally:
        await engine.dispose()


@pytest.mark.parametrize(("name", "step"), STEPS, ids=[name for name, _ in STEPS])
async def test_a_statement_answers_as_on_the_stock_adapter(
    tmp_path: Path, name: str, step: Step
) -> None:
    outcomes = []
    for driver in ("aiosqlite", DRIVER):
        async with connected(driver, tmp_path / f"{driver}.db") as connection:
            for _, earlier in STEPS[: STEPS.index((name, step))]:
                await _outcome(connection, earlier)
            outcomes.append(await _outcome(connection, step))
    stock, one_trip = outcomes
    assert one_trip == stock


async def test_a_failed_statement_then_rollback_leaves_nothing(tmp_path: Path) -> None:
    async with connected(DRIVER, tmp_path / "t.db") as connection:
        await connection.commit()
        await connection.exec_driver_sql("INSERT INTO t (v) VALUES ('kept?')")
        with pytest.raises(sa.exc.IntegrityError):
            await connection.exec_driver_sql("INSERT INTO t (v) VALUES ('kept?')")
        await connection.rollback()
        count = await connection.exec_driver_sql("SELECT count(*) FROM t")
        assert count.scalar_one() == 0


# --- SQLite's locks, over HTTP -------------------------------------------------------------


@pytest.fixture
async def locked_app(sqlite_template: Path, tmp_path: Path) -> AsyncIterator[Any]:
    path = tmp_path / "threads.db"
    shutil.copyfile(sqlite_template, path)
    settings = make_settings(f"sqlite+aiosqlite:///{path}", sqlite_busy_timeout_ms=200)
    async with started_app(settings) as application:
        application.state.path = path
        yield application


@pytest.fixture
async def http(locked_app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with admin_client(locked_app) as client:
        yield client


async def test_a_write_behind_a_held_write_lock_answers_503(locked_app: Any, http) -> None:
    api = Api(http)
    space = await api.space()
    thread = await api.thread(space["id"])
    url = f"/v1/spaces/{space['id']}/threads/{thread['id']}"
    holder = sqlite3.connect(locked_app.state.path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        refused = await http.post(f"{url}/messages", json={"content": "later"})
        problem(refused, 503, "database_unavailable")
        assert refused.headers["retry-after"]
        # WAL: the plain reads do not wait for the writer.
        assert (await http.get(url)).status_code == 200
        assert (await http.get(f"{url}/messages")).status_code == 200
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert (await http.post(f"{url}/messages", json={"content": "now"})).status_code == 201


async def test_plain_reads_of_a_file_gone_answer_503(locked_app: Any, http) -> None:
    api = Api(http)
    space = await api.space()
    thread = await api.thread(space["id"])
    url = f"/v1/spaces/{space['id']}/threads/{thread['id']}"
    unseen = await api.space()  # the admin's space check reads it on a plain connection
    assert (await http.get(url)).status_code == 200
    path: Path = locked_app.state.path
    aside = path.parent / "aside"
    aside.mkdir()
    names = [path.name, f"{path.name}-wal", f"{path.name}-shm"]
    for name in names:
        if (path.parent / name).exists():
            shutil.move(path.parent / name, aside / name)
    try:
        reads = [url, f"{url}/messages", f"/v1/spaces/{space['id']}/threads"]
        for read in [*reads, f"/v1/spaces/{unseen['id']}/threads"]:
            refused = await http.get(read)
            problem(refused, 503, "database_unavailable")
            assert refused.headers["retry-after"]
        assert not path.exists()
    finally:
        for name in names:
            if (aside / name).exists():
                shutil.move(aside / name, path.parent / name)
    assert (await http.get(url)).status_code == 200
