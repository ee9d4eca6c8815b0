"""client.api_keys (admin keys only): create, list, retrieve, revoke."""

from collections.abc import Sequence

import httpx

from threads_api_client._base_client import RequestOptions, request_options
from threads_api_client._exceptions import ApiKeySecretUnavailableError
from threads_api_client._models import ApiKey, ApiKeyWithSecret, ResponseInfo, with_response
from threads_api_client._operations import (
    CREATE_API_KEY,
    LIST_API_KEYS,
    RETRIEVE_API_KEY,
    REVOKE_API_KEY,
)
from threads_api_client._pagination import AsyncPager, Page, SyncPager
from threads_api_client._types import Scope
from threads_api_client.resources._resource import AsyncAPIResource, SyncAPIResource


def _create(
    name: str, scopes: Sequence[Scope], space_ids: Sequence[str], idempotency_key: str | None
) -> RequestOptions:
    return request_options(
        CREATE_API_KEY,
        body={"name": name, "scopes": list(scopes), "space_ids": list(space_ids)},
        idempotency_key=idempotency_key,
    )


def _created(response: httpx.Response, info: ResponseInfo) -> ApiKeyWithSecret:
    """The new key with its secret; ApiKeySecretUnavailableError when the answer is a replay,
    which never holds the secret (it is shown once and never stored)."""
    payload = response.json()
    if isinstance(payload, dict) and payload.get("secret") is None:
        key = ApiKey.model_validate(payload)
        with_response(key, info)
        raise ApiKeySecretUnavailableError(key, request_id=info.request_id, response=response)
    created = ApiKeyWithSecret.model_validate(payload)
    with_response(created, info)
    return created


def _list(limit: int | None, cursor: str | None) -> RequestOptions:
    return request_options(LIST_API_KEYS, query={"limit": limit, "cursor": cursor})


class ApiKeys(SyncAPIResource):
    def create(
        self,
        *,
        name: str,
        scopes: Sequence[Scope],
        space_ids: Sequence[str] = (),
        idempotency_key: str | None = None,
    ) -> ApiKeyWithSecret:
        """Create a key; its `secret` is in this answer only. `space_ids` is required unless
        `"admin"` is among the scopes (and must then be empty). If the answer is lost and the
        retry gets the stored reply, ApiKeySecretUnavailableError (a SecretUnavailableError)
        tells which key to revoke."""
        response, info = self._client._send(_create(name, scopes, space_ids, idempotency_key))
        return _created(response, info)

    def list(self, *, limit: int | None = None, cursor: str | None = None) -> SyncPager[ApiKey]:
        """Every key, revoked ones included, in creation order."""

        def fetch(page_cursor: str | None) -> Page[ApiKey]:
            return self._client._page(ApiKey, _list(limit, page_cursor))

        return SyncPager(fetch, cursor)

    def retrieve(self, key_id: str) -> ApiKey:
        return self._client._object(ApiKey, request_options(RETRIEVE_API_KEY, {"key_id": key_id}))

    def revoke(self, key_id: str) -> ApiKey:
        """Revoke a key (at once; revoking a revoked key changes nothing). Keys are never
        deleted."""
        return self._client._object(ApiKey, request_options(REVOKE_API_KEY, {"key_id": key_id}))


class AsyncApiKeys(AsyncAPIResource):
    async def create(
        self,
        *,
        name: str,
        scopes: Sequence[Scope],
        space_ids: Sequence[str] = (),
        idempotency_key: str | None = None,
    ) -> ApiKeyWithSecret:
        """Create a key; see ThreadsClient.api_keys.create."""
        options = _create(name, scopes, space_ids, idempotency_key)
        response, info = await self._client._send(options)
        return _created(response, info)

    def list(self, *, limit: int | None = None, cursor: str | None = None) -> AsyncPager[ApiKey]:
        async def fetch(page_cursor: str | None) -> Page[ApiKey]:
            return await self._client._page(ApiKey, _list(limit, page_cursor))

        return AsyncPager(fetch, cursor)

    async def retrieve(self, key_id: str) -> ApiKey:
        options = request_options(RETRIEVE_API_KEY, {"key_id": key_id})
        return await self._client._object(ApiKey, options)

    async def revoke(self, key_id: str) -> ApiKey:
        options = request_options(REVOKE_API_KEY, {"key_id": key_id})
        return await self._client._object(ApiKey, options)
