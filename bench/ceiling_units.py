"""The ceiling's units of work: each request's SQL, once, for every driver.

A unit is a generator: it yields `(sql, args)` and is sent back the rows (a list of tuples or
asyncpg records) until it returns its result. The drivers in `ceiling_db.py` run it inline,
in one hop to a connection's thread, batched under one commit, or one awaited statement at a
time (aiosqlite, asyncpg), so every variant runs exactly the same statements. SQL is written
with `?` placeholders; the PostgreSQL driver numbers them once per statement text.

The statements are the service's, in the same transactions (`src/threads_api/*/repository.py`):
the idempotency record is looked up, claimed, and completed with the stored response in the
write transaction that bumps the thread's counter (seq) and inserts the message, and each
created row's event is appended to the space's change feed (contract §14) in that
transaction, as the service appends it (`src/threads_api/event/repository.py`): with the
row's INSERT in one statement on PostgreSQL, after it on SQLite. `EVENTS = False`
(`CEILING_EVENTS=off`) leaves the events out: the durable work of a create before §14.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
from collections.abc import Generator
from datetime import UTC, datetime, timedelta
from typing import Any

Unit = Generator[tuple[str, tuple[Any, ...]], list[Any], Any]

THREAD_COLUMNS = (
    "id, space_id, title, status, metadata, message_count, last_message_at, created_at, "
    "updated_at, archived_at, last_message_id, last_message_seq, last_message_author, "
    "last_message_preview, last_message_created_at"
)
MESSAGE_COLUMNS = (
    "id, space_id, thread_id, seq, author, content, metadata, created_at, version, edited_at, "
    "deleted_at"
)
PREVIEW_LENGTH = 200
TITLE_LENGTH = 100
IDEMPOTENCY_TTL = timedelta(hours=24)
# Whether creates append their events (`use_events`, from CEILING_EVENTS).
EVENTS = True

_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
try:  # CEILING_JSON=orjson picks it when installed (a bench-only package)
    import orjson
except ImportError:  # pragma: no cover - depends on the environment
    orjson = None


def json_dumps_stdlib(value: Any) -> bytes:
    return _encoder.encode(value).encode()


dumps = json_dumps_stdlib


def use_events(on: bool) -> None:
    global EVENTS
    EVENTS = on


def use_orjson() -> None:
    global dumps
    if orjson is None:
        raise RuntimeError("CEILING_JSON=orjson needs `.venv/bin/pip install orjson`")
    dumps = orjson.dumps


def metadata_in(stored: Any) -> Any:
    """A JSON column's text as a value; the common empty object without a parse."""
    if stored == "{}":
        return {}
    return json.loads(stored) if isinstance(stored, str | bytes) else stored


# --- ids, timestamps ------------------------------------------------------------------------

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_id_lock = threading.Lock()
_last = [0, 0]


def new_id(prefix: str) -> str:
    """The service's ids: 48 bits of milliseconds, 80 random bits, incremented within a ms."""
    with _id_lock:
        ms = time.time_ns() // 1_000_000
        if ms <= _last[0]:
            ms, rnd = _last[0], (_last[1] + 1) & ((1 << 80) - 1)
        else:
            rnd = secrets.randbits(80)
        _last[0], _last[1] = ms, rnd
    value = (ms << 80) | rnd
    return prefix + "_" + "".join(ALPHABET[(value >> (5 * i)) & 31] for i in range(25, -1, -1))


class SqliteDialect:
    """Timestamps as SQLAlchemy stores them in SQLite: naive UTC text with microseconds."""

    name = "sqlite"

    @staticmethod
    def ts(value: datetime) -> Any:
        return value.replace(tzinfo=None).isoformat(" ", "microseconds")

    @staticmethod
    def out(value: Any) -> str | None:
        return None if value is None else value.replace(" ", "T") + "Z"


class PostgresDialect:
    name = "postgresql"

    @staticmethod
    def ts(value: datetime) -> Any:
        return value

    @staticmethod
    def out(value: Any) -> str | None:
        if value is None:
            return None
        return value.astimezone(UTC).isoformat(timespec="microseconds")[:-6] + "Z"


# --- rendering --------------------------------------------------------------------------------


def thread_json(d: Any, r: Any) -> dict[str, Any]:
    last = None
    if r[10] is not None:
        last = {
            "id": r[10],
            "seq": r[11],
            "author": r[12],
            "preview": r[13],
            "created_at": d.out(r[14]),
        }
    return {
        "id": r[0],
        "object": "thread",
        "space_id": r[1],
        "title": r[2],
        "status": r[3],
        "metadata": metadata_in(r[4]),
        "message_count": r[5],
        "last_message_at": d.out(r[6]),
        "created_at": d.out(r[7]),
        "updated_at": d.out(r[8]),
        "archived_at": d.out(r[9]),
        "last_message": last,
    }


