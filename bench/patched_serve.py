"""`threads-api serve` with experimental patches, to measure an optimisation before making it.

    BENCH_PATCHES=onehop,noreset .venv/bin/python bench/patched_serve.py --port 8000

Used by bench/experiments.py only. Each patch imitates, from the outside, what a change to
src/ would do, so that its gain can be measured on the real server before anyone writes it:

  onehop        SQLite: one trip to aiosqlite's thread per statement (cursor + execute +
                fetchall + close run together), instead of four
  noreset       no pool "reset on return" ROLLBACK after a session that already committed
  noping        PostgreSQL: no pool pre-ping (one `SELECT 1` round trip per checkout)
  nocache       src/'s PrincipalCache never hits: the "before" of the API-key cache
  nowatch       no revocation watcher, and cached keys trusted for their whole second: the
                "before" of ADR 0005 (revocation within 100 ms in every process)
  trustlog      diagnostic: log how many key lookups found the cache untrusted because the
                revocation watcher's last successful poll began more than 75 ms earlier
  nospacecheck  no `SELECT spaces.id` per request (as if folded into the thread query,
                checked only when that query finds nothing)
  nolog         no per-request JSON log line (log level WARNING)
  core          reads of whole rows (Thread, Message, ApiKey, IdempotencyRecord) as Core
                `select(table)` rows instead of ORM entities: no identity map, no instance
                state (only for read paths: the benchmark's scenarios never mutate such a row)
  prebuilt      the hot reads as module-level Core statements with bindparams, built and
                cache-keyed once: space exists, thread get/status, API key by hash and its
                spaces, idempotency record, first page of messages / threads
  rawjson       list pages returned as a ready JSON Response (Page.model_dump_json once),
                so FastAPI does not dump, re-validate and re-serialise 50 items against the
                response model
  switch        sys.setswitchinterval(0.0005): the aiosqlite thread gets the GIL sooner
  holdtime      diagnostic: log how long each request holds the SQLite write connection
  idemlean      idempotency claims first (INSERT .. ON CONFLICT DO NOTHING) and reads the
                record only when the claim fails: one statement less per new request
"""

from __future__ import annotations

import collections
import os
import sys
import time
from typing import Any

PATCHES = {p for p in os.environ.get("BENCH_PATCHES", "").split(",") if p}


def _onehop() -> None:
    from sqlalchemy.connectors.asyncio import AsyncAdapt_dbapi_cursor
    from sqlalchemy.dialects.sqlite import aiosqlite as dialect
    from sqlalchemy.util.concurrency import await_

    class OneHopCursor(AsyncAdapt_dbapi_cursor):
        def __init__(self, adapt_connection: Any) -> None:
            self._adapt_connection = adapt_connection
            self._connection = adapt_connection._connection
            self._cursor = None
            self._rows = collections.deque()
            self._soft_closed_memoized = {}
            self._meta = (None, -1, None)

        @property
        def description(self) -> Any:
            return self._meta[0]

        @property
        def rowcount(self) -> int:
            return self._meta[1]

        @property
        def lastrowid(self) -> Any:
            return self._meta[2]

        async def _async_soft_close(self) -> None:
            return None

        def close(self) -> None:
            self._rows.clear()

        def execute(self, operation: Any, parameters: Any = None) -> Any:
            conn = self._connection

            def work() -> Any:
                cursor = conn._conn.cursor()
                try:
                    cursor.execute(operation, () if parameters is None else parameters)
                    rows = cursor.fetchall() if cursor.description else []
                    return rows, (cursor.description, cursor.rowcount, cursor.lastrowid)
                finally:
                    cursor.close()

            try:
                rows, self._meta = await_(conn._execute(work))
            except Exception as error:
                self._adapt_connection._handle_exception(error)
            self._rows = collections.deque(rows)

    dialect.AsyncAdapt_aiosqlite_connection._cursor_cls = OneHopCursor


def _noreset() -> None:
    import threads_api.db as db

    original = db.create_async_engine

    def create(*args: Any, **kwargs: Any) -> Any:
        kwargs["pool_reset_on_return"] = None
        return original(*args, **kwargs)

    db.create_async_engine = create


def _nocache() -> None:
    from threads_api.auth.cache import PrincipalCache

    PrincipalCache.get = lambda self, secret_hash: None


def _nowatch() -> None:
    import asyncio

    from threads_api.auth.cache import PrincipalCache
    from threads_api.auth.watcher import RevocationWatcher

    async def idle(self: Any) -> None:
        await asyncio.Event().wait()

    original = PrincipalCache.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self._trusted_until = float("inf")

    RevocationWatcher.run = idle
    PrincipalCache.__init__ = init


def _trustlog() -> None:
    import logging

    from threads_api.auth.cache import PrincipalCache

    original = PrincipalCache.get
    log = logging.getLogger("bench.trustlog")
    counts = {"lookups": 0, "untrusted": 0}

    def get(self: Any, secret_hash: str) -> Any:
        counts["lookups"] += 1
        counts["untrusted"] += time.monotonic() >= self._trusted_until
        if counts["lookups"] % 1000 == 0:
            log.warning("cache untrusted for %(untrusted)d of %(lookups)d key lookups", counts)
        return original(self, secret_hash)

    PrincipalCache.get = get


