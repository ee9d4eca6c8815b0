"""All SQL about messages."""

from collections.abc import Sequence

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from threads_api.kit.pagination import Order, keyset_page
from threads_api.models import Message


async def add(session: AsyncSession, message: Message) -> None:
    # A Core insert: one statement, no unit-of-work bookkeeping for a row we never change.
    await session.execute(
        insert(Message.__table__).values(
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
) -> Message | None:
    return await session.scalar(
        select(Message).where(
            Message.id == message_id, Message.thread_id == thread_id, Message.space_id == space_id
        )
    )


async def page(
    session: AsyncSession,
    thread_id: str,
    *,
    after_seq: int | None,
    order: Order,
    after: int | None,
    limit: int,
) -> Sequence[Message]:
    query = select(Message).where(Message.thread_id == thread_id)
    if after_seq is not None:
        query = query.where(Message.seq > after_seq)
    query = keyset_page(
        query, [Message.seq], None if after is None else [after], order=order, limit=limit
    )
    return (await session.scalars(query)).all()
