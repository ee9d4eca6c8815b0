"""Messages: listing, reading, and adding them to open threads."""

from sqlalchemy.ext.asyncio import AsyncSession

from threads_api.errors import NotFound, ThreadClosed
from threads_api.idempotency.service import Created
from threads_api.kit.ids import is_valid_id, new_id
from threads_api.kit.pagination import Order
from threads_api.kit.schemas import utcnow
from threads_api.message import repository
from threads_api.message.schemas import Message, MessageCreate
from threads_api.models import Message as MessageRow
from threads_api.thread import repository as thread_repository
from threads_api.thread.errors import ThreadNotFound


class MessageNotFound(NotFound):
    code = "message_not_found"
    title = "Message not found"

    def __init__(self) -> None:
        super().__init__("No message with this id exists in this thread.")


class MessageService:
    async def create(
        self, session: AsyncSession, space_id: str, thread_id: str, body: MessageCreate
    ) -> Created:
        """Append a message. Its seq comes from the thread row's counter, bumped in the same
        transaction, so seqs stay dense under any number of writers (ADR 0001)."""
        if not is_valid_id("thr", thread_id):
            raise ThreadNotFound()
        now = utcnow()
        counted = await thread_repository.next_seq(session, space_id, thread_id, now)
        if counted is None:
            status = await thread_repository.status_of(session, space_id, thread_id)
            if status is None:
                raise ThreadNotFound()
            raise ThreadClosed(f"The thread is {status}; it accepts no new messages.")
        seq, now = counted
        message = MessageRow(
            id=new_id("msg"),
            space_id=space_id,
            thread_id=thread_id,
            seq=seq,
            author=body.author,
            content=body.content,
            metadata_=body.metadata,
            created_at=now,
        )
        await repository.add(session, message)
        location = f"/v1/spaces/{space_id}/threads/{thread_id}/messages/{message.id}"
        return Created(Message.model_validate(message), location)

    async def get(
        self, session: AsyncSession, space_id: str, thread_id: str, message_id: str
    ) -> Message:
        if not is_valid_id("thr", thread_id) or not is_valid_id("msg", message_id):
            raise MessageNotFound()
        row = await repository.get(session, space_id, thread_id, message_id)
        if row is None:
            raise MessageNotFound()
        return Message.model_validate(row)

    async def page(
        self,
        session: AsyncSession,
        space_id: str,
        thread_id: str,
        *,
        after_seq: int | None,
        order: Order,
        after: int | None,
        limit: int,
    ) -> tuple[list[Message], bool]:
        if not is_valid_id("thr", thread_id) or (
            await thread_repository.status_of(session, space_id, thread_id) is None
        ):
            raise ThreadNotFound()
        rows = await repository.page(
            session, thread_id, after_seq=after_seq, order=order, after=after, limit=limit
        )
        return [Message.model_validate(r) for r in rows[:limit]], len(rows) > limit


message = MessageService()
