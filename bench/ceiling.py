"""The ceiling of this stack: a bare FastAPI app doing the same SQL with the plain driver.

Endpoints have the same paths, status codes and response shapes as the Threads API's, and run
the same statements (API-key lookup by hash and its spaces, the space check, the idempotency
record, the thread counter bump, the insert, the keyset page) with aiosqlite or asyncpg
directly: no SQLAlchemy, no Pydantic models, no code from `threads_api`. It does the work the
contract needs and nothing else, so `ours / ceiling` measures what our layers cost.

It reads the database the Threads API migrated and filled (same file / same PostgreSQL database):

    CEILING_DATABASE_URL=sqlite:///bench/out/bench.db  (or postgresql://user@host:port/db)
    uvicorn ceiling:app --app-dir bench --no-access-log --port 8101

Not a product: the input checks are the few the benchmark's requests exercise.
"""

import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI, Request, Response

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
IDEMPOTENCY_TTL = timedelta(hours=24)
LAST_USED_RESOLUTION = timedelta(minutes=1)
_id_lock = threading.Lock()
_last = [0, 0]


def new_id(prefix: str) -> str:
    with _id_lock:
        ms = time.time_ns() // 1_000_000
        if ms <= _last[0]:
            ms, rnd = _last[0], (_last[1] + 1) & ((1 << 80) - 1)
        else:
            rnd = secrets.randbits(80)
        _last[0], _last[1] = ms, rnd
    value = (ms << 80) | rnd
    return prefix + "_" + "".join(ALPHABET[(value >> (5 * i)) & 31] for i in range(25, -1, -1))


def dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def problem(status: int, code: str) -> Response:
    body = {"type": f"about:blank#{code}", "title": code, "status": status, "code": code}
    return Response(dumps(body), status, media_type="application/problem+json")


# --- the two drivers, behind the same four calls --------------------------------------------


class SqliteDb:
    """One writer connection (BEGIN IMMEDIATE, queued by a lock) and a few readers, as ours."""

    dialect = "sqlite"

    def __init__(self, path: str) -> None:
        self.path = path

    async def start(self) -> None:
        import aiosqlite

        async def connect() -> Any:
            conn = await aiosqlite.connect(self.path, isolation_level=None)
            for pragma in (
                "journal_mode=WAL",
                "foreign_keys=ON",
                "busy_timeout=10000",
                "synchronous=FULL",
            ):
                await conn.execute(f"PRAGMA {pragma}")
            return conn

        self.writer = await connect()
        self.write_lock = asyncio.Lock()
        self.readers: asyncio.Queue[Any] = asyncio.Queue()
        for _ in range(4):
            self.readers.put_nowait(await connect())

    async def stop(self) -> None:
        await self.writer.close()
        while not self.readers.empty():
            await self.readers.get_nowait().close()

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator["SqliteTx"]:
        conn = await self.readers.get()
        try:
            await conn.execute("BEGIN")
            try:
                yield SqliteTx(conn)
            finally:
                await conn.execute("COMMIT")
        finally:
            self.readers.put_nowait(conn)

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator["SqliteTx"]:
        async with self.write_lock:
            await self.writer.execute("BEGIN IMMEDIATE")
            try:
                yield SqliteTx(self.writer)
            except BaseException:
                await self.writer.execute("ROLLBACK")
                raise
            await self.writer.execute("COMMIT")

    @staticmethod
    def ts(value: datetime) -> str:
        # SQLAlchemy's SQLite DateTime storage format (naive UTC), which the schema uses.
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")

    @staticmethod
    def ts_out(value: Any) -> str | None:
        return None if value is None else value.replace(" ", "T") + "Z"

    @staticmethod
    def ts_in(text: str) -> str:
        return text[:-1].replace("T", " ")

    @staticmethod
    def json_in(value: str) -> Any:
        return json.loads(value)

    @staticmethod
    def json_param(value: Any) -> str:
        return json.dumps(value)