def _noping() -> None:
    import threads_api.db as db

    original = db.create_async_engine

    def create(*args: Any, **kwargs: Any) -> Any:
        kwargs["pool_pre_ping"] = False
        return original(*args, **kwargs)

    db.create_async_engine = create


def _holdtime() -> None:
    import logging

    from sqlalchemy import event

    import threads_api.db as db

    original = db.Database.__init__
    log = logging.getLogger("bench.holdtime")

    def init(self: Any, settings: Any, *args: Any, **kwargs: Any) -> None:
        original(self, settings, *args, **kwargs)
        held: list[float] = []
        started: dict[int, float] = {}

        @event.listens_for(self.write_engine.sync_engine.pool, "checkout")
        def checkout(dbapi_conn: Any, record: Any, proxy: Any) -> None:
            started[id(record)] = time.perf_counter()

        @event.listens_for(self.write_engine.sync_engine.pool, "checkin")
        def checkin(dbapi_conn: Any, record: Any) -> None:
            begun = started.pop(id(record), None)
            if begun is None:
                return
            held.append(time.perf_counter() - begun)
            if len(held) == 200:
                held.sort()
                log.warning(
                    "write connection held: p50 %.2f ms, p90 %.2f ms, mean %.2f ms",
                    held[100] * 1e3,
                    held[180] * 1e3,
                    sum(held) / len(held) * 1e3,
                )
                held.clear()

    db.Database.__init__ = init


def _idemlean() -> None:
    """Claim first; read the record only when the key is taken (written for the claim() of
    the working tree at the time: "claimed" | "taken" | "busy")."""
    from threads_api.idempotency import repository, service
    from threads_api.kit.schemas import utcnow

    original = service.IdempotencyService.create

    async def create(self: Any, session: Any, idem: Any, create: Any) -> Any:
        if idem is None:
            return await original(self, session, idem, create)
        claim = await repository.claim(
            session,
            idem.api_key_id,
            idem.key,
            idem.fingerprint,
            utcnow(),
            wait_seconds=idem.wait_seconds,
        )
        if claim != "claimed":
            return await original(self, session, idem, create)  # the full, careful path
        created = await create()
        body = created.body.model_dump_json().encode()
        await repository.complete(
            session,
            idem.api_key_id,
            idem.key,
            status_code=201,
            body=body,
            location=created.location,
            expires_at=utcnow() + idem.ttl,
        )
        return service._response(201, body, created.location, replayed=False)

    service.IdempotencyService.create = create


def _core() -> None:
    from types import SimpleNamespace

    from sqlalchemy.ext.asyncio import AsyncSession
    from sqlalchemy.sql import Select

    scalar, scalars = AsyncSession.scalar, AsyncSession.scalars

    def entity_of(statement: Any) -> Any:
        if not isinstance(statement, Select):
            return None
        descriptions = statement.column_descriptions
        if len(descriptions) != 1:
            return None
        expr = descriptions[0]["expr"]
        return expr if isinstance(expr, type) and hasattr(expr, "__table__") else None

    def as_object(row: Any) -> Any:
        values = dict(row._mapping)
        if "metadata" in values:
            values["metadata_"] = values["metadata"]
        return SimpleNamespace(**values)

    class Rows(list):
        def all(self) -> list:
            return list(self)

    async def core_scalar(self: Any, statement: Any, *args: Any, **kwargs: Any) -> Any:
        entity = entity_of(statement)
        if entity is None:
            return await scalar(self, statement, *args, **kwargs)
        core = statement.with_only_columns(*entity.__table__.columns)
        row = (await (await self.connection()).execute(core)).first()
        return None if row is None else as_object(row)

    async def core_scalars(self: Any, statement: Any, *args: Any, **kwargs: Any) -> Any:
        entity = entity_of(statement)
        if entity is None:
            return await scalars(self, statement, *args, **kwargs)
        core = statement.with_only_columns(*entity.__table__.columns)
        return Rows(as_object(r) for r in (await (await self.connection()).execute(core)).all())

    AsyncSession.scalar = core_scalar
    AsyncSession.scalars = core_scalars


