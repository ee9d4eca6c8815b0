"""Lists: one page (`Page`), and every item across pages (`SyncPager`, `AsyncPager`), fetched
lazily by following `next_cursor`."""

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar, cast

if TYPE_CHECKING:
    from threads_api_client._models import APIObject, Event, ResponseInfo

ItemT = TypeVar("ItemT", bound="APIObject")


@dataclass(frozen=True)
class Page(Generic[ItemT]):
    data: list[ItemT]
    has_more: bool
    # Pass it as `cursor=` to the same list call (same filters) for the next page.
    next_cursor: str | None
    response: "ResponseInfo"

    def __iter__(self) -> Iterator[ItemT]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)


class SyncPager(Generic[ItemT]):
    """Iterate it for every item of the list, page after page (a request per page, made as
    you go). `first_page()` is one page; `pages()` iterates pages."""

    def __init__(self, fetch: Callable[[str | None], Page[ItemT]], cursor: str | None) -> None:
        self._fetch = fetch
        self._cursor = cursor

    def first_page(self) -> Page[ItemT]:
        return self._fetch(self._cursor)

    def pages(self) -> Iterator[Page[ItemT]]:
        cursor = self._cursor
        while True:
            page = self._fetch(cursor)
            yield page
            if not page.has_more or not page.next_cursor:
                return
            cursor = page.next_cursor

    def __iter__(self) -> Iterator[ItemT]:
        for page in self.pages():
            yield from page.data


class AsyncPager(Generic[ItemT]):
    """`async for item in pager` for every item of the list, page after page.
    `await pager.first_page()` is one page; `pager.pages()` iterates pages."""

    def __init__(
        self, fetch: Callable[[str | None], Awaitable[Page[ItemT]]], cursor: str | None
    ) -> None:
        self._fetch = fetch
        self._cursor = cursor

    async def first_page(self) -> Page[ItemT]:
        return await self._fetch(self._cursor)

    async def pages(self) -> AsyncIterator[Page[ItemT]]:
        cursor = self._cursor
        while True:
            page = await self._fetch(cursor)
            yield page
            if not page.has_more or not page.next_cursor:
                return
            cursor = page.next_cursor

    async def _items(self) -> AsyncIterator[ItemT]:
        async for page in self.pages():
            for item in page.data:
                yield item

    def __aiter__(self) -> AsyncIterator[ItemT]:
        return self._items()


@dataclass(frozen=True)
class EventPage(Page["Event"]):
    # The newest position in the space when the page was read: once `has_more` is false,
    # list again with `after=` it for what came since.
    last_position: int


class SyncEventPager(SyncPager["Event"]):
    """A SyncPager whose pages are EventPages; `last_position` is the last fetched page's."""

    last_position: int | None = None

    def first_page(self) -> EventPage:
        return self._seen(super().first_page())

    def pages(self) -> Iterator[EventPage]:
        for page in super().pages():
            yield self._seen(page)

    def _seen(self, page: Page["Event"]) -> EventPage:
        event_page = cast(EventPage, page)  # the fetch of events.list makes EventPages
        self.last_position = event_page.last_position
        return event_page


class AsyncEventPager(AsyncPager["Event"]):
    """An AsyncPager whose pages are EventPages; `last_position` is the last fetched page's."""

    last_position: int | None = None

    async def first_page(self) -> EventPage:
        return self._seen(await super().first_page())

    async def pages(self) -> AsyncIterator[EventPage]:
        async for page in super().pages():
            yield self._seen(page)

    def _seen(self, page: Page["Event"]) -> EventPage:
        event_page = cast(EventPage, page)
        self.last_position = event_page.last_position
        return event_page