class SqliteTx:
    def __init__(self, conn: Any) -> None:
        self.conn = conn

    async def all(self, sql: str, *args: Any) -> list[Any]:
        return list(await self.conn.execute_fetchall(sql, args))

    async def one(self, sql: str, *args: Any) -> Any:
        rows = await self.conn.execute_fetchall(sql, args)
        return rows[0] if rows else None

    async def run(self, sql: str, *args: Any) -> None:
        await self.conn.execute(sql, args)


def _numbered(sql: str) -> str:
    """`?` placeholders to asyncpg's `$1, $2, …`."""
    parts = sql.split("?")
    return "".join(p + (f"${i + 1}" if i < len(parts) - 1 else "") for i, p in enumerate(parts))


class PostgresDb:
    dialect = "postgresql"

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn

    async def start(self) -> None:
        import asyncpg

        self.pool = await asyncpg.create_pool(self.dsn, min_size=10, max_size=10)

    async def stop(self) -> None:
        await self.pool.close()

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator["PostgresTx"]:
        async with self.pool.acquire() as conn, conn.transaction():
            yield PostgresTx(conn)

    write = read

    @staticmethod
    def ts(value: datetime) -> datetime:
        return value

    @staticmethod
    def ts_out(value: datetime | None) -> str | None:
        return None if value is None else value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    @staticmethod
    def ts_in(text: str) -> datetime:
        return datetime.fromisoformat(text)

    @staticmethod
    def json_in(value: str) -> Any:
        return json.loads(value)

    @staticmethod
    def json_param(value: Any) -> str:
        return json.dumps(value)


class PostgresTx:
    def __init__(self, conn: Any) -> None:
        self.conn = conn

    async def all(self, sql: str, *args: Any) -> list[Any]:
        return await self.conn.fetch(_numbered(sql), *args)

    async def one(self, sql: str, *args: Any) -> Any:
        return await self.conn.fetchrow(_numbered(sql), *args)

    async def run(self, sql: str, *args: Any) -> None:
        await self.conn.execute(_numbered(sql), *args)


def make_db(url: str) -> SqliteDb | PostgresDb:
    if url.startswith("sqlite"):
        return SqliteDb(url.split("///", 1)[1])
    return PostgresDb(url.replace("postgresql+asyncpg://", "postgresql://"))


DB = make_db(os.environ.get("CEILING_DATABASE_URL", "sqlite:///bench/out/bench.db"))
CURSOR_SECRET = secrets.token_bytes(32)


@contextlib.asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    await DB.start()
    yield
    await DB.stop()


app = FastAPI(lifespan=lifespan, openapi_url=None, docs_url=None, redoc_url=None)


# --- the same steps as the Threads API, one statement each ----------------------------------


class Denied(Exception):
    def __init__(self, status: int, code: str) -> None:
        self.status, self.code = status, code


async def authenticate(tx: Any, secret: str | None) -> tuple[str, set[str], set[str]]:
    """Key id, scopes, spaces: the same two lookups as ours, and the same once-a-minute touch."""
    if not secret:
        raise Denied(401, "unauthorized")
    row = await tx.one(
        "SELECT id, scopes, revoked_at, last_used_at FROM api_keys WHERE secret_hash = ?",
        hashlib.sha256(secret.encode()).hexdigest(),
    )
    if row is None or row[2] is not None:
        raise Denied(401, "unauthorized")
    spaces = {
        r[0]
        for r in await tx.all(
            "SELECT space_id FROM api_key_spaces WHERE api_key_id = ? ORDER BY space_id", row[0]
        )
    }
    now = datetime.now(UTC)
    last_used = row[3]
    if isinstance(last_used, str):
        last_used = datetime.fromisoformat(last_used).replace(tzinfo=UTC)
    if last_used is None or last_used < now - LAST_USED_RESOLUTION:
        async with DB.write() as wtx:
            await wtx.run(
                "UPDATE api_keys SET last_used_at = ? WHERE id = ? "
                "AND (last_used_at IS NULL OR last_used_at < ?)",
                DB.ts(now),
                row[0],
                DB.ts(now - LAST_USED_RESOLUTION),
            )
    return row[0], set(DB.json_in(row[1]) if isinstance(row[1], str) else row[1]), spaces


