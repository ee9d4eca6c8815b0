"""Messages: listing, reading, adding them to open threads (or starting a thread with its
first one), editing and erasing them."""

import json
from collections.abc import Collection
from datetime import timedelta
from typing import Any

from sqlalchemy import Row, RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from threads_api.event import repository as event_repository
from threads_api.event.service import event as event_service
from threads_api.idempotency import repository as idempotency_repository
from threads_api.idempotency.service import Created
from threads_api.kit.etag import check_if_match, etag_of
from threads_api.kit.ids import is_valid_id, new_id
from threads_api.kit.pagination import Order
from threads_api.kit.schemas import format_timestamp, json_bytes, merge_metadata, utcnow
from threads_api.message import repository
from threads_api.message.errors import MessageDeleted, MessageNotFound
from threads_api.message.schemas import (
    Message,
    MessageCreate,
    MessageUpdate,
    MessageVersion,
    ThreadWithMessageCreate,
    message_json,
)
from threads_api.reads import Reads, Unit
from threads_api.space.service import check_merged_metadata
from threads_api.thread import repository as thread_repository
from threads_api.thread.errors import ThreadClosed, ThreadNotFound
from threads_api.thread.schemas import PREVIEW_LENGTH, Thread, preview_of, thread_json
from threads_api.thread.service import default_title

# What a thread is titled once the message its title was derived from is erased.
ERASED_TITLE = "Untitled"
# The idempotency record that stored a message was claimed in the transaction that created
# it, shortly before the message's created_at (ADR 0007); the margins are generous.
_RECORD_BEFORE = timedelta(minutes=10)
_RECORD_AFTER = timedelta(minutes=1)


