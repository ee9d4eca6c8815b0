"""All SQL about threads."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Row, Table, case, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from threads_api.kit.pagination import Order, keyset_page
from threads_api.models import Thread

# Reads that are only rendered go through Core and come back as rows: building ORM instances
# was the largest single cost of a read (docs/benchmarks.md). Changes load instances (`get`).
threads = cast(Table, Thread.__table__)


async def get(session: AsyncSession, space_id: str, thread_id: str) -> Thread | None:
    return await session.scalar(
        select(Thread).where(Thread.id == thread_id, Thread.space_id == space_id)
    )


async def read(session: AsyncSession, space_id: str, thread_id: str) -> Row[Any] | None:
    return (
        await session.execute(
            select(threads).where(threads.c.id == thread_id, threads.c.space_id == space_id)
        )
    ).first()


async def status_of(session: AsyncSession, space_id: str, thread_id: str) -> str | None:
    return await session.scalar(
        select(Thread.status).where(Thread.id == thread_id, Thread.space_id == space_id)
    )


async def add(session: AsyncSession, thread: Thread) -> None:
    session.add(thread)
    await session.flush()


async def lock(session: AsyncSession, space_id: str, thread_id: str) -> Row[Any] | None:
    """Read the thread and hold its row lock until the transaction ends: every change to a
    thread's messages takes it first, in the same order as `next_seq` (ADR 0007)."""
    query = select(threads).where(threads.c.id == thread_id, threads.c.space_id == space_id)
    return (await session.execute(query.with_for_update())).first()


async def change(session: AsyncSession, thread_id: str, values: dict[str, Any]) -> None:
    await session.execute(update(threads).where(threads.c.id == thread_id).values(**values))


async def next_seq(
    session: AsyncSession,
    space_id: str,
    thread_id: str,
    now: datetime,
    *,
    message_id: str,
    author: str | None,
    preview: str,
) -> tuple[int, datetime] | None:
    """Count a new message into an open thread, make it the thread's last message, and
    return its seq and timestamp; None if the thread is missing or closed. The row lock this
    takes orders concurrent writers (ADR 0001).

    `now` was read before the lock was granted, so a writer that waited may hold an older
    time than the one before it: the timestamp never goes back, keeping `created_at`
    ordered like `seq` and `last_message_at` equal to the newest message's."""
    stamp = case(
        (Thread.last_message_at > now, Thread.last_message_at),
        else_=literal(now, Thread.last_message_at.type),
    )
    row = (
        await session.execute(
            update(Thread)
            .where(Thread.id == thread_id, Thread.space_id == space_id, Thread.status == "open")
            .values(
                message_count=Thread.message_count + 1,
                last_message_at=stamp,
                updated_at=stamp,
                last_message_id=message_id,
                last_message_seq=Thread.message_count + 1,
                last_message_author=author,
                last_message_preview=preview,
                last_message_created_at=stamp,
            )
            .returning(Thread.message_count, Thread.last_message_at)
        )
    ).one_or_none()
    return None if row is None else (row[0], row[1])


async def page(
    session: AsyncSession,
    space_id: str,
    *,
    statuses: Sequence[str],
    sort: str,
    order: Order,
    after: Sequence[Any] | None,
    limit: int,
) -> Sequence[Row[Any]]:
    sort_column = threads.c.last_message_at if sort == "last_message_at" else threads.c.created_at
    query = select(threads).where(threads.c.space_id == space_id, threads.c.status.in_(statuses))
    query = keyset_page(query, [sort_column, threads.c.id], after, order=order, limit=limit)
    return (await session.execute(query)).all()
