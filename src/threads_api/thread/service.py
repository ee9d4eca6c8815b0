"""Threads: listing, reading, merge-patching, archiving, and starting one with a message."""

import hashlib
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from threads_api.errors import PreconditionFailed
from threads_api.idempotency.service import Created
from threads_api.kit.ids import is_valid_id, new_id
from threads_api.kit.pagination import Order
from threads_api.kit.schemas import format_timestamp, merge_metadata, utcnow
from threads_api.message import repository as message_repository
from threads_api.message.schemas import Message
from threads_api.models import Message as MessageRow
from threads_api.models import Thread as ThreadRow
from threads_api.space.service import check_merged_metadata
from threads_api.thread import repository
from threads_api.thread.errors import ThreadNotFound
from threads_api.thread.schemas import (
    StatusFilter,
    Thread,
    ThreadSort,
    ThreadUpdate,
    ThreadWithMessage,
    ThreadWithMessageCreate,
)

DEFAULT_STATUSES = ("open", "locked")
TITLE_LENGTH = 100


def default_title(content: str) -> str:
    """The first non-blank line of `content`, trimmed, cut to 100 characters with `…`."""
    line = next(line.strip() for line in content.splitlines() if line.strip())
    return line if len(line) <= TITLE_LENGTH else line[: TITLE_LENGTH - 1] + "…"


def etag_of(thread: Thread) -> str:
    """A strong validator: it changes whenever any byte of the representation does."""
    digest = hashlib.sha256(thread.model_dump_json().encode()).hexdigest()[:32]
    return f'"{digest}"'


def _etags(header: str) -> list[str]:
    return [tag.strip() for tag in header.split(",") if tag.strip()]


def if_none_match_hits(header: str | None, etag: str) -> bool:
    """If-None-Match uses the weak comparison (RFC 9110 §13.1.2)."""
    if header is None:
        return False
    tags = _etags(header)
    return "*" in tags or etag in (tag.removeprefix("W/") for tag in tags)


def _check_if_match(header: str | None, etag: str) -> None:
    """If-Match uses the strong comparison (RFC 9110 §13.1.1): weak tags never match."""
    if header is None:
        return
    tags = _etags(header)
    if "*" not in tags and etag not in tags:
        raise PreconditionFailed("The thread changed since you read it (If-Match).")


class ThreadService:
    async def get(self, session: AsyncSession, space_id: str, thread_id: str) -> Thread:
        row = None
        if is_valid_id("thr", thread_id):
            row = await repository.read(session, space_id, thread_id)
        if row is None:
            raise ThreadNotFound()
        return Thread.model_validate(row)

    async def _row(self, session: AsyncSession, space_id: str, thread_id: str) -> ThreadRow:
        row = None
        if is_valid_id("thr", thread_id):
            row = await repository.get(session, space_id, thread_id)
        if row is None:
            raise ThreadNotFound()
        return row

    async def update(
        self,
        session: AsyncSession,
        space_id: str,
        thread_id: str,
        patch: ThreadUpdate,
        *,
        if_match: str | None,
    ) -> Thread:
        row = await self._row(session, space_id, thread_id)
        _check_if_match(if_match, etag_of(Thread.model_validate(row)))
        fields = patch.model_fields_set
        if patch.title is not None:
            row.title = patch.title
        if "metadata" in fields:
            merged = merge_metadata(row.metadata_, patch.metadata)
            check_merged_metadata(merged)
            row.metadata_ = merged
        now = utcnow()
        if patch.status is not None:
            self._set_status(row, patch.status, now)
        if fields:
            row.updated_at = now
        await session.flush()
        return Thread.model_validate(row)

    async def archive(self, session: AsyncSession, space_id: str, thread_id: str) -> Thread:
        """Archive the thread; archiving an archived thread changes nothing."""
        row = await self._row(session, space_id, thread_id)
        if row.status != "archived":
            now = utcnow()
            self._set_status(row, "archived", now)
            row.updated_at = now
            await session.flush()
        return Thread.model_validate(row)

    @staticmethod
    def _set_status(row: ThreadRow, status: str, now: datetime) -> None:
        # Entering `archived` stamps archived_at; leaving it, for any status, clears it.
        if status == "archived" and row.status != "archived":
            row.archived_at = now
        elif status != "archived":
            row.archived_at = None
        row.status = status

    async def page(
        self,
        session: AsyncSession,
        space_id: str,
        *,
        status: StatusFilter | None,
        sort: ThreadSort,
        order: Order,
        after: Sequence[str] | None,
        limit: int,
    ) -> tuple[list[Thread], bool]:
        if status is None:
            statuses: Sequence[str] = DEFAULT_STATUSES
        elif status == "all":
            statuses = ("open", "locked", "archived")
        else:
            statuses = (status,)
        position = None if after is None else [datetime.fromisoformat(after[0]), after[1]]
        rows = await repository.page(
            session,
            space_id,
            statuses=statuses,
            sort=sort,
            order=order,
            after=position,
            limit=limit,
        )
        return [Thread.model_validate(r) for r in rows[:limit]], len(rows) > limit

    @staticmethod
    def position_of(thread: Thread, sort: ThreadSort) -> list[str]:
        return [format_timestamp(getattr(thread, sort)), thread.id]

    async def create_with_message(
        self, session: AsyncSession, space_id: str, body: ThreadWithMessageCreate
    ) -> Created:
        now = utcnow()
        thread = ThreadRow(
            id=new_id("thr"),
            space_id=space_id,
            title=body.title if body.title is not None else default_title(body.content),
            status="open",
            metadata_=body.thread_metadata,
            message_count=1,
            last_message_at=now,
            created_at=now,
            updated_at=now,
            archived_at=None,
        )
        await repository.add(session, thread)
        message = MessageRow(
            id=new_id("msg"),
            space_id=space_id,
            thread_id=thread.id,
            seq=1,
            author=body.author,
            content=body.content,
            metadata_=body.metadata,
            created_at=now,
        )
        await message_repository.add(session, message)
        result = ThreadWithMessage(
            thread=Thread.model_validate(thread), message=Message.model_validate(message)
        )
        return Created(result, f"/v1/spaces/{space_id}/threads/{thread.id}")


thread = ThreadService()
