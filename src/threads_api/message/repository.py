"""All SQL about messages."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from threads_api.kit.pagination import Order, keyset_page
from threads_api.models import Message

# Messages are only ever rendered once written: read as Core rows, no ORM instances.
messages = Message.__table__


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