def _prebuilt() -> None:
    from types import SimpleNamespace

    from sqlalchemy import bindparam, select

    from threads_api.auth import repository as auth_repository
    from threads_api.idempotency import repository as idem_repository
    from threads_api.message import repository as message_repository
    from threads_api.models import ApiKey, IdempotencyRecord, Message, Space, Thread
    from threads_api.space import repository as space_repository
    from threads_api.thread import repository as thread_repository

    threads, messages, keys = Thread.__table__, Message.__table__, ApiKey.__table__
    records, spaces = IdempotencyRecord.__table__, Space.__table__
    key_spaces = auth_repository.api_key_spaces
    space_exists = select(spaces.c.id).where(spaces.c.id == bindparam("space_id"))
    thread_by_id = select(threads).where(
        threads.c.id == bindparam("thread_id"), threads.c.space_id == bindparam("space_id")
    )
    thread_status = select(threads.c.status).where(
        threads.c.id == bindparam("thread_id"), threads.c.space_id == bindparam("space_id")
    )
    key_by_hash = select(keys).where(keys.c.secret_hash == bindparam("secret_hash"))
    spaces_of_key = (
        select(key_spaces.c.space_id)
        .where(key_spaces.c.api_key_id == bindparam("key_id"))
        .order_by(key_spaces.c.space_id)
    )
    record_by_key = select(records).where(
        records.c.api_key_id == bindparam("api_key_id"), records.c.key == bindparam("key")
    )
    first_messages = (
        select(messages)
        .where(messages.c.thread_id == bindparam("thread_id"))
        .order_by(messages.c.seq.asc())
        .limit(bindparam("limit"))
    )
    first_threads = (
        select(threads)
        .where(
            threads.c.space_id == bindparam("space_id"), threads.c.status.in_(["open", "locked"])
        )
        .order_by(threads.c.last_message_at.desc(), threads.c.id.desc())
        .limit(bindparam("limit"))
    )

    def obj(row: Any) -> Any:
        if row is None:
            return None
        values = dict(row._mapping)
        if "metadata" in values:
            values["metadata_"] = values["metadata"]
        return SimpleNamespace(**values)

    async def run(session: Any, statement: Any, **params: Any) -> Any:
        return await (await session.connection()).execute(statement, params)

    async def exists(session: Any, space_id: str) -> bool:
        return (await run(session, space_exists, space_id=space_id)).first() is not None

    async def get_thread(session: Any, space_id: str, thread_id: str) -> Any:
        return obj(
            (await run(session, thread_by_id, thread_id=thread_id, space_id=space_id)).first()
        )

    async def status_of(session: Any, space_id: str, thread_id: str) -> Any:
        return (await run(session, thread_status, thread_id=thread_id, space_id=space_id)).scalar()

    async def get_by_hash(session: Any, secret_hash: str) -> Any:
        return obj((await run(session, key_by_hash, secret_hash=secret_hash)).first())

    original_spaces_of = auth_repository.space_ids_of

    async def space_ids_of(session: Any, key_ids: Any) -> Any:
        if len(key_ids) != 1:
            return await original_spaces_of(session, key_ids)
        rows = await run(session, spaces_of_key, key_id=key_ids[0])
        return {key_ids[0]: [r[0] for r in rows]}

    async def get_record(session: Any, api_key_id: str, key: str) -> Any:
        return obj((await run(session, record_by_key, api_key_id=api_key_id, key=key)).first())

    original_message_page = message_repository.page

    async def message_page(session: Any, thread_id: str, **kw: Any) -> Any:
        if kw["after_seq"] is None and kw["after"] is None and kw["order"] == "asc":
            rows = await run(session, first_messages, thread_id=thread_id, limit=kw["limit"] + 1)
            return [obj(r) for r in rows]
        return await original_message_page(session, thread_id, **kw)

    original_thread_page = thread_repository.page

    async def thread_page(session: Any, space_id: str, **kw: Any) -> Any:
        if (
            kw["after"] is None
            and kw["sort"] == "last_message_at"
            and kw["order"] == "desc"
            and tuple(kw["statuses"]) == ("open", "locked")
        ):
            rows = await run(session, first_threads, space_id=space_id, limit=kw["limit"] + 1)
            return [obj(r) for r in rows]
        return await original_thread_page(session, space_id, **kw)

    space_repository.exists = exists
    thread_repository.get = get_thread
    thread_repository.status_of = status_of
    auth_repository.get_by_hash = get_by_hash
    auth_repository.space_ids_of = space_ids_of
    idem_repository.get = get_record
    message_repository.page = message_page
    thread_repository.page = thread_page


def _rawjson() -> None:
    from fastapi import Response

    import threads_api.message.endpoints as message_endpoints
    import threads_api.thread.endpoints as thread_endpoints
    from threads_api import pages

    original = pages.build_page

    def build_page(request: Any, response: Any, items: Any, has_more: bool, **kw: Any) -> Any:
        page = original(request, response, items, has_more, **kw)
        raw = Response(page.model_dump_json(), media_type="application/json")
        if "link" in response.headers:
            raw.headers["Link"] = response.headers["link"]
        return raw

    message_endpoints.build_page = build_page
    thread_endpoints.build_page = build_page


def _switch() -> None:
    sys.setswitchinterval(0.0005)


def _nospacecheck() -> None:
    from threads_api.space import repository

    async def exists(session: Any, space_id: str) -> bool:
        return True

    repository.exists = exists


def main() -> None:
    # prebuilt replaces repository functions that nospacecheck / idemlean override after it.
    order = ["prebuilt", "core", *sorted(PATCHES - {"prebuilt", "core"})]
    for name in [p for p in order if p in PATCHES]:
        if name == "nolog":
            os.environ["THREADS_API_LOG_LEVEL"] = "WARNING"
            continue
        globals()[f"_{name}"]()
    from threads_api.cli import main as cli

    sys.argv = ["threads-api", "serve", *sys.argv[1:]]
    cli()


if __name__ == "__main__":
    main()