async def check_space(
    tx: Any, key: tuple[str, set[str], set[str]], space_id: str, scope: str
) -> None:
    _, scopes, spaces = key
    admin = "admin" in scopes
    if not admin and space_id not in spaces:
        raise Denied(404, "space_not_found")
    if admin and await tx.one("SELECT id FROM spaces WHERE id = ?", space_id) is None:
        raise Denied(404, "space_not_found")
    if not admin and scope not in scopes and not (scope == "read" and "write" in scopes):
        raise Denied(403, "forbidden")


def thread_json(r: Any) -> dict[str, Any]:
    return {
        "id": r[0],
        "object": "thread",
        "space_id": r[1],
        "title": r[2],
        "status": r[3],
        "metadata": DB.json_in(r[4]),
        "message_count": r[5],
        "last_message_at": DB.ts_out(r[6]),
        "created_at": DB.ts_out(r[7]),
        "updated_at": DB.ts_out(r[8]),
        "archived_at": DB.ts_out(r[9]),
    }


def message_json(r: Any) -> dict[str, Any]:
    return {
        "id": r[0],
        "object": "message",
        "space_id": r[1],
        "thread_id": r[2],
        "seq": r[3],
        "author": r[4],
        "content": r[5],
        "metadata": DB.json_in(r[6]),
        "created_at": DB.ts_out(r[7]),
    }


THREAD_COLUMNS = (
    "id, space_id, title, status, metadata, message_count, last_message_at, "
    "created_at, updated_at, archived_at"
)
MESSAGE_COLUMNS = "id, space_id, thread_id, seq, author, content, metadata, created_at"


def cursor(binding: str, position: list[Any]) -> str:
    payload = json.dumps(position, separators=(",", ":")).encode().hex()
    sig = hmac.new(CURSOR_SECRET, f"{binding}\n{payload}".encode(), hashlib.sha256).hexdigest()
    return f"{payload}.{sig[:32]}"


def parse_body(raw: bytes, allowed: set[str]) -> dict[str, Any]:
    body = json.loads(raw)
    if not isinstance(body, dict) or set(body) - allowed:
        raise Denied(422, "validation_error")
    content = body.get("content")
    if (
        not isinstance(content, str)
        or not content.strip()
        or len(content) > 32_768
        or "\x00" in content
    ):
        raise Denied(422, "validation_error")
    return body


async def idempotent(request: Request, key_id: str, raw: bytes, work: Any) -> Response:
    """Same flow as ours: look up, claim, create, store the response, in one transaction."""
    idem = request.headers.get("idempotency-key")
    async with DB.write() as tx:
        if idem is not None:
            canonical = json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":"))
            fingerprint = hashlib.sha256(
                f"POST\n{request.url.path}\n{canonical}".encode()
            ).hexdigest()
            now = datetime.now(UTC)
            record = await tx.one(
                "SELECT fingerprint, status_code, response_body, location, expires_at "
                "FROM idempotency_records WHERE api_key_id = ? AND key = ?",
                key_id,
                idem,
            )
            if record is None:
                claimed = await tx.one(
                    "INSERT INTO idempotency_records (api_key_id, key, fingerprint, status_code,"
                    " response_body, location, created_at, expires_at) VALUES (?, ?, ?, 0, ?,"
                    " NULL, ?, ?) ON CONFLICT DO NOTHING RETURNING key",
                    key_id,
                    idem,
                    fingerprint,
                    b"",
                    DB.ts(now),
                    DB.ts(now),
                )
                if claimed is None:
                    return problem(409, "idempotency_in_flight")
            else:
                if record[0] != fingerprint:
                    return problem(422, "idempotency_key_reused")
                headers = {"Idempotent-Replayed": "true"}
                if record[3]:
                    headers["Location"] = record[3]
                return Response(
                    bytes(record[2]), record[1], headers=headers, media_type="application/json"
                )
        result = await work(tx)
        if isinstance(result, Response):
            raise Denied(result.status_code, "refused")
        body, location = dumps(result[0]), result[1]
        if idem is not None:
            await tx.run(
                "UPDATE idempotency_records SET status_code = 201, response_body = ?, "
                "location = ?, expires_at = ? WHERE api_key_id = ? AND key = ?",
                body,
                location,
                DB.ts(datetime.now(UTC) + IDEMPOTENCY_TTL),
                key_id,
                idem,
            )
    return Response(body, 201, headers={"Location": location}, media_type="application/json")


