"""client.spaces: create (admin), list, retrieve, update (admin). Spaces are never deleted."""

from threads_api_client._base_client import RequestOptions, request_options
from threads_api_client._models import Space
from threads_api_client._operations import CREATE_SPACE, LIST_SPACES, RETRIEVE_SPACE, UPDATE_SPACE
from threads_api_client._pagination import AsyncPager, Page, SyncPager
from threads_api_client._types import NOT_GIVEN, Metadata, MetadataPatch, NotGiven
from threads_api_client.resources._resource import AsyncAPIResource, SyncAPIResource, body


def _create(name: str, metadata: Metadata | None, idempotency_key: str | None) -> RequestOptions:
    return request_options(
        CREATE_SPACE,
        body=body(name=name, metadata=NOT_GIVEN if metadata is None else metadata),
        idempotency_key=idempotency_key,
    )


def _list(limit: int | None, cursor: str | None) -> RequestOptions:
    return request_options(LIST_SPACES, query={"limit": limit, "cursor": cursor})


def _update(
    space_id: str, name: str | NotGiven, metadata: MetadataPatch | NotGiven | None
) -> RequestOptions:
    return request_options(
        UPDATE_SPACE, {"space_id": space_id}, body=body(name=name, metadata=metadata)
    )


class Spaces(SyncAPIResource):
    def create(
        self, *, name: str, metadata: Metadata | None = None, idempotency_key: str | None = None
    ) -> Space:
        """Create a space (admin keys only)."""
        return self._client._object(Space, _create(name, metadata, idempotency_key))

    def list(self, *, limit: int | None = None, cursor: str | None = None) -> SyncPager[Space]:
        """Every space the key can see, in creation order; `limit` is the page size."""

        def fetch(page_cursor: str | None) -> Page[Space]:
            return self._client._page(Space, _list(limit, page_cursor))

        return SyncPager(fetch, cursor)

    def retrieve(self, space_id: str) -> Space:
        return self._client._object(Space, request_options(RETRIEVE_SPACE, {"space_id": space_id}))

    def update(
        self,
        space_id: str,
        *,
        name: str | NotGiven = NOT_GIVEN,
        metadata: MetadataPatch | NotGiven | None = NOT_GIVEN,
    ) -> Space:
        """A merge patch (admin keys only): `metadata` merges key by key, a key set to None is
        removed, and `metadata=None` removes them all."""
        return self._client._object(Space, _update(space_id, name, metadata))


class AsyncSpaces(AsyncAPIResource):
    async def create(
        self, *, name: str, metadata: Metadata | None = None, idempotency_key: str | None = None
    ) -> Space:
        """Create a space (admin keys only)."""
        return await self._client._object(Space, _create(name, metadata, idempotency_key))

    def list(self, *, limit: int | None = None, cursor: str | None = None) -> AsyncPager[Space]:
        """Every space the key can see, in creation order; `limit` is the page size."""

        async def fetch(page_cursor: str | None) -> Page[Space]:
            return await self._client._page(Space, _list(limit, page_cursor))

        return AsyncPager(fetch, cursor)

    async def retrieve(self, space_id: str) -> Space:
        return await self._client._object(
            Space, request_options(RETRIEVE_SPACE, {"space_id": space_id})
        )

    async def update(
        self,
        space_id: str,
        *,
        name: str | NotGiven = NOT_GIVEN,
        metadata: MetadataPatch | NotGiven | None = NOT_GIVEN,
    ) -> Space:
        """A merge patch (admin keys only): `metadata` merges key by key, a key set to None is
        removed, and `metadata=None` removes them all."""
        return await self._client._object(Space, _update(space_id, name, metadata))