class MessageService:
    def create(self, space_id: str, thread_id: str, body: MessageCreate) -> Unit[Created]:
        """Append a message: a write unit (writes.py). Its seq comes from the thread row's
        counter, bumped in the same transaction, so seqs stay dense under any number of
        writers (ADR 0001)."""
        if not is_valid_id("thr", thread_id):
            raise ThreadNotFound()
        message_id = new_id("msg")
        counted = yield from thread_repository.count_message(
            space_id,
            thread_id,
            format_timestamp(utcnow()),
            message_id=message_id,
            author=body.author,
            preview=preview_of(body.content),
        )
        if counted is None:
            status = yield from thread_repository.status(space_id, thread_id)
            if status is None:
                raise ThreadNotFound()
            raise ThreadClosed(f"The thread is {status}; it accepts no new messages.")
        seq, now = counted
        row = _message_row(message_id, space_id, thread_id, seq, body, now)
        data = json_bytes(message_json(row))
        yield from event_repository.append_plain(
            space_id,
            "message.created",
            thread_id,
            message_id,
            now,
            data.decode(),
            with_write=repository.new_message(row),
        )
        location = f"/v1/spaces/{space_id}/threads/{thread_id}/messages/{message_id}"
        return Created(data, location)

    def start_thread(self, space_id: str, body: ThreadWithMessageCreate) -> Unit[Created]:
        """A new thread with its first message, written together: a write unit (writes.py)."""
        now = format_timestamp(utcnow())
        thread_id, message_id = new_id("thr"), new_id("msg")
        title = body.title if body.title is not None else default_title(body.content)
        metadata = json.dumps(body.thread_metadata)
        author, preview = body.author, preview_of(body.content)
        thread_row = (
            *(thread_id, space_id, title, "open", metadata, 1, now, now, now, None),
            *(message_id, 1, author, preview, now),
        )
        message_row = _message_row(message_id, space_id, thread_id, 1, body, now)
        thread, message = thread_json(thread_row), message_json(message_row)
        yield from event_repository.append_plain(
            space_id,
            "thread.created",
            thread_id,
            None,
            now,
            json_bytes(thread).decode(),
            with_write=thread_repository.new_thread(thread_row),
        )
        yield from event_repository.append_plain(
            space_id,
            "message.created",
            thread_id,
            message_id,
            now,
            json_bytes(message).decode(),
            with_write=repository.new_message(message_row),
        )
        created = {"object": "thread_with_message", "thread": thread, "message": message}
        return Created(json_bytes(created), f"/v1/spaces/{space_id}/threads/{thread_id}")

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
        reads: Reads,
        space_id: str,
        thread_id: str,
        *,
        after_seq: int | None,
        order: Order,
        after: int | None,
        limit: int,
    ) -> tuple[list[dict[str, Any]], bool]:
        """A page of the thread's messages, rendered (`message_json`), and whether more
        follow."""
        rows = None
        if is_valid_id("thr", thread_id):
            rows = await reads.run(
                repository.page,
                space_id,
                thread_id,
                after_seq=after_seq,
                order=order,
                after=after,
                limit=limit,
            )
        if rows is None:
            raise ThreadNotFound()
        return [message_json(row) for row in rows[:limit]], len(rows) > limit

    async def update(
        self,
        session: AsyncSession,
        space_id: str,
        thread_id: str,
        message_id: str,
        patch: MessageUpdate,
        *,
        if_match: str | None,
    ) -> Message:
        """Merge-patch content and metadata; the version it replaces is kept. A patch to the
        same values changes nothing: not the version, not the ETag."""
        thread, row = await self._lock(session, space_id, thread_id, message_id)
        current = Message.model_validate(row)
        check_if_match(if_match, etag_of(current), what="message")
        if row.deleted_at is not None:
            raise MessageDeleted()
        if thread.status != "open":
            raise ThreadClosed(f"The thread is {thread.status}; its messages cannot be edited.")
        content: str = row.content if patch.content is None else patch.content
        metadata: dict[str, str] = row.metadata
        if "metadata" in patch.model_fields_set:
            metadata = merge_metadata(row.metadata, patch.metadata)
            check_merged_metadata(metadata)
        if (content, metadata) == (row.content, row.metadata):
            return current
        now = utcnow()
        await repository.add_version(
            session, row.id, row.version, row.content, row.metadata, row.edited_at or row.created_at
        )
        changes = {"content": content, "metadata": metadata, "version": row.version + 1}
        await repository.change(session, row.id, {**changes, "edited_at": now})
        edited = current.model_copy(update={**changes, "edited_at": now})
        if thread.last_message_id == row.id:
            preview = {"last_message_preview": preview_of(content)}
            await thread_repository.change(
                session, thread.id, {**preview, "updated_at": max(now, thread.updated_at)}
            )
        await self._rewrite_stored_responses(session, edited, erased_titles=())
        await event_service.append(
            session,
            "message.updated",
            edited,
            space_id=space_id,
            thread_id=thread.id,
            message_id=row.id,
        )
        return edited

    async def erase(
        self,
        session: AsyncSession,
        space_id: str,
        thread_id: str,
        message_id: str,
        *,
        if_match: str | None,
    ) -> Message:
        """Erase a message, whatever the thread's status: it becomes a tombstone, and every
        stored copy of its content goes in the same transaction (ADR 0007). Erasing a
        tombstone changes nothing."""
        thread, row = await self._lock(session, space_id, thread_id, message_id)
        current = Message.model_validate(row)
        check_if_match(if_match, etag_of(current), what="message")
        if row.deleted_at is not None:
            return current
        now = utcnow()
        contents = [row.content, *await repository.version_contents(session, row.id)]
        await repository.delete_versions(session, row.id)
        erased: dict[str, Any] = {"content": None, "metadata": {}, "deleted_at": now}
        await repository.change(session, row.id, erased)
        tombstone = current.model_copy(update=erased)

        titles = {default_title(c) for c in contents if c.strip()}
        changes: dict[str, Any] = {}
        if thread.last_message_id == row.id:
            changes = _last_message_columns(
                await repository.latest_live(session, thread.id, PREVIEW_LENGTH)
            )
        if thread.title in titles:
            changes["title"] = ERASED_TITLE
        if changes:
            changes["updated_at"] = max(now, thread.updated_at)
            await thread_repository.change(session, thread.id, changes)
        await self._rewrite_stored_responses(session, tombstone, erased_titles=titles)
        await event_service.erase_message(
            session,
            thread.id,
            tombstone,
            message_id=row.id,
            erased_titles=titles,
            title_after=ERASED_TITLE,
        )
        ids = {"space_id": space_id, "thread_id": thread.id}
        await event_service.append(session, "message.deleted", tombstone, message_id=row.id, **ids)
        if "title" in changes:
            # The title changed with the erasure; the last message alone would not count.
            retitled = await thread_repository.read(session, space_id, thread.id)
            await event_service.append(
                session, "thread.updated", Thread.model_validate(retitled), **ids
            )
        return tombstone

    async def versions(
        self,
        session: AsyncSession,
        space_id: str,
        thread_id: str,
        message_id: str,
        *,
        after: int | None,
        limit: int,
    ) -> tuple[list[MessageVersion], bool]:
        """Earlier versions of a message, newest first; none for a tombstone."""
        await self.get(session, space_id, thread_id, message_id)
        rows = await repository.versions_page(session, message_id, after=after, limit=limit)
        return [MessageVersion.model_validate(r) for r in rows[:limit]], len(rows) > limit

    async def _lock(
        self, session: AsyncSession, space_id: str, thread_id: str, message_id: str
    ) -> tuple[Row[Any], Row[Any]]:
        """The thread, locked (the order every writer takes: thread, then its messages), and
        the message."""
        if not is_valid_id("thr", thread_id) or not is_valid_id("msg", message_id):
            raise MessageNotFound()
        thread = await thread_repository.lock(session, space_id, thread_id)
        row = None
        if thread is not None:
            row = await repository.get(session, space_id, thread_id, message_id)
        if thread is None or row is None:
            raise MessageNotFound()
        return thread, row

    async def _rewrite_stored_responses(
        self, session: AsyncSession, message: Message, *, erased_titles: Collection[str]
    ) -> None:
        """Bring the stored response of the request that created `message` up to date, so
        that a replay shows the message as it is now (contract §8): never erased content."""
        found = await idempotency_repository.records_mentioning(
            session,
            message.id,
            since=message.created_at - _RECORD_BEFORE,
            until=message.created_at + _RECORD_AFTER,
        )
        for api_key_id, key, body in found:
            rewritten = _rewritten(body, message, erased_titles)
            if rewritten is not None and rewritten != body:
                await idempotency_repository.replace_body(session, api_key_id, key, rewritten)


