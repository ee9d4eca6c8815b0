"""Threads: listing, reading, merge-patching, archiving. Starting one with its first message
writes a message: that is message/service.py's `start_thread`."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from threads_api.event.service import event as event_service
from threads_api.kit.etag import check_if_match, etag_of
from threads_api.kit.ids import is_valid_id
from threads_api.kit.pagination import Order
from threads_api.kit.schemas import json_bytes, merge_metadata, utcnow
from threads_api.models import Thread as ThreadRow
from threads_api.reads import Reads
from threads_api.space.service import check_merged_metadata
from threads_api.thread import repository
from threads_api.thread.errors import ThreadNotFound
from threads_api.thread.schemas import (
    DEFAULT_STATUSES,
    THREAD_STATUSES,
    StatusFilter,
    Thread,
    ThreadSort,
    ThreadStatus,
    ThreadUpdate,
    thread_json,
)

TITLE_LENGTH = 100


def default_title(content: str) -> str:
    """The first non-blank line of `content`, trimmed, cut to 100 characters with `…`."""
    line = next(line.strip() for line in content.splitlines() if line.strip())
    return line if len(line) <= TITLE_LENGTH else line[: TITLE_LENGTH - 1] + "…"


class ThreadService:
    async def read_json(self, reads: Reads, space_id: str, thread_id: str) -> bytes:
        """The thread as its response body, read on a plain connection (issue 11)."""
        rows = []
        if is_valid_id("thr", thread_id):
            rows = await reads.run(repository.read_plain, space_id, thread_id)
        if not rows:
            raise ThreadNotFound()
        return json_bytes(thread_json(rows[0]))

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
        check_if_match(if_match, etag_of(Thread.model_validate(row)), what="thread")
        title = row.title if patch.title is None else patch.title
        status = row.status if patch.status is None else patch.status
        metadata = row.metadata_
        if "metadata" in patch.model_fields_set:
            metadata = merge_metadata(row.metadata_, patch.metadata)
            check_merged_metadata(metadata)
        if (title, status, metadata) == (row.title, row.status, row.metadata_):
            # A patch to the same values changes nothing: not updated_at, not the ETag (§5).
            return Thread.model_validate(row)
        now = utcnow()
        row.title, row.metadata_ = title, metadata
        self._set_status(row, status, now)
        row.updated_at = now
        await session.flush()
        changed = Thread.model_validate(row)
        await event_service.append(
            session, "thread.updated", changed, space_id=space_id, thread_id=row.id
        )
        return changed

    async def archive(
        self, session: AsyncSession, space_id: str, thread_id: str, *, if_match: str | None
    ) -> Thread:
        """Archive the thread; archiving an archived thread changes nothing."""
        row = await self._row(session, space_id, thread_id)
        check_if_match(if_match, etag_of(Thread.model_validate(row)), what="thread")
        if row.status == "archived":
            return Thread.model_validate(row)
        now = utcnow()
        self._set_status(row, "archived", now)
        row.updated_at = now
        await session.flush()
        archived = Thread.model_validate(row)
        await event_service.append(
            session, "thread.updated", archived, space_id=space_id, thread_id=row.id
        )
        return archived

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
        reads: Reads,
        space_id: str,
        *,
        status: StatusFilter | None,
        sort: ThreadSort,
        order: Order,
        after: Sequence[str] | None,
        limit: int,
    ) -> tuple[list[dict[str, Any]], bool]:
        """A page of the space's threads, rendered (`thread_json`), and whether more follow."""
        if status is None:
            statuses: Sequence[ThreadStatus] = DEFAULT_STATUSES
        elif status == "all":
            statuses = THREAD_STATUSES
        else:
            statuses = (status,)
        rows = await reads.run(
            repository.page,
            space_id,
            statuses=statuses,
            sort=sort,
            order=order,
            after=after,
            limit=limit,
        )
        return [thread_json(row) for row in rows[:limit]], len(rows) > limit

    @staticmethod
    def position_of(thread: dict[str, Any], sort: ThreadSort) -> list[str]:
        """Where a rendered thread sits in its list: what its cursor holds."""
        return [thread[sort], thread["id"]]


thread = ThreadService()