def message_json(d: Any, r: Any) -> dict[str, Any]:
    return {
        "id": r[0],
        "object": "message",
        "space_id": r[1],
        "thread_id": r[2],
        "seq": r[3],
        "author": r[4],
        "content": r[5],
        "metadata": metadata_in(r[6]),
        "version": r[8],
        "created_at": d.out(r[7]),
        "edited_at": d.out(r[9]),
        "deleted_at": d.out(r[10]),
    }


def etag(body: bytes) -> bytes:
    return b'"' + hashlib.sha256(body).hexdigest()[:32].encode() + b'"'


class Problem(Exception):
    """An error answer. Raised by the HTTP layer; *returned* by a write unit, which tells the
    driver to roll the unit back (a request that ends in an error stores nothing)."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        headers: list[tuple[bytes, bytes]] = (),
        errors: list[dict[str, Any]] | None = None,
    ) -> None:
        self.status, self.code, self.detail = status, code, detail
        self.headers, self.errors = list(headers), errors


class Created:
    __slots__ = ("body", "location")

    def __init__(self, body: bytes, location: str) -> None:
        self.body, self.location = body, location


class Replay:
    __slots__ = ("body", "location", "status")

    def __init__(self, status: int, body: bytes, location: str | None) -> None:
        self.status, self.body, self.location = status, body, location


class Idem:
    """A request's Idempotency-Key, scoped to its API key, with its request's fingerprint."""

    __slots__ = ("api_key_id", "fingerprint", "key")

    def __init__(self, api_key_id: str, key: str, fingerprint: str) -> None:
        self.api_key_id, self.key, self.fingerprint = api_key_id, key, fingerprint


# --- reads ----------------------------------------------------------------------------------


def lookup_key(secret_hash: str) -> Unit:
    rows = yield (
        "SELECT id, scopes, revoked_at, last_used_at FROM api_keys WHERE secret_hash = ?",
        (secret_hash,),
    )
    if not rows or rows[0][2] is not None:
        return None
    key_id, scopes, _, last_used = rows[0]
    spaces = yield (
        "SELECT space_id FROM api_key_spaces WHERE api_key_id = ? ORDER BY space_id",
        (key_id,),
    )
    return key_id, metadata_in(scopes), last_used, [r[0] for r in spaces]


def touch_key(d: Any, key_id: str, now: datetime) -> Unit:
    yield (
        "UPDATE api_keys SET last_used_at = ? WHERE id = ? "
        "AND (last_used_at IS NULL OR last_used_at < ?)",
        (d.ts(now), key_id, d.ts(now - timedelta(minutes=1))),
    )
    return None


def space_exists(space_id: str) -> Unit:
    rows = yield ("SELECT id FROM spaces WHERE id = ?", (space_id,))
    return bool(rows)


def read_thread(space_id: str, thread_id: str) -> Unit:
    rows = yield (
        f"SELECT {THREAD_COLUMNS} FROM threads WHERE id = ? AND space_id = ?",
        (thread_id, space_id),
    )
    return rows[0] if rows else None


def _message_page_sql(order: str, after_seq: bool, cursor: bool) -> str:
    where = " AND seq > ?" if after_seq else ""
    if cursor:
        where += f" AND seq {'>' if order == 'asc' else '<'} ?"
    return (
        f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE thread_id = ?{where} "
        f"ORDER BY seq {order.upper()} LIMIT ?"
    )


_MESSAGE_PAGES = {
    (o, s, c): _message_page_sql(o, s, c)
    for o in ("asc", "desc")
    for s in (False, True)
    for c in (False, True)
}


def message_page(
    space_id: str, thread_id: str, order: str, after_seq: int | None, after: int | None, limit: int
) -> Unit:
    """None when the thread is not there; else up to limit + 1 rows (so has_more is exact)."""
    status = yield (
        "SELECT status FROM threads WHERE id = ? AND space_id = ?",
        (thread_id, space_id),
    )
    if not status:
        return None
    args = (thread_id, *(v for v in (after_seq, after) if v is not None), limit + 1)
    return (yield (_MESSAGE_PAGES[(order, after_seq is not None, after is not None)], args))


def thread_page(space_id: str, after: tuple[Any, str] | None, limit: int) -> Unit:
    """The default list: open and locked threads, most recently active first."""
    if after is None:
        rows = yield (
            f"SELECT {THREAD_COLUMNS} FROM threads WHERE space_id = ? "
            "AND status IN ('open', 'locked') ORDER BY last_message_at DESC, id DESC LIMIT ?",
            (space_id, limit + 1),
        )
    else:
        rows = yield (
            f"SELECT {THREAD_COLUMNS} FROM threads WHERE space_id = ? "
            "AND status IN ('open', 'locked') AND (last_message_at, id) < (?, ?) "
            "ORDER BY last_message_at DESC, id DESC LIMIT ?",
            (space_id, after[0], after[1], limit + 1),
        )
    return rows


def revocation_count() -> Unit:
    rows = yield ("SELECT value FROM revocation_counter WHERE id = 1", ())
    return rows[0][0] if rows else None


# --- writes ---------------------------------------------------------------------------------


def claim(d: Any, idem: Idem, now: datetime) -> Unit:
    """None when this request claimed the key; else the Replay or Problem to answer with
    (`idempotency/service.py` `claim`, the same statements)."""
    select = (
        "SELECT fingerprint, status_code, response_body, location, expires_at "
        "FROM idempotency_records WHERE api_key_id = ? AND key = ?"
    )
    ts = d.ts(now)
    rows = yield (select, (idem.api_key_id, idem.key))
    record = rows[0] if rows else None
    if record is None or record[4] <= ts:
        if record is not None:
            yield (
                "DELETE FROM idempotency_records WHERE api_key_id = ? AND key = ? "
                "AND expires_at <= ?",
                (idem.api_key_id, idem.key, ts),
            )
        claimed = yield (
            "INSERT INTO idempotency_records (api_key_id, key, fingerprint, status_code, "
            "response_body, location, created_at, expires_at) VALUES (?, ?, ?, 0, ?, NULL, ?, ?) "
            "ON CONFLICT DO NOTHING RETURNING key",
            (idem.api_key_id, idem.key, idem.fingerprint, b"", ts, ts),
        )
        if claimed:
            return None
        rows = yield (select, (idem.api_key_id, idem.key))
        record = rows[0] if rows else None
        if record is None:
            return Problem(
                409,
                "idempotency_in_flight",
                "A request with this key is still running; retry shortly with the same key.",
                [(b"retry-after", b"1")],
            )
    if record[0] != idem.fingerprint:
        return Problem(
            422,
            "idempotency_key_reused",
            "This Idempotency-Key was used with another request (method, path or body).",
        )
    return Replay(record[1], bytes(record[2]), record[3])


def complete(d: Any, idem: Idem, body: bytes, location: str) -> Unit:
    yield (
        "UPDATE idempotency_records SET status_code = 201, response_body = ?, location = ?, "
        "expires_at = ? WHERE api_key_id = ? AND key = ?",
        (body, location, d.ts(datetime.now(UTC) + IDEMPOTENCY_TTL), idem.api_key_id, idem.key),
    )


_STAMP = "CASE WHEN last_message_at > ? THEN last_message_at ELSE ? END"
_NEXT_SEQ = (
    f"UPDATE threads SET message_count = message_count + 1, last_message_at = {_STAMP}, "
    f"updated_at = {_STAMP}, last_message_id = ?, last_message_seq = message_count + 1, "
    f"last_message_author = ?, last_message_preview = ?, last_message_created_at = {_STAMP} "
    "WHERE id = ? AND space_id = ? AND status = 'open' RETURNING message_count, last_message_at"
)
_INSERT_MESSAGE = (
    f"INSERT INTO messages ({MESSAGE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, NULL, NULL)"
)


def create_message(
    d: Any, space_id: str, thread_id: str, body: dict[str, Any], idem: Idem | None
) -> Unit:
    """POST message: claim the key, bump the thread's counter (the seq), insert, store."""
    now = datetime.now(UTC)
    if idem is not None:
        answer = yield from claim(d, idem, now)
        if answer is not None:
            return answer
    message_id = new_id("msg")
    content, author = body["content"], body.get("author")
    ts = d.ts(now)
    rows = yield (
        _NEXT_SEQ,
        (ts, ts, ts, ts, message_id, author, content[:PREVIEW_LENGTH], ts, ts, thread_id, space_id),
    )
    if not rows:
        status = yield (
            "SELECT status FROM threads WHERE id = ? AND space_id = ?",
            (thread_id, space_id),
        )
        if not status:
            return Problem(404, "thread_not_found", "No thread with this id exists in this space.")
        return Problem(
            409, "thread_closed", f"The thread is {status[0][0]}; it accepts no new messages."
        )
    seq, stamp = rows[0]
    metadata = body.get("metadata", {})
    data = dumps(
        {
            "id": message_id,
            "object": "message",
            "space_id": space_id,
            "thread_id": thread_id,
            "seq": seq,
            "author": author,
            "content": content,
            "metadata": metadata,
            "version": 1,
            "created_at": d.out(stamp),
            "edited_at": None,
            "deleted_at": None,
        }
    )
    insert = (
        _INSERT_MESSAGE,
        (message_id, space_id, thread_id, seq, author, content, json.dumps(metadata), stamp),
    )
    yield from insert_with_event(
        d, insert, space_id, "message.created", thread_id, message_id, stamp, data
    )
    location = f"/v1/spaces/{space_id}/threads/{thread_id}/messages/{message_id}"
    if idem is not None:
        yield from complete(d, idem, data, location)
    return Created(data, location)