def _message_row(
    message_id: str,
    space_id: str,
    thread_id: str,
    seq: int,
    body: MessageCreate | ThreadWithMessageCreate,
    now: str,
) -> tuple[Any, ...]:
    """A message as created (version 1, never edited, not erased), in the order of the
    columns `message_json` renders and `repository.add` writes."""
    metadata = json.dumps(body.metadata)
    row = (message_id, space_id, thread_id, seq, body.author, body.content, metadata, 1, now)
    return (*row, None, None)


def _last_message_columns(latest: RowMapping | None) -> dict[str, Any]:
    """The thread's `last_message_*` columns for its newest message that is not erased."""
    names = ("id", "seq", "author", "preview", "created_at")
    return {f"last_message_{n}": None if latest is None else latest[n] for n in names}


def _rewritten(body: bytes, message: Message, erased_titles: Collection[str]) -> bytes | None:
    """A stored body of a message create or a thread create, showing `message` as it is now;
    None for a body that holds it in no shape we wrote."""
    try:
        stored = json.loads(body)
    except ValueError:
        return None
    if not isinstance(stored, dict):
        return None
    if stored.get("object") == "message" and stored.get("id") == message.id:
        return message.model_dump_json().encode()
    inner, thread = stored.get("message"), stored.get("thread")
    if not (
        stored.get("object") == "thread_with_message"
        and isinstance(inner, dict)
        and inner.get("id") == message.id
        and isinstance(thread, dict)
    ):
        return None
    stored["message"] = message.model_dump(mode="json")
    last = thread.get("last_message")
    if isinstance(last, dict) and last.get("id") == message.id:
        # As the thread was then: this message was its only one.
        thread["last_message"] = (
            None if message.content is None else {**last, "preview": preview_of(message.content)}
        )
    if thread.get("title") in erased_titles:
        thread["title"] = ERASED_TITLE
    return json.dumps(stored, ensure_ascii=False, separators=(",", ":")).encode()


message = MessageService()
