"""client.messages: create, list, retrieve, update, erase, list_versions."""

from threads_api_client._base_client import QueryValue, RequestOptions, request_options
from threads_api_client._models import Message, MessageVersion
from threads_api_client._operations import (
    CREATE_MESSAGE,
    ERASE_MESSAGE,
    LIST_MESSAGE_VERSIONS,
    LIST_MESSAGES,
    RETRIEVE_MESSAGE,
    UPDATE_MESSAGE,
)
from threads_api_client._pagination import AsyncPager, Page, SyncPager
from threads_api_client._types import NOT_GIVEN, Metadata, MetadataPatch, NotGiven, Order
from threads_api_client.resources._resource import AsyncAPIResource, SyncAPIResource, body


def _thread(space_id: str, thread_id: str) -> dict[str, str]:
    return {"space_id": space_id, "thread_id": thread_id}


def _message(space_id: str, thread_id: str, message_id: str) -> dict[str, str]:
    return {"space_id": space_id, "thread_id": thread_id, "message_id": message_id}


def _create(
    space_id: str,
    thread_id: str,
    content: str,
    author: str | None,
    metadata: Metadata | None,
    idempotency_key: str | None,
) -> RequestOptions:
    fields = {"content": content, "author": author, "metadata": metadata}
    return request_options(
        CREATE_MESSAGE,
        _thread(space_id, thread_id),
        body={name: value for name, value in fields.items() if value is not None},
        idempotency_key=idempotency_key,
    )


def _list(
    space_id: str,
    thread_id: str,
    order: Order | None,
    after_seq: int | None,
    limit: int | None,
    cursor: str | None,
    wait: float | None,
) -> RequestOptions:
    query: dict[str, QueryValue] = {
        "order": order,
        "after_seq": after_seq,
        "limit": limit,
        "cursor": cursor,
        "wait": wait,
    }
    return request_options(
        LIST_MESSAGES, _thread(space_id, thread_id), query=query, long_poll_seconds=wait or 0.0
    )


def _update(
    ids: dict[str, str],
    content: str | NotGiven,
    metadata: MetadataPatch | NotGiven | None,
    if_match: str | None,
) -> RequestOptions:
    return request_options(
        UPDATE_MESSAGE,
        ids,
        body=body(content=content, metadata=metadata),
        headers={"If-Match": if_match},
    )


def _versions(ids: dict[str, str], limit: int | None, cursor: str | None) -> RequestOptions:
    return request_options(LIST_MESSAGE_VERSIONS, ids, query={"limit": limit, "cursor": cursor})


class Messages(SyncAPIResource):
    def create(
        self,
        space_id: str,
        thread_id: str,
        *,
        content: str,
        author: str | None = None,
        metadata: Metadata | None = None,
        idempotency_key: str | None = None,
    ) -> Message:
        """Add a message (its `seq` is the next in the thread). Safe to retry: the same call
        never adds two messages. ThreadClosedError if the thread is locked or archived."""
        options = _create(space_id, thread_id, content, author, metadata, idempotency_key)
        return self._client._object(Message, options)

    def list(
        self,
        space_id: str,
        thread_id: str,
        *,
        order: Order | None = None,
        after_seq: int | None = None,
        limit: int | None = None,
        cursor: str | None = None,
        wait: float | None = None,
    ) -> SyncPager[Message]:
        """The thread's messages, oldest first (`order="desc"`: newest first). `after_seq=N`:
        only those with a greater `seq`, which is how to poll for new ones. `wait=S` (up to
        30 s) long-polls: an empty first page is held until a message matches, or S pass."""

        def fetch(page_cursor: str | None) -> Page[Message]:
            options = _list(space_id, thread_id, order, after_seq, limit, page_cursor, wait)
            return self._client._page(Message, options)

        return SyncPager(fetch, cursor)

    def retrieve(self, space_id: str, thread_id: str, message_id: str) -> Message:
        ids = _message(space_id, thread_id, message_id)
        return self._client._object(Message, request_options(RETRIEVE_MESSAGE, ids))

    def update(
        self,
        space_id: str,
        thread_id: str,
        message_id: str,
        *,
        content: str | NotGiven = NOT_GIVEN,
        metadata: MetadataPatch | NotGiven | None = NOT_GIVEN,
        if_match: str | None = None,
    ) -> Message:
        """Edit a message (a merge patch; the old content is kept as a version)."""
        ids = _message(space_id, thread_id, message_id)
        return self._client._object(Message, _update(ids, content, metadata, if_match))

    def erase(
        self, space_id: str, thread_id: str, message_id: str, *, if_match: str | None = None
    ) -> Message:
        """Erase a message for good: the answer is its tombstone (`content` None)."""
        ids = _message(space_id, thread_id, message_id)
        options = request_options(ERASE_MESSAGE, ids, headers={"If-Match": if_match})
        return self._client._object(Message, options)

    def list_versions(
        self,
        space_id: str,
        thread_id: str,
        message_id: str,
        *,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> SyncPager[MessageVersion]:
        """The message's earlier versions, newest first."""
        ids = _message(space_id, thread_id, message_id)

        def fetch(page_cursor: str | None) -> Page[MessageVersion]:
            return self._client._page(MessageVersion, _versions(ids, limit, page_cursor))

        return SyncPager(fetch, cursor)


class AsyncMessages(AsyncAPIResource):
    async def create(
        self,
        space_id: str,
        thread_id: str,
        *,
        content: str,
        author: str | None = None,
        metadata: Metadata | None = None,
        idempotency_key: str | None = None,
    ) -> Message:
        """Add a message; safe to retry (see ThreadsClient.messages.create)."""
        options = _create(space_id, thread_id, content, author, metadata, idempotency_key)
        return await self._client._object(Message, options)

    def list(
        self,
        space_id: str,
        thread_id: str,
        *,
        order: Order | None = None,
        after_seq: int | None = None,
        limit: int | None = None,
        cursor: str | None = None,
        wait: float | None = None,
    ) -> AsyncPager[Message]:
        """The thread's messages, oldest first; `async for` over it."""

        async def fetch(page_cursor: str | None) -> Page[Message]:
            options = _list(space_id, thread_id, order, after_seq, limit, page_cursor, wait)
            return await self._client._page(Message, options)

        return AsyncPager(fetch, cursor)

    async def retrieve(self, space_id: str, thread_id: str, message_id: str) -> Message:
        ids = _message(space_id, thread_id, message_id)
        return await self._client._object(Message, request_options(RETRIEVE_MESSAGE, ids))

    async def update(
        self,
        space_id: str,
        thread_id: str,
        message_id: str,
        *,
        content: str | NotGiven = NOT_GIVEN,
        metadata: MetadataPatch | NotGiven | None = NOT_GIVEN,
        if_match: str | None = None,
    ) -> Message:
        ids = _message(space_id, thread_id, message_id)
        return await self._client._object(Message, _update(ids, content, metadata, if_match))

    async def erase(
        self, space_id: str, thread_id: str, message_id: str, *, if_match: str | None = None
    ) -> Message:
        ids = _message(space_id, thread_id, message_id)
        options = request_options(ERASE_MESSAGE, ids, headers={"If-Match": if_match})
        return await self._client._object(Message, options)

    def list_versions(
        self,
        space_id: str,
        thread_id: str,
        message_id: str,
        *,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> AsyncPager[MessageVersion]:
        ids = _message(space_id, thread_id, message_id)

        async def fetch(page_cursor: str | None) -> Page[MessageVersion]:
            return await self._client._page(MessageVersion, _versions(ids, limit, page_cursor))

        return AsyncPager(fetch, cursor)