@app.exception_handler(Denied)
async def denied(_: Request, error: Exception) -> Response:
    assert isinstance(error, Denied)
    return problem(error.status, error.code)


# --- endpoints --------------------------------------------------------------------------------


@app.post("/v1/spaces/{space_id}/threads/messages")
async def create_thread_with_message(space_id: str, request: Request) -> Response:
    async with DB.read() as tx:
        key = await authenticate(tx, request.headers.get("x-api-key"))
        await check_space(tx, key, space_id, "write")
    raw = await request.body()
    body = parse_body(raw, {"content", "author", "metadata", "title", "thread_metadata"})

    async def work(tx: Any) -> tuple[dict[str, Any], str]:
        now = datetime.now(UTC)
        ts = DB.ts(now)
        thread_id, message_id = new_id("thr"), new_id("msg")
        content = body["content"]
        title = (
            body.get("title")
            or next(line.strip() for line in content.splitlines() if line.strip())[:100]
        )
        thread_meta, meta = body.get("thread_metadata", {}), body.get("metadata", {})
        await tx.run(
            f"INSERT INTO threads ({THREAD_COLUMNS}) VALUES (?, ?, ?, 'open', ?, 1, ?, ?, ?, NULL)",
            thread_id,
            space_id,
            title,
            DB.json_param(thread_meta),
            ts,
            ts,
            ts,
        )
        await tx.run(
            f"INSERT INTO messages ({MESSAGE_COLUMNS}) VALUES (?, ?, ?, 1, ?, ?, ?, ?)",
            message_id,
            space_id,
            thread_id,
            body.get("author"),
            content,
            DB.json_param(meta),
            ts,
        )
        out = DB.ts_out(DB.ts(now)) if DB.dialect == "sqlite" else DB.ts_out(now)
        thread = {
            "id": thread_id,
            "object": "thread",
            "space_id": space_id,
            "title": title,
            "status": "open",
            "metadata": thread_meta,
            "message_count": 1,
            "last_message_at": out,
            "created_at": out,
            "updated_at": out,
            "archived_at": None,
        }
        message = {
            "id": message_id,
            "object": "message",
            "space_id": space_id,
            "thread_id": thread_id,
            "seq": 1,
            "author": body.get("author"),
            "content": content,
            "metadata": meta,
            "created_at": out,
        }
        return (
            {"object": "thread_with_message", "thread": thread, "message": message},
            f"/v1/spaces/{space_id}/threads/{thread_id}",
        )

    return await idempotent(request, key[0], raw, work)


@app.get("/v1/spaces/{space_id}/threads")
async def list_threads(space_id: str, request: Request, limit: int = 50) -> Response:
    async with DB.read() as tx:
        key = await authenticate(tx, request.headers.get("x-api-key"))
        await check_space(tx, key, space_id, "read")
        rows = await tx.all(
            f"SELECT {THREAD_COLUMNS} FROM threads WHERE space_id = ? "
            "AND status IN ('open', 'locked') ORDER BY last_message_at DESC, id DESC LIMIT ?",
            space_id,
            limit + 1,
        )
    items = [thread_json(r) for r in rows[:limit]]
    has_more = len(rows) > limit
    next_cursor = None
    headers = {}
    if has_more:
        last = items[-1]
        next_cursor = cursor(f"threads:{space_id}", [last["last_message_at"], last["id"]])
        headers["Link"] = f'<{request.url.include_query_params(cursor=next_cursor)}>; rel="next"'
    body = {"object": "list", "data": items, "has_more": has_more, "next_cursor": next_cursor}
    return Response(dumps(body), headers=headers, media_type="application/json")


