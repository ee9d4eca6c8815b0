"""`threads-api serve` with experimental patches, to measure an optimisation before making it.

    BENCH_PATCHES=noreset,nolog .venv/bin/python bench/patched_serve.py --port 8000

Used by bench/experiments.py only. Patches that were made in src/ are gone from here: one
trip per SQLite statement (src/threads_api/sqlite_adapter.py), prebuilt hot reads and list
pages encoded once (plain reads, ADR 0011). Each patch imitates, from the outside, what a change to
src/ would do, so that its gain can be measured on the real server before anyone writes it:

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
  switch        sys.setswitchinterval(0.0005): the aiosqlite thread gets the GIL sooner
  holdtime      diagnostic: log how long each request holds the SQLite write connection
  idemlean      idempotency claims first (INSERT .. ON CONFLICT DO NOTHING) and reads the
                record only when the claim fails: one statement less per new request
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

PATCHES = {p for p in os.environ.get("BENCH_PATCHES", "").split(",") if p}


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


def _switch() -> None:
    sys.setswitchinterval(0.0005)


def _nospacecheck() -> None:
    from threads_api.space import repository

    async def exists(session: Any, space_id: str) -> bool:
        return True

    repository.exists = exists


def main() -> None:
    order = ["core", *sorted(PATCHES - {"core"})]
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