_EVENT_COLUMNS = "space_id, id, position, type, thread_id, message_id, created_at, data"
# The space's next position from its counter row; migration 0004's trigger moves it on.
_SQLITE_APPEND = (
    f"INSERT INTO events ({_EVENT_COLUMNS}) SELECT ?, ?, coalesce((SELECT last_position"
    " FROM event_counters WHERE space_id = ?), 0) + 1, ?, ?, ?, ?, ? RETURNING position"
)
# Bump the counter row (held to the commit: positions commit in order), insert, notify:
# the CTEs that follow the row's own `WITH written AS (…)` (insert_with_event).
_POSTGRES_APPEND_CTES = (
    "bumped AS (INSERT INTO event_counters (space_id, last_position, purged_through)"
    " VALUES (?::text, 1, 0) ON CONFLICT (space_id)"
    " DO UPDATE SET last_position = event_counters.last_position + 1"
    " RETURNING last_position),"
    f" added AS (INSERT INTO events ({_EVENT_COLUMNS}) SELECT ?::text, ?::text, last_position,"
    " ?::text, ?::text, ?::text, ?::timestamptz, ?::text FROM bumped RETURNING position)"
    " SELECT position, pg_notify('threads_api_events', ?::text || ':' || position::text)"
    " FROM added"
)