@app.get("/v1/spaces/{space_id}/threads/{thread_id}")
async def get_thread(space_id: str, thread_id: str, request: Request) -> Response:
    async with DB.read() as tx:
        key = await authenticate(tx, request.headers.get("x-api-key"))
        await check_space(tx, key, space_id, "read")
        row = await tx.one(
            f"SELECT {THREAD_COLUMNS} FROM threads WHERE id = ? AND space_id = ?",
            thread_id,
            space_id,
        )
    if row is None:
        return problem(404, "thread_not_found")
    body = dumps(thread_json(row))
    etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers={"ETag": etag})
    return Response(body, headers={"ETag": etag}, media_type="application/json")


@app.get("/v1/spaces/{space_id}/threads/{thread_id}/messages")
async def list_messages(
    space_id: str, thread_id: str, request: Request, limit: int = 50
) -> Response:
    async with DB.read() as tx:
        key = await authenticate(tx, request.headers.get("x-api-key"))
        await check_space(tx, key, space_id, "read")
        status = await tx.one(
            "SELECT status FROM threads WHERE id = ? AND space_id = ?", thread_id, space_id
        )
        if status is None:
            return problem(404, "thread_not_found")
        rows = await tx.all(
            f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE thread_id = ? ORDER BY seq LIMIT ?",
            thread_id,
            limit + 1,
        )
    items = [message_json(r) for r in rows[:limit]]
    has_more = len(rows) > limit
    next_cursor = None
    headers = {}
    if has_more:
        next_cursor = cursor(f"messages:{thread_id}", [items[-1]["seq"]])
        headers["Link"] = f'<{request.url.include_query_params(cursor=next_cursor)}>; rel="next"'
    body = {"object": "list", "data": items, "has_more": has_more, "next_cursor": next_cursor}
    return Response(dumps(body), headers=headers, media_type="application/json")


@app.post("/v1/spaces/{space_id}/threads/{thread_id}/messages")
async def create_message(space_id: str, thread_id: str, request: Request) -> Response:
    async with DB.read() as tx:
        key = await authenticate(tx, request.headers.get("x-api-key"))
        await check_space(tx, key, space_id, "write")
    raw = await request.body()
    body = parse_body(raw, {"content", "author", "metadata"})

    async def work(tx: Any) -> tuple[dict[str, Any], str] | Response:
        now = datetime.now(UTC)
        ts = DB.ts(now)
        seq_row = await tx.one(
            "UPDATE threads SET message_count = message_count + 1, last_message_at = ?, "
            "updated_at = ? WHERE id = ? AND space_id = ? AND status = 'open' "
            "RETURNING message_count",
            ts,
            ts,
            thread_id,
            space_id,
        )
        if seq_row is None:
            return problem(409, "thread_closed")
        message_id = new_id("msg")
        meta = body.get("metadata", {})
        await tx.run(
            f"INSERT INTO messages ({MESSAGE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            message_id,
            space_id,
            thread_id,
            seq_row[0],
            body.get("author"),
            body["content"],
            DB.json_param(meta),
            ts,
        )
        out = DB.ts_out(ts) if DB.dialect == "sqlite" else DB.ts_out(now)
        message = {
            "id": message_id,
            "object": "message",
            "space_id": space_id,
            "thread_id": thread_id,
            "seq": seq_row[0],
            "author": body.get("author"),
            "content": body["content"],
            "metadata": meta,
            "created_at": out,
        }
        return message, f"/v1/spaces/{space_id}/threads/{thread_id}/messages/{message_id}"

    return await idempotent(request, key[0], raw, work)
