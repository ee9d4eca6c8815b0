"""All SQL about messages."""

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Row, RowMapping, Table, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from threads_api.kit.pagination import Order, keyset_page
from threads_api.models import Message, MessageVersion

# Messages are read as Core rows and changed with Core statements: no ORM instances.
messages = cast(Table, Message.__table__)
versions = cast(Table, MessageVersion.__table__)


async def add(session: AsyncSession, message: Message) -> None:
    # A Core insert: one statement, no unit-of-work bookkeeping for a row we never change.
    await session.execute(
        insert(messages).values(
            id=message.id,
            space_id=message.space_id,
            thread_id=message.thread_id,
            seq=message.seq,
            author=message.author,
            content=message.content,
            metadata=message.metadata_,
            created_at=message.created_at,
            version=message.version,
            edited_at=message.edited_at,
            deleted_at=message.deleted_at,
        )
    )


async def get(
    session: AsyncSession, space_id: str, thread_id: str, message_id: str
) -> Row[Any] | None:
    query = select(messages).where(
        messages.c.id == message_id,
        messages.c.thread_id == thread_id,
        messages.c.space_id == space_id,
    )
    return (await session.execute(query)).first()


async def page(
    session: AsyncSession,
    thread_id: str,
    *,
    after_seq: int | None,
    order: Order,
    after: int | None,
    limit: int,
) -> Sequence[Row[Any]]:
    query = select(messages).where(messages.c.thread_id == thread_id)
    if after_seq is not None:
        query = query.where(messages.c.seq > after_seq)
    query = keyset_page(
        query, [messages.c.seq], None if after is None else [after], order=order, limit=limit
    )
    return (await session.execute(query)).all()


async def change(session: AsyncSession, message_id: str, values: dict[str, Any]) -> None:
    await session.execute(update(messages).where(messages.c.id == message_id).values(**values))


async def add_version(
    session: AsyncSession,
    message_id: str,
    version: int,
    content: str,
    metadata: dict[str, str],
    created_at: Any,
) -> None:
    await session.execute(
        insert(versions).values(
            message_id=message_id,
            version=version,
            content=content,
            metadata=metadata,
            created_at=created_at,
        )
    )


async def version_contents(session: AsyncSession, message_id: str) -> list[str]:
    query = select(versions.c.content).where(versions.c.message_id == message_id)
    return list((await session.scalars(query)).all())


async def delete_versions(session: AsyncSession, message_id: str) -> None:
    await session.execute(delete(versions).where(versions.c.message_id == message_id))


async def versions_page(
    session: AsyncSession, message_id: str, *, after: int | None, limit: int
) -> Sequence[Row[Any]]:
    """Earlier versions, newest first: a range of the primary key (message_id, version)."""
    query = select(versions).where(versions.c.message_id == message_id)
    query = keyset_page(
        query, [versions.c.version], None if after is None else [after], order="desc", limit=limit
    )
    return (await session.execute(query)).all()


async def latest_live(
    session: AsyncSession, thread_id: str, preview_length: int
) -> RowMapping | None:
    """The newest message of the thread that is not erased, with the start of its content:
    walks the (thread_id, seq) index backwards from the end, past any tombstones."""
    query = (
        select(
            messages.c.id,
            messages.c.seq,
            messages.c.author,
            func.substr(messages.c.content, 1, preview_length).label("preview"),
            messages.c.created_at,
        )
        .where(messages.c.thread_id == thread_id, messages.c.deleted_at.is_(None))
        .order_by(messages.c.seq.desc())
        .limit(1)
    )
    return (await session.execute(query)).mappings().first()