def insert_with_event(
    d: Any,
    insert: tuple[str, tuple[Any, ...]],
    space_id: str,
    kind: str,
    thread_id: str,
    message_id: str | None,
    created_at: Any,
    data: bytes,
) -> Unit:
    """A created row and its event: one statement on PostgreSQL, two on SQLite."""
    sql, args = insert
    if not EVENTS:
        yield sql, args
        return
    event_id, event_data = new_id("evt"), data.decode()
    event = (kind, thread_id, message_id, created_at, event_data)
    if d.name == "sqlite":
        yield sql, args
        yield _SQLITE_APPEND, (space_id, event_id, space_id, *event)
    else:
        appended = (space_id, space_id, event_id, *event, space_id)
        yield f"WITH written AS ({sql}), {_POSTGRES_APPEND_CTES}", (*args, *appended)


def default_title(content: str) -> str:
    line = next(line.strip() for line in content.splitlines() if line.strip())
    return line if len(line) <= TITLE_LENGTH else line[: TITLE_LENGTH - 1] + "…"


def create_thread(d: Any, space_id: str, body: dict[str, Any], idem: Idem | None) -> Unit:
    """POST thread+message: claim the key, insert the thread and its first message, store."""
    now = datetime.now(UTC)
    if idem is not None:
        answer = yield from claim(d, idem, now)
        if answer is not None:
            return answer
    thread_id, message_id = new_id("thr"), new_id("msg")
    content, author = body["content"], body.get("author")
    title = body.get("title") or default_title(content)
    thread_meta, metadata = body.get("thread_metadata", {}), body.get("metadata", {})
    preview = content[:PREVIEW_LENGTH]
    ts = d.ts(now)
    out = d.out(ts)
    message = {
        "id": message_id,
        "object": "message",
        "space_id": space_id,
        "thread_id": thread_id,
        "seq": 1,
        "author": author,
        "content": content,
        "metadata": metadata,
        "version": 1,
        "created_at": out,
        "edited_at": None,
        "deleted_at": None,
    }
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
        "last_message": {
            "id": message_id,
            "seq": 1,
            "author": author,
            "preview": preview,
            "created_at": out,
        },
    }
    thread_insert = (
        f"INSERT INTO threads ({THREAD_COLUMNS}) "
        "VALUES (?, ?, ?, 'open', ?, 1, ?, ?, ?, NULL, ?, 1, ?, ?, ?)",
        (
            thread_id,
            space_id,
            title,
            json.dumps(thread_meta),
            ts,
            ts,
            ts,
            message_id,
            author,
            preview,
            ts,
        ),
    )
    yield from insert_with_event(
        d, thread_insert, space_id, "thread.created", thread_id, None, ts, dumps(thread)
    )
    message_insert = (
        _INSERT_MESSAGE,
        (message_id, space_id, thread_id, 1, author, content, json.dumps(metadata), ts),
    )
    yield from insert_with_event(
        d, message_insert, space_id, "message.created", thread_id, message_id, ts, dumps(message)
    )
    data = dumps({"object": "thread_with_message", "thread": thread, "message": message})
    location = f"/v1/spaces/{space_id}/threads/{thread_id}"
    if idem is not None:
        yield from complete(d, idem, data, location)
    return Created(data, location)
