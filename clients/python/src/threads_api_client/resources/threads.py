"""client.threads: create_with_message, list, retrieve, update, archive."""

from threads_api_client._base_client import RequestOptions, request_options
from threads_api_client._models import Thread, ThreadWithMessage
from threads_api_client._operations import (
    ARCHIVE_THREAD,
    CREATE_THREAD_WITH_MESSAGE,
    LIST_THREADS,
    RETRIEVE_THREAD,
    UPDATE_THREAD,
)
from threads_api_client._pagination import AsyncPager, Page, SyncPager
from threads_api_client._types import (
    NOT_GIVEN,
    Metadata,
    MetadataPatch,
    NotGiven,
    Order,
    ThreadListStatus,
    ThreadSort,
    ThreadStatus,
)
from threads_api_client.resources._resource import AsyncAPIResource, SyncAPIResource, body


def _create(
    space_id: str,
    content: str,
    author: str | None,
    metadata: Metadata | None,
    title: str | None,
    thread_metadata: Metadata | None,
    idempotency_key: str | None,
) -> RequestOptions:
    fields = {
        "content": content,
        "author": author,
        "metadata": metadata,
        "title": title,
        "thread_metadata": thread_metadata,
    }
    return request_options(
        CREATE_THREAD_WITH_MESSAGE,
        {"space_id": space_id},
        body={name: value for name, value in fields.items() if value is not None},
        idempotency_key=idempotency_key,
    )


def _list(
    space_id: str,
    status: ThreadListStatus | None,
    sort: ThreadSort | None,
    order: Order | None,
    limit: int | None,
    cursor: str | None,
) -> RequestOptions:
    query = {"status": status, "sort": sort, "order": order, "limit": limit, "cursor": cursor}
    return request_options(LIST_THREADS, {"space_id": space_id}, query=query)


def _ids(space_id: str, thread_id: str) -> dict[str, str]:
    return {"space_id": space_id, "thread_id": thread_id}


def _update(
    space_id: str,
    thread_id: str,
    title: str | NotGiven,
    status: ThreadStatus | NotGiven,
    metadata: MetadataPatch | NotGiven | None,
    if_match: str | None,
) -> RequestOptions:
    return request_options(
        UPDATE_THREAD,
        _ids(space_id, thread_id),
        body=body(title=title, status=status, metadata=metadata),
        headers={"If-Match": if_match},
    )


def _archive(space_id: str, thread_id: str, if_match: str | None) -> RequestOptions:
    return request_options(
        ARCHIVE_THREAD, _ids(space_id, thread_id), headers={"If-Match": if_match}
    )


class Threads(SyncAPIResource):
    def create_with_message(
        self,
        space_id: str,
        *,
        content: str,
        author: str | None = None,
        metadata: Metadata | None = None,
        title: str | None = None,
        thread_metadata: Metadata | None = None,
        idempotency_key: str | None = None,
    ) -> ThreadWithMessage:
        """Start a thread with its first message (`.thread`, `.message`). `metadata` is the
        message's, `thread_metadata` the thread's; `title` defaults to the content's first
        line. Safe to retry: the same call never creates two threads."""
        options = _create(
            space_id, content, author, metadata, title, thread_metadata, idempotency_key
        )
        return self._client._object(ThreadWithMessage, options)

    def list(
        self,
        space_id: str,
        *,
        status: ThreadListStatus | None = None,
        sort: ThreadSort | None = None,
        order: Order | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> SyncPager[Thread]:
        """The space's threads, most recently active first unless `sort`/`order` say
        otherwise; archived ones only with `status="archived"` or `"all"`."""

        def fetch(page_cursor: str | None) -> Page[Thread]:
            options = _list(space_id, status, sort, order, limit, page_cursor)
            return self._client._page(Thread, options)

        return SyncPager(fetch, cursor)

    def retrieve(self, space_id: str, thread_id: str) -> Thread:
        """The thread; its `etag` is for `update(..., if_match=)` and `archive(..., if_match=)`."""
        return self._client._object(
            Thread, request_options(RETRIEVE_THREAD, _ids(space_id, thread_id))
        )

    def update(
        self,
        space_id: str,
        thread_id: str,
        *,
        title: str | NotGiven = NOT_GIVEN,
        status: ThreadStatus | NotGiven = NOT_GIVEN,
        metadata: MetadataPatch | NotGiven | None = NOT_GIVEN,
        if_match: str | None = None,
    ) -> Thread:
        """A merge patch: fields not given stay as they are; `metadata` merges key by key (a
        key set to None is removed; `metadata=None` removes all). `status="open"` restores an
        archived thread. With `if_match=<etag>`, PreconditionFailedError if the thread changed."""
        options = _update(space_id, thread_id, title, status, metadata, if_match)
        return self._client._object(Thread, options)

    def archive(self, space_id: str, thread_id: str, *, if_match: str | None = None) -> Thread:
        """Archive the thread (nothing is destroyed; `update(status="open")` restores it)."""
        return self._client._object(Thread, _archive(space_id, thread_id, if_match))


class AsyncThreads(AsyncAPIResource):
    async def create_with_message(
        self,
        space_id: str,
        *,
        content: str,
        author: str | None = None,
        metadata: Metadata | None = None,
        title: str | None = None,
        thread_metadata: Metadata | None = None,
        idempotency_key: str | None = None,
    ) -> ThreadWithMessage:
        """Start a thread with its first message (`.thread`, `.message`); see ThreadsClient."""
        options = _create(
            space_id, content, author, metadata, title, thread_metadata, idempotency_key
        )
        return await self._client._object(ThreadWithMessage, options)

    def list(
        self,
        space_id: str,
        *,
        status: ThreadListStatus | None = None,
        sort: ThreadSort | None = None,
        order: Order | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> AsyncPager[Thread]:
        """The space's threads, most recently active first; `async for` over it."""

        async def fetch(page_cursor: str | None) -> Page[Thread]:
            options = _list(space_id, status, sort, order, limit, page_cursor)
            return await self._client._page(Thread, options)

        return AsyncPager(fetch, cursor)

    async def retrieve(self, space_id: str, thread_id: str) -> Thread:
        return await self._client._object(
            Thread, request_options(RETRIEVE_THREAD, _ids(space_id, thread_id))
        )

    async def update(
        self,
        space_id: str,
        thread_id: str,
        *,
        title: str | NotGiven = NOT_GIVEN,
        status: ThreadStatus | NotGiven = NOT_GIVEN,
        metadata: MetadataPatch | NotGiven | None = NOT_GIVEN,
        if_match: str | None = None,
    ) -> Thread:
        """A merge patch; see ThreadsClient.threads.update."""
        options = _update(space_id, thread_id, title, status, metadata, if_match)
        return await self._client._object(Thread, options)

    async def archive(
        self, space_id: str, thread_id: str, *, if_match: str | None = None
    ) -> Thread:
        return await self._client._object(Thread, _archive(space_id, thread_id, if_match))
